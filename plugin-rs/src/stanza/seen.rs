//! First-seen filters: how an answer drops repeated records.
//!
//! Every answer builder and the zone transfer drop duplicates through
//! [`Seen`], so that the work of an answer stays linear in the records it
//! holds: a filter searching a list would cost the square of them, which
//! for a headless service of 20,000 endpoints is seconds per query.

use std::collections::HashSet;
use std::hash::Hash;

use crate::cluster::seeded::Seeded;

/// Items kept in a list before moving to a hash set: most answers hold one
/// or two records, and comparing a few beats hashing them.
const SMALL: usize = 16;

/// Remembers the items it has seen.
pub struct Seen<T> {
    /// The first item, held without a heap allocation: most answers hold
    /// one record, and under wazero each allocation is a call into the
    /// guest's allocator (BENCHMARKS.md, "The core under wazero").
    one: Option<T>,
    /// The items after the first, up to `SMALL` in all.
    small: Vec<T>,
    /// Keyed with the host's seed: the items come from cluster objects.
    large: Option<HashSet<T, Seeded>>,
    seed: Seeded,
}

impl<T: Hash + Eq> Seen<T> {
    pub fn new(seed: Seeded) -> Seen<T> {
        Seen { one: None, small: Vec::new(), large: None, seed }
    }

    /// Whether `item` is new; remembers it. At most `SMALL` comparisons
    /// or one hash-set insertion per call.
    pub fn first(&mut self, item: T) -> bool {
        if let Some(set) = &mut self.large {
            probed(1);
            return set.insert(item);
        }
        let Some(one) = &self.one else {
            probed(1);
            self.one = Some(item);
            return true;
        };
        probed(1 + self.small.len());
        if *one == item || self.small.contains(&item) {
            return false;
        }
        if self.small.len() + 1 < SMALL {
            self.small.push(item);
        } else {
            let mut set = HashSet::with_capacity_and_hasher(4 * SMALL, self.seed);
            set.extend(self.one.take());
            set.extend(self.small.drain(..));
            set.insert(item);
            self.large = Some(set);
        }
        true
    }
}

#[cfg(test)]
thread_local! {
    static PROBES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts the work of a call, for tests that hold answers to linear work.
#[cfg(test)]
fn probed(n: usize) {
    PROBES.with(|p| p.set(p.get() + n));
}

#[cfg(not(test))]
fn probed(_: usize) {}

/// Items compared or hashed by every `Seen` of this thread since the last
/// call: a deterministic measure of de-duplication work.
#[cfg(test)]
pub fn take_probes() -> usize {
    PROBES.with(|p| p.replace(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_of_each() {
        let mut seen = Seen::new(Seeded::new(1));
        let kept: Vec<u32> = [1, 2, 1, 3, 2].into_iter().filter(|&i| seen.first(i)).collect();
        assert_eq!(kept, [1, 2, 3]);
        // Past the list's size too, and across the move to a set.
        let mut seen = Seen::new(Seeded::new(1));
        let items = (0..100).chain(0..100).chain(100..110);
        assert_eq!(items.filter(|&i| seen.first(i)).count(), 110);
    }

    #[test]
    fn work_is_linear() {
        take_probes();
        let mut seen = Seen::new(Seeded::new(1));
        let n = 20_000;
        for i in 0..n {
            seen.first(i);
            seen.first(i);
        }
        // A list searched whole, as answers once were, would be n^2.
        assert!(take_probes() <= 2 * n + SMALL * SMALL, "not linear");
    }
}
