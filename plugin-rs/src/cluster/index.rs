//! One stanza's objects, indexed for answering.
//!
//! Objects are grouped by namespace, which is how every forward name is
//! looked up (`svc.ns.svc.zone`); reverse lookups and the NS records go
//! through per-address indexes. Every event says whether DNS could see the
//! change; when it could, the stanza's SOA serial becomes the event time.
//!
//! Hash tables are keyed with a seed from the host: names come from cluster
//! users, and fixed keys (all wasm32-unknown-unknown offers) would let
//! them choose colliding names.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher13;

use super::objects::{self, Addressing, Pod, Problem, Service, ServiceImport, Slice};
use crate::contract::{Change, Event, Kind};

/// SipHash-1-3 with keys derived from the host's seed.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    k0: u64,
    k1: u64,
}

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded { k0: seed, k1: seed.rotate_left(29) ^ 0x6b75_6265_726e_6574 }
    }
}

impl BuildHasher for Seeded {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

pub type Map<K, V> = HashMap<K, V, Seeded>;

/// (namespace, name) of an object, as the reverse indexes keep them.
pub type Key = (Box<str>, Box<str>);

/// Everything known in one namespace.
#[derive(Debug)]
pub struct Namespace {
    /// The Namespace object itself exists (and passed `namespace_labels`).
    pub exists: bool,
    pub services: Map<Box<str>, Service>,
    slices: Map<Box<str>, Slice>,
    /// Slice names per service name, sorted so answers have a stable order.
    slices_of: Map<Box<str>, BTreeSet<Box<str>>>,
    pub pods: Map<Box<str>, Pod>,
    pub imports: Map<Box<str>, ServiceImport>,
    mc_slices: Map<Box<str>, Slice>,
    mc_slices_of: Map<Box<str>, BTreeSet<Box<str>>>,
}

impl Namespace {
    fn new(seed: Seeded) -> Namespace {
        Namespace {
            exists: false,
            services: Map::with_hasher(seed),
            slices: Map::with_hasher(seed),
            slices_of: Map::with_hasher(seed),
            pods: Map::with_hasher(seed),
            imports: Map::with_hasher(seed),
            mc_slices: Map::with_hasher(seed),
            mc_slices_of: Map::with_hasher(seed),
        }
    }

    fn is_empty(&self) -> bool {
        !self.exists
            && self.services.is_empty()
            && self.slices.is_empty()
            && self.pods.is_empty()
            && self.imports.is_empty()
            && self.mc_slices.is_empty()
    }

    /// The EndpointSlices of a service, by slice name.
    pub fn slices_for<'a>(&'a self, service: &str) -> impl Iterator<Item = &'a Slice> + 'a {
        Self::members(&self.slices_of, &self.slices, service)
    }

    /// The multi-cluster EndpointSlices of an imported service.
    pub fn mc_slices_for<'a>(&'a self, service: &str) -> impl Iterator<Item = &'a Slice> + 'a {
        Self::members(&self.mc_slices_of, &self.mc_slices, service)
    }

    pub fn slice(&self, name: &str) -> Option<&Slice> {
        self.slices.get(name)
    }

    fn members<'a>(
        of: &'a Map<Box<str>, BTreeSet<Box<str>>>,
        slices: &'a Map<Box<str>, Slice>,
        service: &str,
    ) -> impl Iterator<Item = &'a Slice> + 'a {
        of.get(service).into_iter().flatten().filter_map(|n| slices.get(n))
    }
}

/// A stanza's objects and serials.
#[derive(Debug)]
pub struct Index {
    seed: Seeded,
    namespaces: Map<Box<str>, Namespace>,
    services_by_ip: Map<IpAddr, Vec<Key>>,
    slices_by_ip: Map<IpAddr, Vec<Key>>,
    pods_by_ip: Map<IpAddr, Vec<Key>>,
    /// Keep endpoint topology zones (`zonal`).
    keep_topology: bool,
    /// Unix time of the last change DNS can see, outside multicluster zones.
    pub serial: u32,
    /// The same for multicluster zones.
    pub mc_serial: u32,
}

impl Index {
    pub fn new(seed: Seeded, keep_topology: bool) -> Index {
        Index {
            seed,
            namespaces: Map::with_hasher(seed),
            services_by_ip: Map::with_hasher(seed),
            slices_by_ip: Map::with_hasher(seed),
            pods_by_ip: Map::with_hasher(seed),
            keep_topology,
            serial: 0,
            mc_serial: 0,
        }
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// Namespaces in name order.
    pub fn sorted_namespaces(&self) -> Vec<(&str, &Namespace)> {
        let mut all: Vec<(&str, &Namespace)> = self.namespaces.iter().map(|(k, v)| (&**k, v)).collect();
        all.sort_by_key(|(k, _)| *k);
        all
    }

    /// The services holding `ip` as a cluster IP, sorted by namespace then
    /// name (PTR answers rely on the order).
    pub fn services_at(&self, ip: &IpAddr) -> &[Key] {
        self.services_by_ip.get(ip).map_or(&[], Vec::as_slice)
    }

    /// The EndpointSlices holding `ip`, sorted by namespace then name.
    pub fn slices_at(&self, ip: &IpAddr) -> &[Key] {
        self.slices_by_ip.get(ip).map_or(&[], Vec::as_slice)
    }

    pub fn pods_at(&self, ip: &IpAddr) -> &[Key] {
        self.pods_by_ip.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Applies one event. Deleting something unknown is not a problem: the
    /// host may replay deletions it is unsure were delivered.
    pub fn apply(&mut self, now: i64, event: &Event) -> Result<(), Problem> {
        let json = &event.object;
        let (changed, multicluster) = match (event.kind, event.change) {
            (Kind::Namespace, Change::Upsert) => {
                (self.set_namespace(objects::decode_namespace(json)?.name, true), false)
            }
            (Kind::Namespace, Change::Delete) => (self.set_namespace(objects::decode_meta(json)?.name, false), false),
            (Kind::Service, Change::Upsert) => (self.upsert_service(objects::decode_service(json)?), false),
            (Kind::Service, Change::Delete) => (self.delete_service(&objects::decode_meta(json)?), false),
            (Kind::EndpointSlice, Change::Upsert) => {
                (self.upsert_slice(objects::decode_slice(json, self.keep_topology, false)?, false), false)
            }
            (Kind::EndpointSlice, Change::Delete) => (self.delete_slice(&objects::decode_meta(json)?, false), false),
            (Kind::Pod, Change::Upsert) => match objects::decode_pod(json)? {
                Some(pod) => (self.upsert_pod(pod), false),
                None => (self.delete_pod(&objects::decode_meta(json)?), false),
            },
            (Kind::Pod, Change::Delete) => (self.delete_pod(&objects::decode_meta(json)?), false),
            (Kind::ServiceImport, Change::Upsert) => (self.upsert_import(objects::decode_service_import(json)?), true),
            (Kind::ServiceImport, Change::Delete) => (self.delete_import(&objects::decode_meta(json)?), true),
            (Kind::MulticlusterEndpointSlice, Change::Upsert) => {
                (self.upsert_slice(objects::decode_slice(json, self.keep_topology, true)?, true), true)
            }
            (Kind::MulticlusterEndpointSlice, Change::Delete) => {
                (self.delete_slice(&objects::decode_meta(json)?, true), true)
            }
        };
        if changed {
            // SOA serials are 32-bit Unix time, as the kubernetes plugin's.
            let serial = now as u32;
            if multicluster { self.mc_serial = serial } else { self.serial = serial }
        }
        Ok(())
    }

    fn entry(&mut self, namespace: &str) -> &mut Namespace {
        let seed = self.seed;
        self.namespaces.entry(namespace.into()).or_insert_with(|| Namespace::new(seed))
    }

    /// Drops a namespace's entry once nothing is left in it.
    fn tidy(&mut self, namespace: &str) {
        if self.namespaces.get(namespace).is_some_and(Namespace::is_empty) {
            self.namespaces.remove(namespace);
        }
    }

    fn set_namespace(&mut self, name: Box<str>, exists: bool) -> bool {
        let ns = self.entry(&name);
        let changed = ns.exists != exists;
        ns.exists = exists;
        self.tidy(&name);
        changed
    }

    fn upsert_service(&mut self, svc: Service) -> bool {
        let key: Key = (svc.meta.namespace.clone(), svc.meta.name.clone());
        let new_ips = cluster_ips(&svc).to_vec();
        let old = self.entry(&key.0).services.insert(key.1.clone(), svc);
        let changed = match &old {
            None => true,
            Some(old) => {
                let new = &self.namespaces[&key.0].services[&key.1];
                old.meta.version != new.meta.version && service_differs(old, new)
            }
        };
        if let Some(old) = &old {
            unindex(&mut self.services_by_ip, cluster_ips(old), &key);
        }
        index(&mut self.services_by_ip, &new_ips, &key);
        changed
    }

    fn delete_service(&mut self, meta: &objects::Meta) -> bool {
        let key: Key = (meta.namespace.clone(), meta.name.clone());
        let Some(old) = self.namespaces.get_mut(&key.0).and_then(|ns| ns.services.remove(&key.1)) else {
            return false;
        };
        unindex(&mut self.services_by_ip, cluster_ips(&old), &key);
        self.tidy(&key.0);
        true
    }

    fn upsert_slice(&mut self, slice: Slice, multicluster: bool) -> bool {
        let key: Key = (slice.meta.namespace.clone(), slice.meta.name.clone());
        let service = slice.service.clone();
        let ips: Vec<IpAddr> = slice.addresses.iter().map(|a| a.ip).collect();
        let ns = self.entry(&key.0);
        let (slices, slices_of) =
            if multicluster { (&mut ns.mc_slices, &mut ns.mc_slices_of) } else { (&mut ns.slices, &mut ns.slices_of) };
        let old = slices.insert(key.1.clone(), slice);
        if let Some(old) = &old
            && old.service != service
        {
            remove_member(slices_of, &old.service, &key.1);
        }
        slices_of.entry(service).or_default().insert(key.1.clone());
        let changed = match &old {
            None => true,
            Some(old) => old.meta.version != slices[&key.1].meta.version && !old.same_for_dns(&slices[&key.1]),
        };
        if !multicluster {
            if let Some(old) = &old {
                let old_ips: Vec<IpAddr> = old.addresses.iter().map(|a| a.ip).collect();
                unindex(&mut self.slices_by_ip, &old_ips, &key);
            }
            index(&mut self.slices_by_ip, &ips, &key);
        }
        changed
    }

    fn delete_slice(&mut self, meta: &objects::Meta, multicluster: bool) -> bool {
        let key: Key = (meta.namespace.clone(), meta.name.clone());
        let Some(ns) = self.namespaces.get_mut(&key.0) else { return false };
        let (slices, slices_of) =
            if multicluster { (&mut ns.mc_slices, &mut ns.mc_slices_of) } else { (&mut ns.slices, &mut ns.slices_of) };
        let Some(old) = slices.remove(&key.1) else { return false };
        remove_member(slices_of, &old.service, &key.1);
        if !multicluster {
            let ips: Vec<IpAddr> = old.addresses.iter().map(|a| a.ip).collect();
            unindex(&mut self.slices_by_ip, &ips, &key);
        }
        self.tidy(&key.0);
        true
    }

    fn upsert_pod(&mut self, pod: Pod) -> bool {
        let key: Key = (pod.meta.namespace.clone(), pod.meta.name.clone());
        let ips = pod.ips.clone();
        let old = self.entry(&key.0).pods.insert(key.1.clone(), pod);
        // Only the IPs show in DNS; label and status churn does not count.
        let changed = old.as_ref().is_none_or(|o| o.ips != ips);
        if let Some(old) = &old {
            unindex(&mut self.pods_by_ip, &old.ips, &key);
        }
        index(&mut self.pods_by_ip, &ips, &key);
        changed
    }

    fn delete_pod(&mut self, meta: &objects::Meta) -> bool {
        let key: Key = (meta.namespace.clone(), meta.name.clone());
        let Some(old) = self.namespaces.get_mut(&key.0).and_then(|ns| ns.pods.remove(&key.1)) else {
            return false;
        };
        unindex(&mut self.pods_by_ip, &old.ips, &key);
        self.tidy(&key.0);
        true
    }

    fn upsert_import(&mut self, si: ServiceImport) -> bool {
        let (namespace, name) = (si.meta.namespace.clone(), si.meta.name.clone());
        let imports = &mut self.entry(&namespace).imports;
        let changed = imports.get(&name).is_none_or(|old| {
            old.meta.version != si.meta.version
                && (old.headless, &old.ips, &old.ports) != (si.headless, &si.ips, &si.ports)
        });
        imports.insert(name, si);
        changed
    }

    fn delete_import(&mut self, meta: &objects::Meta) -> bool {
        let removed = self.namespaces.get_mut(&meta.namespace).and_then(|ns| ns.imports.remove(&meta.name)).is_some();
        self.tidy(&meta.namespace);
        removed
    }
}

fn cluster_ips(svc: &Service) -> &[IpAddr] {
    match &svc.addressing {
        Addressing::ClusterIps(ips) => ips,
        _ => &[],
    }
}

/// What the kubernetes plugin counts as a DNS-visible service update: the
/// external name or any port. Addressing is compared too: it cannot change
/// in a real cluster, but it can between two snapshots.
fn service_differs(old: &Service, new: &Service) -> bool {
    old.external_name != new.external_name || old.ports != new.ports || old.addressing != new.addressing
}

fn index(map: &mut Map<IpAddr, Vec<Key>>, ips: &[IpAddr], key: &Key) {
    for ip in ips {
        let keys = map.entry(*ip).or_default();
        if let Err(at) = keys.binary_search(key) {
            keys.insert(at, key.clone());
        }
    }
}

fn unindex(map: &mut Map<IpAddr, Vec<Key>>, ips: &[IpAddr], key: &Key) {
    for ip in ips {
        if let Some(keys) = map.get_mut(ip) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                map.remove(ip);
            }
        }
    }
}

fn remove_member(of: &mut Map<Box<str>, BTreeSet<Box<str>>>, service: &str, slice: &str) {
    if let Some(set) = of.get_mut(service) {
        set.remove(slice);
        if set.is_empty() {
            of.remove(service);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(change: Change, kind: Kind, json: &str) -> Event {
        Event { change, kind, object: json.as_bytes().to_vec() }
    }

    fn svc(name: &str, ip: &str, port: u16, version: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"shop","resourceVersion":"{version}"}},
               "spec":{{"clusterIP":"{ip}","ports":[{{"name":"http","port":{port},"protocol":"TCP"}}]}}}}"#
        )
    }

    fn slice(name: &str, service: &str, ips: &[&str], version: &str) -> String {
        let endpoints: Vec<String> = ips.iter().map(|ip| format!(r#"{{"addresses":["{ip}"]}}"#)).collect();
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"shop","resourceVersion":"{version}",
                 "labels":{{"kubernetes.io/service-name":"{service}"}}}},
               "addressType":"IPv4","endpoints":[{}],"ports":[{{"name":"http","port":80}}]}}"#,
            endpoints.join(",")
        )
    }

    #[test]
    fn services_and_reverse_index() {
        let mut idx = Index::new(Seeded::new(1), false);
        idx.apply(100, &ev(Change::Upsert, Kind::Service, &svc("web", "10.0.0.1", 80, "1"))).unwrap();
        assert_eq!(idx.serial, 100);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(idx.services_at(&ip), &[("shop".into(), "web".into())]);
        assert!(!idx.namespace("shop").unwrap().exists);

        // Same version: a resync, not a change.
        idx.apply(200, &ev(Change::Upsert, Kind::Service, &svc("web", "10.0.0.1", 80, "1"))).unwrap();
        assert_eq!(idx.serial, 100);
        // New version, same DNS content: no change either.
        idx.apply(300, &ev(Change::Upsert, Kind::Service, &svc("web", "10.0.0.1", 80, "2"))).unwrap();
        assert_eq!(idx.serial, 100);
        // A port change counts.
        idx.apply(400, &ev(Change::Upsert, Kind::Service, &svc("web", "10.0.0.1", 81, "3"))).unwrap();
        assert_eq!(idx.serial, 400);

        idx.apply(500, &ev(Change::Delete, Kind::Service, &svc("web", "10.0.0.1", 81, "3"))).unwrap();
        assert_eq!(idx.serial, 500);
        assert!(idx.services_at(&ip).is_empty());
        assert!(idx.namespace("shop").is_none(), "empty namespace entries are dropped");
        // Deleting again changes nothing.
        idx.apply(600, &ev(Change::Delete, Kind::Service, &svc("web", "10.0.0.1", 81, "3"))).unwrap();
        assert_eq!(idx.serial, 500);
    }

    #[test]
    fn services_sharing_an_address_stay_sorted() {
        let mut idx = Index::new(Seeded::new(5), false);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let mut put = |namespace: &str, name: &str, ip: &str, version: &str| {
            let json = format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"{namespace}","resourceVersion":"{version}"}},
                   "spec":{{"clusterIP":"{ip}"}}}}"#
            );
            idx.apply(1, &ev(Change::Upsert, Kind::Service, &json)).unwrap();
        };
        for (namespace, name) in [("shop", "web2"), ("shop", "web1"), ("bazaar", "zed"), ("shop", "aaa")] {
            put(namespace, name, "10.0.0.9", "1");
        }
        // Updates, and a service moving away and back, keep the order.
        put("shop", "web1", "10.0.0.9", "2");
        put("bazaar", "zed", "10.0.0.8", "2");
        put("bazaar", "zed", "10.0.0.9", "3");
        let keys =
            |idx: &Index| -> Vec<String> { idx.services_at(&ip).iter().map(|(n, s)| format!("{n}/{s}")).collect() };
        assert_eq!(keys(&idx), ["bazaar/zed", "shop/aaa", "shop/web1", "shop/web2"]);
        idx.apply(2, &ev(Change::Delete, Kind::Service, r#"{"metadata":{"name":"aaa","namespace":"shop"}}"#)).unwrap();
        assert_eq!(keys(&idx), ["bazaar/zed", "shop/web1", "shop/web2"]);
    }

    #[test]
    fn slices_follow_their_service_and_addresses() {
        let mut idx = Index::new(Seeded::new(2), false);
        idx.apply(1, &ev(Change::Upsert, Kind::EndpointSlice, &slice("db-b", "db", &["10.1.0.2"], "1"))).unwrap();
        idx.apply(2, &ev(Change::Upsert, Kind::EndpointSlice, &slice("db-a", "db", &["10.1.0.1"], "1"))).unwrap();
        let ns = idx.namespace("shop").unwrap();
        let names: Vec<&str> = ns.slices_for("db").map(|s| &*s.meta.name).collect();
        assert_eq!(names, vec!["db-a", "db-b"]);

        // Moving a slice to another service and another address.
        idx.apply(3, &ev(Change::Upsert, Kind::EndpointSlice, &slice("db-b", "cache", &["10.1.0.3"], "2"))).unwrap();
        let ns = idx.namespace("shop").unwrap();
        assert_eq!(ns.slices_for("db").count(), 1);
        assert_eq!(ns.slices_for("cache").count(), 1);
        assert!(idx.slices_at(&"10.1.0.2".parse().unwrap()).is_empty());
        assert_eq!(idx.slices_at(&"10.1.0.3".parse().unwrap()).len(), 1);
        assert_eq!(idx.serial, 3);

        idx.apply(4, &ev(Change::Delete, Kind::EndpointSlice, r#"{"metadata":{"name":"db-b","namespace":"shop"}}"#))
            .unwrap();
        assert_eq!(idx.namespace("shop").unwrap().slices_for("cache").count(), 0);
        assert_eq!(idx.serial, 4);
    }

    #[test]
    fn pods_count_only_when_their_ips_change() {
        let mut idx = Index::new(Seeded::new(3), false);
        let pod = |labels: &str, ip: &str| {
            format!(
                r#"{{"metadata":{{"name":"p","namespace":"shop","labels":{{{labels}}}}},"status":{{"podIPs":[{{"ip":"{ip}"}}]}}}}"#
            )
        };
        idx.apply(10, &ev(Change::Upsert, Kind::Pod, &pod("", "10.2.0.1"))).unwrap();
        idx.apply(20, &ev(Change::Upsert, Kind::Pod, &pod(r#""a":"b""#, "10.2.0.1"))).unwrap();
        assert_eq!(idx.serial, 10);
        idx.apply(30, &ev(Change::Upsert, Kind::Pod, &pod("", "10.2.0.9"))).unwrap();
        assert_eq!(idx.serial, 30);
        assert!(idx.pods_at(&"10.2.0.1".parse().unwrap()).is_empty());
        // A terminating pod stops answering.
        let terminating = r#"{"metadata":{"name":"p","namespace":"shop","deletionTimestamp":"2026-01-01T00:00:00Z"}}"#;
        idx.apply(40, &ev(Change::Upsert, Kind::Pod, terminating)).unwrap();
        assert!(idx.pods_at(&"10.2.0.9".parse().unwrap()).is_empty());
        assert_eq!(idx.serial, 40);
    }

    #[test]
    fn namespaces_and_multicluster_serials() {
        let mut idx = Index::new(Seeded::new(4), false);
        idx.apply(5, &ev(Change::Upsert, Kind::Namespace, r#"{"metadata":{"name":"shop"}}"#)).unwrap();
        assert!(idx.namespace("shop").unwrap().exists);
        assert_eq!(idx.serial, 5);
        idx.apply(
            6,
            &ev(
                Change::Upsert,
                Kind::ServiceImport,
                r#"{"metadata":{"name":"web","namespace":"shop"},"spec":{"type":"Headless"}}"#,
            ),
        )
        .unwrap();
        assert_eq!((idx.serial, idx.mc_serial), (5, 6));
        idx.apply(7, &ev(Change::Delete, Kind::Namespace, r#"{"metadata":{"name":"shop"}}"#)).unwrap();
        assert!(!idx.namespace("shop").unwrap().exists, "still holds the import");
        assert!(idx.apply(8, &ev(Change::Upsert, Kind::Service, "{}")).is_err());
        assert_eq!(idx.serial, 7);
    }

    #[test]
    fn seeds_key_the_hash() {
        use std::hash::BuildHasher;
        assert_ne!(Seeded::new(1).hash_one("web"), Seeded::new(2).hash_one("web"));
    }
}
