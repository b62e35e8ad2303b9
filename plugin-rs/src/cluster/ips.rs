//! Lists of addresses, as objects hold them: in as few bytes as their
//! family allows. An `IpAddr` takes 17 bytes whatever its family; most
//! objects hold one IPv4 address (a service's cluster IP, a pod's IP) or a
//! few of one family (an EndpointSlice's, which has one address type).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Addresses in order. The form depends on the addresses only, so equal
/// lists are equal values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ips {
    #[default]
    Empty,
    /// One IPv4 address, without an allocation.
    One(Ipv4Addr),
    V4(Box<[Ipv4Addr]>),
    V6(Box<[Ipv6Addr]>),
    /// Both families (never from one EndpointSlice of a real cluster).
    Mixed(Box<[IpAddr]>),
}

impl Ips {
    pub fn new(ips: &[IpAddr]) -> Ips {
        let v4: Option<Vec<Ipv4Addr>> = ips.iter().map(|ip| v4(*ip)).collect();
        let v6: Option<Vec<Ipv6Addr>> = ips.iter().map(|ip| v6(*ip)).collect();
        match (ips, v4, v6) {
            ([], _, _) => Ips::Empty,
            ([IpAddr::V4(ip)], _, _) => Ips::One(*ip),
            (_, Some(v4), _) => Ips::V4(v4.into()),
            (_, _, Some(v6)) => Ips::V6(v6.into()),
            _ => Ips::Mixed(ips.into()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Ips::Empty => 0,
            Ips::One(_) => 1,
            Ips::V4(ips) => ips.len(),
            Ips::V6(ips) => ips.len(),
            Ips::Mixed(ips) => ips.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th address; None past the end.
    pub fn get(&self, i: usize) -> Option<IpAddr> {
        match self {
            Ips::Empty => None,
            Ips::One(ip) => (i == 0).then_some(IpAddr::V4(*ip)),
            Ips::V4(ips) => ips.get(i).map(|ip| IpAddr::V4(*ip)),
            Ips::V6(ips) => ips.get(i).map(|ip| IpAddr::V6(*ip)),
            Ips::Mixed(ips) => ips.get(i).copied(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + Clone + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.iter().any(|held| held == *ip)
    }
}

fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    }
}

fn v6(ip: IpAddr) -> Option<Ipv6Addr> {
    match ip {
        IpAddr::V6(ip) => Some(ip),
        IpAddr::V4(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_their_addresses_in_order_in_the_smallest_form() {
        let ip = |text: &str| -> IpAddr { text.parse().unwrap() };
        // (addresses, form)
        let cases: &[(&[&str], &str)] = &[
            (&[], "Empty"),
            (&["10.0.0.1"], "One"),
            (&["10.0.0.1", "10.0.0.2"], "V4"),
            (&["fd00::1"], "V6"),
            (&["fd00::1", "fd00::2"], "V6"),
            (&["10.0.0.1", "fd00::1"], "Mixed"),
            (&["::ffff:10.0.0.1", "10.0.0.1"], "Mixed"),
        ];
        for (texts, form) in cases {
            let given: Vec<IpAddr> = texts.iter().map(|t| ip(t)).collect();
            let ips = Ips::new(&given);
            assert!(format!("{ips:?}").starts_with(form), "{texts:?}: {ips:?}");
            assert_eq!(ips.iter().collect::<Vec<_>>(), given, "{texts:?}");
            assert_eq!((ips.len(), ips.get(given.len())), (given.len(), None), "{texts:?}");
            assert!(given.iter().all(|ip| ips.contains(ip)), "{texts:?}");
            assert!(!ips.contains(&ip("10.9.9.9")), "{texts:?}");
            assert_eq!(ips, Ips::new(&given), "{texts:?}: the form depends on the addresses only");
        }
    }
}
