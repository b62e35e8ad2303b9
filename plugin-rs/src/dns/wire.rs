//! Reading wire bytes: names, which may be compressed anywhere in a
//! message (RFC 1035 §4.1.4), and what can go wrong.

use super::name::{MAX_NAME_LEN, Name};

/// Octets in a message header.
pub const HEADER_LEN: usize = 12;

/// Why bytes could not be read as the DNS message expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Truncated,
    BadPointer,
    BadLabel,
    NameTooLong,
    /// Record data whose length does not fit its type's layout.
    BadRdata,
    NotOneQuestion(u16),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("message truncated"),
            WireError::BadPointer => f.write_str("bad compression pointer"),
            WireError::BadLabel => f.write_str("bad label type"),
            WireError::NameTooLong => f.write_str("name longer than 255 octets"),
            WireError::BadRdata => f.write_str("record data does not fit its type"),
            WireError::NotOneQuestion(n) => write!(f, "{n} questions, want 1"),
        }
    }
}

/// Reads a possibly compressed name starting at `start`. Returns the name
/// and the offset just past it in the original position.
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
    let mut wire = Vec::with_capacity(32);
    let mut pos = start;
    let mut end = None;
    // Each pointer must go strictly backwards, which bounds the walk.
    let mut limit = start;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                let len = len as usize;
                let label = msg.get(pos..pos + 1 + len).ok_or(WireError::Truncated)?;
                wire.extend_from_slice(label);
                if wire.len() > MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                pos += 1 + len;
                if len == 0 {
                    let end = end.unwrap_or(pos);
                    return Ok((Name::from_wire_unchecked(wire), end));
                }
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = (((len & 0x3F) as usize) << 8) | low as usize;
                if target >= limit {
                    return Err(WireError::BadPointer);
                }
                end.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(WireError::BadLabel),
        }
    }
}
