//! Zone names as CoreDNS reads them from a Corefile.
//!
//! CoreDNS accepts a zone written with a transport prefix, a port, or as a
//! CIDR that stands for the reverse zones of that network; the kubernetes
//! plugin normalises its zones, `fallthrough` and `multicluster` arguments
//! that way. The same rules apply here so a Corefile means the same thing
//! to kubernetai.

use std::net::IpAddr;

use super::args::go_int;
use crate::dns::name::Name;

const TRANSPORTS: [&str; 7] = ["tls://", "dns://", "quic://", "grpc://", "https3://", "https://", "unix://"];

/// Normalises one zone argument to one or more lower-case zone names.
pub fn normalize(text: &str) -> Result<Vec<Name>, String> {
    let mut s = text;
    if let Some(prefix) = TRANSPORTS.iter().find(|p| s.starts_with(*p)) {
        s = &s[prefix.len()..];
    }
    if let Some(colon) = s.rfind(':') {
        if colon == s.len() - 1 {
            return Err(format!("expecting data after last colon in {text:?}"));
        }
        if go_int(&s[colon + 1..]).is_some() {
            s = &s[..colon];
        }
    }
    if s.len() > 255 {
        return Err(format!("zone {text:?} is too long: {} > 255", s.len()));
    }
    if let Some(cidr) = parse_cidr(s) {
        let (addr, prefix) = cidr?;
        if s.starts_with(':') || (s.starts_with('0') && s.contains(':')) {
            return Err(format!("invalid CIDR {s:?}"));
        }
        return Ok(reverse_zones(addr, prefix));
    }
    let name = Name::parse(s).map_err(|e| format!("zone {text:?} is not a valid domain name: {e}"))?;
    Ok(vec![name.to_lowercase()])
}

/// An address, `/` and a prefix length: None when the text is not shaped
/// as a CIDR (it is then read as a domain name), an error when it is but
/// cannot be one (`10.0.0.0/33` is no domain name either).
fn parse_cidr(s: &str) -> Option<Result<(IpAddr, u8), String>> {
    let (addr, prefix) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let invalid = || Err(format!("invalid CIDR {s:?}: the prefix length must be between 0 and {max}"));
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Some(invalid());
    }
    match prefix.parse::<u8>() {
        Ok(prefix) if prefix <= max => Some(Ok((addr, prefix))),
        _ => Some(invalid()),
    }
}

/// The reverse zones covering a network: one per octet (IPv4) or nibble
/// (IPv6) aligned subnet when the prefix is not on such a boundary.
fn reverse_zones(addr: IpAddr, prefix: u8) -> Vec<Name> {
    let (digits, unit): (Vec<u8>, u8) = match addr {
        IpAddr::V4(v4) => (v4.octets().to_vec(), 8),
        IpAddr::V6(v6) => (v6.octets().iter().flat_map(|b| [b >> 4, b & 0x0F]).collect(), 4),
    };
    let aligned = prefix.div_ceil(unit) * unit;
    let width = u32::from(aligned - prefix);
    let units = (aligned / unit) as usize;
    let network = mask(&digits, unit, prefix);
    (0..1u32 << width.min(16))
        .map(|i| {
            let subnet = add_at(&network, unit, units, i);
            reverse_name(&subnet[..units], addr.is_ipv4())
        })
        .collect()
}

/// Clears the bits past `prefix`.
fn mask(digits: &[u8], unit: u8, prefix: u8) -> Vec<u8> {
    digits
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let start = i as u32 * u32::from(unit);
            let keep = u32::from(prefix).saturating_sub(start).min(u32::from(unit));
            let m = if keep == 0 { 0 } else { (0xFFu32 << (u32::from(unit) - keep)) as u8 & unit_mask(unit) };
            d & m
        })
        .collect()
}

fn unit_mask(unit: u8) -> u8 {
    if unit == 8 { 0xFF } else { 0x0F }
}

/// Adds `i` to the last of the first `units` digits (the subnet number
/// lives in the bits just before the aligned boundary).
fn add_at(digits: &[u8], unit: u8, units: usize, i: u32) -> Vec<u8> {
    let mut out = digits.to_vec();
    if units > 0 {
        out[units - 1] = out[units - 1].wrapping_add(i as u8) & unit_mask(unit);
    }
    out
}

fn reverse_name(digits: &[u8], v4: bool) -> Name {
    let mut text = String::new();
    for d in digits.iter().rev() {
        if v4 {
            text.push_str(&d.to_string());
        } else {
            text.push(char::from_digit(u32::from(*d), 16).unwrap_or('0'));
        }
        text.push('.');
    }
    text.push_str(if v4 { "in-addr.arpa." } else { "ip6.arpa." });
    Name::parse(&text).unwrap_or_else(|_| Name::root())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<String> {
        normalize(input).unwrap().iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn normalizes_like_coredns() {
        for (input, want) in [
            ("Cluster.Local", vec!["cluster.local."]),
            ("cluster.local.:53", vec!["cluster.local."]),
            ("dns://cluster.local:1053", vec!["cluster.local."]),
            ("tls://example.org.", vec!["example.org."]),
            (".", vec!["."]),
            ("10.0.0.0/8", vec!["10.in-addr.arpa."]),
            ("10.0.0.0/24", vec!["0.0.10.in-addr.arpa."]),
            ("172.16.0.0/15", vec!["16.172.in-addr.arpa.", "17.172.in-addr.arpa."]),
            ("0.0.0.0/0", vec!["in-addr.arpa."]),
            ("fd00::/8", vec!["d.f.ip6.arpa."]),
            ("2001:db8::/32", vec!["8.b.d.0.1.0.0.2.ip6.arpa."]),
            ("2001:db8::/31", vec!["8.b.d.0.1.0.0.2.ip6.arpa.", "9.b.d.0.1.0.0.2.ip6.arpa."]),
            // Leading zeros in the prefix length, as Go's net.ParseCIDR takes them.
            ("10.0.0.0/008", vec!["10.in-addr.arpa."]),
        ] {
            assert_eq!(texts(input), want, "{input}");
        }
    }

    #[test]
    fn unaligned_ipv4_prefixes_expand_to_every_covered_zone() {
        let zones = texts("192.168.1.0/26");
        assert_eq!(zones.len(), 64);
        assert_eq!(zones[0], "0.1.168.192.in-addr.arpa.");
        assert_eq!(zones[63], "63.1.168.192.in-addr.arpa.");
    }

    #[test]
    fn refuses_what_coredns_would_drop() {
        for input in ["cluster.local:", "a..b", "", "::/0"] {
            assert!(normalize(input).is_err(), "{input}");
        }
        // Shaped as CIDRs but impossible ones: errors, not domain names.
        for (input, want) in [
            ("10.0.0.0/33", "invalid CIDR \"10.0.0.0/33\": the prefix length must be between 0 and 32"),
            ("fd00::/129", "between 0 and 128"),
            ("10.0.0.0/", "invalid CIDR"),
            ("10.0.0.0/x", "invalid CIDR"),
        ] {
            let err = normalize(input).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
