//! Record types and the one class the core writes.

/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// Declares the record types the core names, each with its number once,
/// and both conversions as matches (each record written converts one).
macro_rules! record_types {
    ($($(#[$doc:meta])* $name:ident = $number:literal,)*) => {
        /// A record type (RFC 1035 §3.2.2 and its successors): the ones the
        /// core reads or writes by name, any other by number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RecordType {
            $($(#[$doc])* $name,)*
            Other(u16),
        }

        impl From<u16> for RecordType {
            fn from(number: u16) -> RecordType {
                match number {
                    $($number => RecordType::$name,)*
                    other => RecordType::Other(other),
                }
            }
        }

        impl From<RecordType> for u16 {
            fn from(rtype: RecordType) -> u16 {
                match rtype {
                    $(RecordType::$name => $number,)*
                    RecordType::Other(number) => number,
                }
            }
        }

        #[cfg(test)]
        const NAMED: &[(RecordType, u16)] = &[$((RecordType::$name, $number),)*];
    };
}

record_types! {
    A = 1,
    Ns = 2,
    Cname = 5,
    Soa = 6,
    Ptr = 12,
    Mx = 15,
    Txt = 16,
    Aaaa = 28,
    Srv = 33,
    Dname = 39,
    Opt = 41,
    Ixfr = 251,
    Axfr = 252,
}

impl RecordType {
    /// A or AAAA.
    pub fn is_address(self) -> bool {
        matches!(self, RecordType::A | RecordType::Aaaa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for (rtype, number) in NAMED {
            assert_eq!(RecordType::from(*number), *rtype);
            assert_eq!(u16::from(*rtype), *number);
        }
        assert_eq!(RecordType::from(99), RecordType::Other(99));
        assert_eq!(u16::from(RecordType::Other(99)), 99);
    }
}
