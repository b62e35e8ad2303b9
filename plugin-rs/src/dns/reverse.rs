//! Reverse names: the `in-addr.arpa.` and `ip6.arpa.` trees that map
//! addresses back to names (RFC 1035 §3.5, RFC 3596 §2.5).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::name::Name;

/// Whether the name lies under in-addr.arpa or ip6.arpa (strictly below:
/// the arpa zones themselves are not reverse names).
/// Every lookup asks this, so it walks the labels without collecting them.
pub fn is_reverse(name: &Name) -> bool {
    let (mut count, mut second_last, mut last): (usize, &[u8], &[u8]) = (0, b"", b"");
    for label in name.labels() {
        (count, second_last, last) = (count + 1, last, label);
    }
    count >= 3
        && last.eq_ignore_ascii_case(b"arpa")
        && (second_last.eq_ignore_ascii_case(b"in-addr") || second_last.eq_ignore_ascii_case(b"ip6"))
}

/// The address a reverse name stands for, when it names a whole address.
pub fn address_from_reverse(name: &Name) -> Option<IpAddr> {
    let text = name.to_string().to_ascii_lowercase();
    if let Some(rest) = text.strip_suffix(".in-addr.arpa.") {
        let mut parts: Vec<&str> = rest.split('.').collect();
        parts.reverse();
        return parts.join(".").parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    let rest = text.strip_suffix(".ip6.arpa.")?;
    let mut nibbles: Vec<&str> = rest.split('.').collect();
    nibbles.reverse();
    let groups: Vec<String> = nibbles.chunks(4).filter(|c| c.len() == 4).map(|c| c.concat()).collect();
    groups.join(":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        let v4 = Name::parse("1.0.0.10.in-addr.arpa.").unwrap();
        assert_eq!(address_from_reverse(&v4), Some("10.0.0.1".parse().unwrap()));
        let partial = Name::parse("0.10.in-addr.arpa.").unwrap();
        assert_eq!(address_from_reverse(&partial), None);
        let v6 = Name::parse("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.").unwrap();
        assert_eq!(address_from_reverse(&v6), Some("fd00::1".parse().unwrap()));
        assert!(is_reverse(&v4));
        assert!(!is_reverse(&Name::parse("in-addr.arpa.").unwrap()));
        assert!(!is_reverse(&Name::parse("cluster.local.").unwrap()));
        assert!(!is_reverse(&Name::parse("arpa.").unwrap()));
        assert!(is_reverse(&Name::parse("x.IP6.ARPA.").unwrap()));
        assert!(!is_reverse(&Name::parse("x.in-addr.arpa.example.").unwrap()));
    }
}
