//! Domain names in DNS wire form.
//!
//! A [`Name`] holds the length-prefixed labels of a fully qualified name,
//! ending with the root label, exactly as they go on the wire. Keeping the
//! wire form means answers are written by copying bytes, and case is kept
//! as the client sent it; comparisons that DNS defines as case-insensitive
//! say so in their names.

use std::borrow::Cow;
use std::fmt;

/// Longest name on the wire, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A fully qualified domain name in wire form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Vec<u8>);

/// Why text could not be read as a domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty,
    EmptyLabel,
    LabelTooLong,
    NameTooLong,
    BadEscape,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty name",
            NameError::EmptyLabel => "empty label",
            NameError::LabelTooLong => "label longer than 63 octets",
            NameError::NameTooLong => "name longer than 255 octets",
            NameError::BadEscape => "bad escape sequence",
        })
    }
}

impl Name {
    /// The root name, `.`.
    pub fn root() -> Name {
        Name(vec![0])
    }

    /// Reads a name in presentation form. A missing final dot is implied:
    /// every name here is fully qualified. Backslash escapes (`\.`, `\\`,
    /// `\DDD`) are understood.
    pub fn parse(text: &str) -> Result<Name, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text == "." {
            return Ok(Name::root());
        }
        let mut wire = Vec::with_capacity(text.len() + 2);
        let mut label = Vec::with_capacity(MAX_LABEL_LEN);
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    push_label(&mut wire, &label)?;
                    label.clear();
                    i += 1;
                    continue;
                }
                b'\\' => {
                    let (byte, used) = unescape(&bytes[i + 1..])?;
                    label.push(byte);
                    i += 1 + used;
                }
                byte => {
                    label.push(byte);
                    i += 1;
                }
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
        if !label.is_empty() {
            push_label(&mut wire, &label)?;
        }
        wire.push(0);
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(wire))
    }

    /// Wraps wire bytes already checked to be one uncompressed name.
    pub(crate) fn from_wire_unchecked(wire: Vec<u8>) -> Name {
        debug_assert_eq!(wire.last(), Some(&0));
        Name(wire)
    }

    /// Builds `labels` followed by `suffix`, e.g. a service name under a
    /// zone. Fails when the result would be too long for DNS.
    pub fn with_prefix<L: AsRef<[u8]>>(labels: &[L], suffix: &Name) -> Result<Name, NameError> {
        let len = labels.iter().map(|l| l.as_ref().len() + 1).sum::<usize>() + suffix.0.len();
        if len > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        let mut wire = Vec::with_capacity(len);
        for label in labels {
            let label = label.as_ref();
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        wire.extend_from_slice(&suffix.0);
        Ok(Name(wire))
    }

    /// The wire bytes, root label included.
    pub fn wire(&self) -> &[u8] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// The labels, leftmost first, without the root label.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.0 }
    }

    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The same name with ASCII letters folded to lower case.
    pub fn to_lowercase(&self) -> Name {
        Name(self.0.to_ascii_lowercase())
    }

    /// The name in lower case, borrowed when it is already: most queries
    /// come in lower case, and a copy is an allocation in the guest.
    pub fn lowercased(&self) -> Cow<'_, Name> {
        if self.0.iter().any(u8::is_ascii_uppercase) { Cow::Owned(self.to_lowercase()) } else { Cow::Borrowed(self) }
    }

    /// Whether the name is `arpa.` or below it: reverse zones and the
    /// names in them.
    pub fn is_under_arpa(&self) -> bool {
        self.labels().last().is_some_and(|l| l.eq_ignore_ascii_case(b"arpa"))
    }

    /// Case-insensitive equality, as DNS compares names.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// Whether `self` is `parent` or below it, ignoring case.
    pub fn is_subdomain_of(&self, parent: &Name) -> bool {
        self.suffix_start(parent).is_some()
    }

    /// Offset in the wire bytes where `parent` starts as a suffix of `self`
    /// (ignoring case), at a label boundary.
    pub fn suffix_start(&self, parent: &Name) -> Option<usize> {
        if parent.0.len() > self.0.len() {
            return None;
        }
        let start = self.0.len() - parent.0.len();
        let mut offset = 0;
        while offset < start {
            offset += 1 + self.0[offset] as usize;
        }
        (offset == start && self.0[start..].eq_ignore_ascii_case(&parent.0)).then_some(start)
    }

    /// The name from wire offset `start` (a label boundary) to the end.
    pub fn suffix_from(&self, start: usize) -> Name {
        Name(self.0[start..].to_vec())
    }

    /// The labels before wire offset `end` (a label boundary), leftmost first.
    pub fn labels_before(&self, end: usize) -> Labels<'_> {
        Labels { rest: &self.0[..end] }
    }
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    Ok(())
}

/// Decodes the escape after a backslash: returns the byte and how many
/// input bytes it took.
fn unescape(rest: &[u8]) -> Result<(u8, usize), NameError> {
    match rest {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let value = (a - b'0') as u32 * 100 + (b - b'0') as u32 * 10 + (c - b'0') as u32;
            u8::try_from(value).map(|v| (v, 3)).map_err(|_| NameError::BadEscape)
        }
        [a, ..] if !a.is_ascii_digit() => Ok((*a, 1)),
        _ => Err(NameError::BadEscape),
    }
}

/// Iterator over the labels of a wire name.
#[derive(Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.rest.first()? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.rest[1..1 + len];
        self.rest = &self.rest[1 + len..];
        Some(label)
    }
}

impl fmt::Display for Name {
    /// Presentation form with a trailing dot, escaping what would be read
    /// back differently.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &byte in label {
                match byte {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b' ' | b'@' | b'$' => write!(f, "\\{}", byte as char)?,
                    0x21..=0x7e => write!(f, "{}", byte as char)?,
                    _ => write!(f, "\\{byte:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    #[test]
    fn parse_and_display_round_trip() {
        for (text, shown) in [
            ("cluster.local", "cluster.local."),
            ("cluster.local.", "cluster.local."),
            (".", "."),
            ("A.b.C.", "A.b.C."),
            ("a\\.b.c", "a\\.b.c."),
            ("a\\065.b", "aA.b."),
            ("x\\032y.z", "x\\ y.z."),
        ] {
            assert_eq!(n(text).to_string(), shown, "{text}");
        }
    }

    #[test]
    fn parse_rejects_bad_names() {
        for (text, err) in [
            ("", NameError::Empty),
            ("a..b", NameError::EmptyLabel),
            (".a", NameError::EmptyLabel),
            ("a\\", NameError::BadEscape),
            ("a\\25", NameError::BadEscape),
            ("a\\300", NameError::BadEscape),
        ] {
            assert_eq!(Name::parse(text), Err(err), "{text}");
        }
        assert_eq!(Name::parse(&"a".repeat(64)), Err(NameError::LabelTooLong));
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(Name::parse(&long), Err(NameError::NameTooLong));
    }

    #[test]
    fn subdomains_ignore_case_and_respect_label_boundaries() {
        let zone = n("cluster.local");
        assert!(n("a.b.CLUSTER.local").is_subdomain_of(&zone));
        assert!(n("cluster.local").is_subdomain_of(&zone));
        assert!(!n("xcluster.local").is_subdomain_of(&zone));
        assert!(!n("local").is_subdomain_of(&zone));
        assert!(n("anything.at.all").is_subdomain_of(&Name::root()));
        // A label whose bytes look like the suffix must not match.
        let tricky = Name::with_prefix(&[b"\x07cluster\x05local".as_slice()], &Name::root()).unwrap();
        assert!(!tricky.is_subdomain_of(&zone));
    }

    #[test]
    fn labels_and_prefixes() {
        let zone = n("Cluster.Local");
        let svc = Name::with_prefix(&["web", "shop", "svc"], &zone).unwrap();
        assert_eq!(svc.to_string(), "web.shop.svc.Cluster.Local.");
        let start = svc.suffix_start(&n("cluster.local")).unwrap();
        let before: Vec<&[u8]> = svc.labels_before(start).collect();
        assert_eq!(before, vec![&b"web"[..], b"shop", b"svc"]);
        assert_eq!(svc.suffix_from(start), zone);
        assert_eq!(svc.label_count(), 5);
        assert!(svc.to_lowercase().eq_ignore_case(&svc));
        assert_eq!(Name::with_prefix(&[""], &zone), Err(NameError::EmptyLabel));
    }
}
