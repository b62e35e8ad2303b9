//! Where a zone transfer's next page starts, as the opaque bytes the host
//! hands back: a position by key, so that pages stay right when objects
//! come and go between calls, and the serial of the first page's SOA, so
//! that the last page ends with the same one.

use crate::dns::Name;

/// Marks a cursor of this core and its layout.
const MAGIC: &[u8; 4] = b"kxf1";

/// A position in a zone's transfer order: the next namespace, service and
/// (inside a headless service) slice and address to list. An empty name
/// means from the first one; names are compared as the index orders them,
/// so a position stays meaningful when what it named is gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub namespace: String,
    pub service: String,
    pub slice: String,
    /// Index of the next address in `slice`.
    pub address: u32,
}

/// A transfer in progress: which zone, the serial its first SOA carried,
/// and where it resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub zone: Name,
    pub serial: u32,
    pub position: Position,
}

impl Cursor {
    pub fn encode(&self) -> Vec<u8> {
        let p = &self.position;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.serial.to_be_bytes());
        for part in [self.zone.wire(), p.namespace.as_bytes(), p.service.as_bytes(), p.slice.as_bytes()] {
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&p.address.to_be_bytes());
        out
    }

    /// Reads a cursor this core gave for a transfer of `zone`.
    pub fn decode(bytes: &[u8], zone: &Name) -> Result<Cursor, String> {
        let bad = |why: &str| format!("transfer of {zone}: not a cursor this core gave ({why})");
        let mut r = Reader(bytes);
        if r.take(MAGIC.len()).ok_or_else(|| bad("too short"))? != MAGIC {
            return Err(bad("unknown format"));
        }
        let serial = r.u32().ok_or_else(|| bad("too short"))?;
        let wire = r.part().ok_or_else(|| bad("too short"))?;
        if !wire.eq_ignore_ascii_case(zone.wire()) {
            return Err(bad("it is for another zone"));
        }
        let mut text = || -> Result<String, String> {
            let part = r.part().ok_or_else(|| bad("too short"))?;
            String::from_utf8(part.to_vec()).map_err(|_| bad("a name is not UTF-8"))
        };
        let (namespace, service, slice) = (text()?, text()?, text()?);
        let address = r.u32().ok_or_else(|| bad("too short"))?;
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Cursor { zone: zone.clone(), serial, position: Position { namespace, service, slice, address } })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A part written with its 16-bit length first.
    fn part(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))?;
        self.take(usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::parse("cluster.local.").unwrap()
    }

    #[test]
    fn round_trip() {
        let position = Position { namespace: "shop".into(), service: "db".into(), slice: "db-a".into(), address: 7 };
        let cursor = Cursor { zone: zone(), serial: 1_700_000_000, position };
        let bytes = cursor.encode();
        assert_eq!(Cursor::decode(&bytes, &zone()), Ok(cursor.clone()));
        // Any case of the zone.
        assert_eq!(Cursor::decode(&bytes, &Name::parse("Cluster.Local.").unwrap()).unwrap().position, cursor.position);
    }

    #[test]
    fn bad_cursors_are_errors() {
        let good = Cursor { zone: zone(), serial: 1, position: Position::default() }.encode();
        let other = Cursor { zone: Name::parse("other.local.").unwrap(), serial: 1, position: Position::default() };
        let mut not_utf8 = MAGIC.to_vec();
        not_utf8.extend_from_slice(&1u32.to_be_bytes());
        for part in [zone().wire(), &[0xff][..], b"", b""] {
            not_utf8.extend_from_slice(&(part.len() as u16).to_be_bytes());
            not_utf8.extend_from_slice(part);
        }
        not_utf8.extend_from_slice(&0u32.to_be_bytes());
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"x".to_vec(), "too short"),
            (b"nope-nope".to_vec(), "unknown format"),
            (good[..good.len() - 1].to_vec(), "too short"),
            ([good.clone(), vec![0]].concat(), "trailing bytes"),
            (other.encode(), "it is for another zone"),
            (not_utf8, "a name is not UTF-8"),
        ];
        for (bytes, why) in cases {
            let err = Cursor::decode(&bytes, &zone()).unwrap_err();
            assert!(err.contains("not a cursor this core gave") && err.contains(why), "{bytes:?}: {err}");
        }
    }
}
