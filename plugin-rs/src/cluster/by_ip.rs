//! Objects by address: what reverse lookups, NS records and pod lookups
//! search by IP.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use super::few::Few;
use super::seeded::{Map, Seeded};

/// (namespace, name) of an object: both shared with the entries that hold
/// the namespace and the object, so a key costs no copy of either.
pub type Key = (Rc<str>, Rc<str>);

/// The objects at each address, sorted by namespace then name (PTR answers
/// rely on the order); nearly always one. IPv4 addresses are keyed by
/// their four bytes: an `IpAddr` takes 17, in every entry, and hashes as
/// many.
#[derive(Debug)]
pub struct ByIp {
    v4: Map<Ipv4Addr, Few<Key>>,
    v6: Map<Ipv6Addr, Few<Key>>,
}

impl ByIp {
    pub fn new(seed: Seeded) -> ByIp {
        ByIp { v4: Map::with_hasher(seed), v6: Map::with_hasher(seed) }
    }

    /// The objects at `ip`.
    pub fn at(&self, ip: &IpAddr) -> &[Key] {
        let keys = match ip {
            IpAddr::V4(ip) => self.v4.get(ip),
            IpAddr::V6(ip) => self.v6.get(ip),
        };
        keys.map_or(&[], Few::as_slice)
    }

    /// Records that `key` is at each of `ips`.
    pub fn add(&mut self, ips: impl IntoIterator<Item = IpAddr>, key: &Key) {
        for ip in ips {
            match ip {
                IpAddr::V4(ip) => add(&mut self.v4, ip, key),
                IpAddr::V6(ip) => add(&mut self.v6, ip, key),
            }
        }
    }

    /// Records that `key` is no longer at any of `ips`.
    pub fn remove(&mut self, ips: impl IntoIterator<Item = IpAddr>, key: &Key) {
        for ip in ips {
            match ip {
                IpAddr::V4(ip) => remove(&mut self.v4, ip, key),
                IpAddr::V6(ip) => remove(&mut self.v6, ip, key),
            }
        }
    }
}

fn add<A: Hash + Eq>(map: &mut Map<A, Few<Key>>, ip: A, key: &Key) {
    match map.get_mut(&ip) {
        Some(keys) => keys.add(key),
        None => {
            map.insert(ip, Few::One(key.clone()));
        }
    }
}

fn remove<A: Hash + Eq>(map: &mut Map<A, Few<Key>>, ip: A, key: &Key) {
    if let Some(keys) = map.get_mut(&ip)
        && !keys.remove(|k| k.cmp(key))
    {
        map.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(namespace: &str, name: &str) -> Key {
        (namespace.into(), name.into())
    }

    #[test]
    fn keys_stay_sorted() {
        let mut by_ip = ByIp::new(Seeded::new(1));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let names = |by_ip: &ByIp| -> Vec<String> { by_ip.at(&ip).iter().map(|(n, s)| format!("{n}/{s}")).collect() };
        by_ip.add([ip], &key("shop", "web"));
        by_ip.add([ip], &key("shop", "web"));
        assert_eq!(names(&by_ip), ["shop/web"]);
        by_ip.add([ip], &key("bazaar", "zed"));
        by_ip.add([ip], &key("shop", "aaa"));
        assert_eq!(names(&by_ip), ["bazaar/zed", "shop/aaa", "shop/web"]);
        by_ip.remove([ip], &key("shop", "aaa"));
        by_ip.remove([ip], &key("bazaar", "zed"));
        assert_eq!(names(&by_ip), ["shop/web"]);
        by_ip.remove([ip], &key("shop", "web"));
        assert!(by_ip.at(&ip).is_empty());
        assert!(by_ip.v4.is_empty(), "no entry is left for an address without objects");
    }

    #[test]
    fn families_are_apart() {
        let mut by_ip = ByIp::new(Seeded::new(1));
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        by_ip.add([v4], &key("shop", "a"));
        by_ip.add([mapped], &key("shop", "b"));
        assert_eq!(by_ip.at(&v4), &[key("shop", "a")]);
        assert_eq!(by_ip.at(&mapped), &[key("shop", "b")]);
    }
}
