//! Response codes (RFC 1035 §4.1.1).

/// The response codes the core answers with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rcode {
    #[default]
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    /// The opcode is not one the core implements.
    NotImp,
    Refused,
}

impl From<Rcode> for u8 {
    fn from(rcode: Rcode) -> u8 {
        match rcode {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
        }
    }
}
