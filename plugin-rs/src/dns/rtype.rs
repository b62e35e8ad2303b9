//! Record types and the one class the core writes.

/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// A record type (RFC 1035 §3.2.2 and its successors): the ones the core
/// reads or writes by name, any other by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Ns,
    Cname,
    Soa,
    Ptr,
    Mx,
    Txt,
    Aaaa,
    Srv,
    Dname,
    Opt,
    Ixfr,
    Axfr,
    Other(u16),
}

/// Every named type with its number, the one place the numbers are written.
const NUMBERS: [(RecordType, u16); 13] = [
    (RecordType::A, 1),
    (RecordType::Ns, 2),
    (RecordType::Cname, 5),
    (RecordType::Soa, 6),
    (RecordType::Ptr, 12),
    (RecordType::Mx, 15),
    (RecordType::Txt, 16),
    (RecordType::Aaaa, 28),
    (RecordType::Srv, 33),
    (RecordType::Dname, 39),
    (RecordType::Opt, 41),
    (RecordType::Ixfr, 251),
    (RecordType::Axfr, 252),
];

impl From<u16> for RecordType {
    fn from(number: u16) -> RecordType {
        NUMBERS.iter().find(|(_, n)| *n == number).map_or(RecordType::Other(number), |(t, _)| *t)
    }
}

impl From<RecordType> for u16 {
    fn from(rtype: RecordType) -> u16 {
        match rtype {
            RecordType::Other(n) => n,
            named => NUMBERS.iter().find(|(t, _)| *t == named).map_or(0, |(_, n)| *n),
        }
    }
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
        for (rtype, number) in NUMBERS {
            assert_eq!(RecordType::from(number), rtype);
            assert_eq!(u16::from(rtype), number);
        }
        assert_eq!(RecordType::from(99), RecordType::Other(99));
        assert_eq!(u16::from(RecordType::Other(99)), 99);
    }
}
