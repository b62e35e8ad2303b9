//! Sorted sets of a few values, as the index keeps per key: the objects at
//! one address, the slices of one service. Nearly always there is one, so
//! one is held without an allocation.

/// A sorted set of one value or more.
#[derive(Debug, Clone)]
pub enum Few<T> {
    One(T),
    /// Sorted, two or more.
    Many(Vec<T>),
}

impl<T: Ord + Clone> Few<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            Few::One(value) => std::slice::from_ref(value),
            Few::Many(values) => values,
        }
    }

    /// Adds `value` unless it is held already.
    pub fn add(&mut self, value: &T) {
        match self {
            Few::One(held) if held == value => {}
            Few::One(held) => {
                let mut values = vec![held.clone(), value.clone()];
                values.sort();
                *self = Few::Many(values);
            }
            Few::Many(values) => {
                if let Err(at) = values.binary_search(value) {
                    values.insert(at, value.clone());
                }
            }
        }
    }

    /// Takes out the value `matches` finds (which orders values as they
    /// are sorted); returns whether any value is left.
    pub fn remove(&mut self, matches: impl Fn(&T) -> std::cmp::Ordering) -> bool {
        match self {
            Few::One(held) => matches(held).is_ne(),
            Few::Many(values) => {
                if let Ok(at) = values.binary_search_by(matches) {
                    values.remove(at);
                }
                if let [last] = values.as_slice() {
                    *self = Few::One(last.clone());
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_sorted_through_one_and_many() {
        let mut few = Few::One(5);
        for value in [5, 9, 1, 7, 1] {
            few.add(&value);
        }
        assert_eq!(few.as_slice(), [1, 5, 7, 9]);
        for (value, left) in [(7, [1, 5, 9].as_slice()), (3, &[1, 5, 9]), (1, &[5, 9]), (9, &[5])] {
            assert!(few.remove(|v| v.cmp(&value)));
            assert_eq!(few.as_slice(), left);
        }
        assert!(matches!(few, Few::One(5)), "one value is held without a list");
        assert!(few.remove(|v| v.cmp(&6)), "another value leaves it");
        assert!(!few.remove(|v| v.cmp(&5)), "none is left");
    }
}
