//! One stanza's objects, indexed for answering.
//!
//! Objects are grouped by namespace, which is how every forward name is
//! looked up (`svc.ns.svc.zone`); reverse lookups and the NS records go
//! through per-address indexes (`by_ip`). Every event says whether DNS
//! could see the change; when it could, the stanza's SOA serial becomes
//! the event time.
//!
//! Every pool instance holds the whole index, so it is kept compact
//! (issue 11): names are held once and shared (`namespace`), objects keep
//! only what DNS reads (`objects`).
//!
//! Hash tables are keyed with the host's seed (`seeded`).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::rc::Rc;

use super::api::{self, EndpointSlice};
use super::by_ip::{ByIp, Key};
use super::ips::Ips;
use super::namespace::{Named, Namespace};
use super::objects::{self, Addressing, ImportJson, Keep, Meta, Object, PortLists, Problem, Service};
use super::seeded::{Map, Seeded};
use super::selection::Selection;
use crate::contract::{Change, Event, Kind};

/// Which serials a change moves: outside multicluster zones (`local`), in
/// them (`imported`).
#[derive(Debug, Clone, Copy, Default)]
struct Changed {
    local: bool,
    imported: bool,
}

impl Changed {
    fn local(changed: bool) -> Changed {
        Changed { local: changed, imported: false }
    }

    fn imported(changed: bool) -> Changed {
        Changed { local: false, imported: changed }
    }
}

/// A stanza's objects and serials.
#[derive(Debug)]
pub struct Index {
    seed: Seeded,
    selection: Selection,
    namespaces: Map<Rc<str>, Namespace>,
    /// The names of `namespaces` in order, for transfers: a namespace is
    /// looked up by every query, and hashing beats comparing names down a
    /// tree; there are few namespaces, and the names are shared.
    namespace_order: BTreeSet<Rc<str>>,
    services_by_ip: ByIp,
    slices_by_ip: ByIp,
    pods_by_ip: ByIp,
    /// What of an endpoint the stanza reads.
    keep: Keep,
    ports: PortLists,
    /// Unix time of the last change DNS can see, outside multicluster zones.
    pub serial: u32,
    /// The same for multicluster zones.
    pub mc_serial: u32,
}

impl Index {
    pub fn new(seed: Seeded, selection: Selection, keep: Keep) -> Index {
        Index {
            seed,
            selection,
            namespaces: Map::with_hasher(seed),
            namespace_order: BTreeSet::new(),
            services_by_ip: ByIp::new(seed),
            slices_by_ip: ByIp::new(seed),
            pods_by_ip: ByIp::new(seed),
            keep,
            ports: PortLists::new(seed),
            serial: 0,
            mc_serial: 0,
        }
    }

    /// What the host must list and watch to feed this index.
    pub fn watches(&self) -> Vec<crate::contract::Watch> {
        self.selection.watches()
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// Namespaces in name order, from the one named `first` on.
    pub fn namespaces_from<'a>(&'a self, first: &str) -> impl Iterator<Item = &'a Namespace> + 'a {
        let start = if first.is_empty() { std::ops::Bound::Unbounded } else { std::ops::Bound::Included(first) };
        let names = self.namespace_order.range::<str, _>((start, std::ops::Bound::Unbounded));
        names.filter_map(|name| self.namespaces.get(name))
    }

    /// The services holding `ip` as a cluster IP, sorted by namespace then
    /// name (PTR answers rely on the order).
    pub fn services_at(&self, ip: &IpAddr) -> &[Key] {
        self.services_by_ip.at(ip)
    }

    /// The EndpointSlices holding `ip`, sorted by namespace then name.
    pub fn slices_at(&self, ip: &IpAddr) -> &[Key] {
        self.slices_by_ip.at(ip)
    }

    pub fn pods_at(&self, ip: &IpAddr) -> &[Key] {
        self.pods_by_ip.at(ip)
    }

    /// Applies one event. Objects of kinds the stanza does not read are
    /// ignored; an object its selection leaves out is removed, as a watch
    /// reports an object that stops matching as deleted. Deleting something
    /// unknown is not a problem: the host may replay deletions it is unsure
    /// were delivered. An object that cannot be read changes nothing.
    pub fn apply(&mut self, now: i64, event: &Event) -> Result<(), Problem> {
        if !self.selection.reads(event.kind) {
            return Ok(());
        }
        let changed = match event.change {
            Change::Delete => self.remove(event.kind, &objects::decode_meta(event.kind, &event.object)?),
            Change::Upsert => self.upsert(event.kind, &event.object)?,
        };
        // SOA serials are 32-bit Unix time, as the kubernetes plugin's.
        if changed.local {
            self.serial = now as u32;
        }
        if changed.imported {
            self.mc_serial = now as u32;
        }
        Ok(())
    }

    fn upsert(&mut self, kind: Kind, json: &[u8]) -> Result<Changed, Problem> {
        Ok(match kind {
            Kind::Namespace => {
                let (ns, meta) = objects::parse::<api::Namespace>(kind, json)?;
                let selected = self.selection.selects(kind, ns.labels(), "");
                Changed::local(self.set_namespace(&meta.name, selected))
            }
            Kind::Service => {
                let (svc, meta) = objects::parse::<api::Service>(kind, json)?;
                if !self.selection.selects(kind, svc.labels(), "") {
                    return Ok(self.remove(kind, &meta));
                }
                let svc = objects::trim_service(svc, &meta, &mut self.ports)?;
                Changed::local(self.upsert_service(&meta, svc))
            }
            Kind::EndpointSlice => {
                let (slice, meta) = objects::parse::<EndpointSlice>(kind, json)?;
                if !self.selection.selects(kind, slice.labels(), "") {
                    return Ok(self.remove(kind, &meta));
                }
                self.upsert_slice_in_sets(slice, &meta)?
            }
            Kind::Pod => {
                let (pod, meta) = objects::parse::<api::Pod>(kind, json)?;
                if objects::deleting(&pod) || !self.selection.selects(kind, pod.labels(), objects::pod_phase(&pod)) {
                    return Ok(self.remove(kind, &meta));
                }
                Changed::local(objects::trim_pod(pod, &meta)?.is_some_and(|p| self.upsert_pod(&meta, p)))
            }
            Kind::ServiceImport => {
                let (si, meta) = objects::parse::<ImportJson>(kind, json)?;
                if !self.selection.selects(kind, si.labels(), "") {
                    return Ok(self.remove(kind, &meta));
                }
                let si = objects::trim_service_import(si, &meta, &mut self.ports)?;
                Changed::imported(self.upsert_import(&meta, si))
            }
        })
    }

    /// Puts a slice in the sets its labels route it to, and takes it out of
    /// the others (its labels may have changed). Trimmed for every set
    /// first: a slice that cannot be read changes nothing.
    fn upsert_slice_in_sets(&mut self, slice: EndpointSlice, meta: &Meta) -> Result<Changed, Problem> {
        let sets = self.selection.slice_sets(slice.labels());
        let keep = self.keep;
        let mut trim = |slice, imported| objects::trim_slice(slice, meta, keep, imported, &mut self.ports);
        Ok(match (sets.local, sets.imported) {
            (true, true) => {
                let (local, imported) = (trim(slice.clone(), false)?, trim(slice, true)?);
                Changed {
                    local: self.upsert_slice(meta, local, false),
                    imported: self.upsert_slice(meta, imported, true),
                }
            }
            (true, false) => {
                let local = trim(slice, false)?;
                Changed { imported: self.delete_slice(meta, true), local: self.upsert_slice(meta, local, false) }
            }
            (false, true) => {
                let imported = trim(slice, true)?;
                Changed { local: self.delete_slice(meta, false), imported: self.upsert_slice(meta, imported, true) }
            }
            (false, false) => self.remove(Kind::EndpointSlice, meta),
        })
    }

    /// Removes an object, wherever it is held.
    fn remove(&mut self, kind: Kind, meta: &Meta) -> Changed {
        match kind {
            Kind::Namespace => Changed::local(self.set_namespace(&meta.name, false)),
            Kind::Service => Changed::local(self.delete_service(meta)),
            Kind::EndpointSlice => {
                Changed { local: self.delete_slice(meta, false), imported: self.delete_slice(meta, true) }
            }
            Kind::Pod => Changed::local(self.delete_pod(meta)),
            Kind::ServiceImport => Changed::imported(self.delete_import(meta)),
        }
    }

    /// The namespace's entry, made if it has none. Its name is held once,
    /// by every table that names it.
    fn entry(&mut self, namespace: &str) -> &mut Namespace {
        let name = match self.namespace_order.get(namespace) {
            Some(name) => name.clone(),
            None => {
                let name: Rc<str> = namespace.into();
                self.namespace_order.insert(name.clone());
                name
            }
        };
        let seed = self.seed;
        self.namespaces.entry(name.clone()).or_insert_with(|| Namespace::new(name, seed))
    }

    /// Drops a namespace's entry once nothing is left in it.
    fn tidy(&mut self, namespace: &str) {
        if self.namespaces.get(namespace).is_some_and(Namespace::is_empty) {
            self.namespaces.remove(namespace);
            self.namespace_order.remove(namespace);
        }
    }

    fn set_namespace(&mut self, name: &str, exists: bool) -> bool {
        let ns = self.entry(name);
        let changed = ns.exists != exists;
        ns.exists = exists;
        self.tidy(name);
        changed
    }

    fn upsert_service(&mut self, meta: &Meta, svc: Service) -> bool {
        let ns = self.entry(&meta.namespace);
        let key: Key = (ns.name().clone(), ns.share(&meta.name));
        let ips: Vec<IpAddr> = cluster_ips(&svc).collect();
        let changed = ns.service(&meta.name).is_none_or(|old| old.version != svc.version && service_differs(old, &svc));
        let old = ns.put_service(Named::new(key.1.clone(), svc));
        if let Some(old) = &old {
            self.services_by_ip.remove(cluster_ips(old), &key);
        }
        self.services_by_ip.add(ips, &key);
        changed
    }

    fn delete_service(&mut self, meta: &Meta) -> bool {
        let Some(ns) = self.namespaces.get_mut(&*meta.namespace) else { return false };
        let Some(old) = ns.take_service(&meta.name) else { return false };
        let key: Key = (ns.name().clone(), old.name.clone());
        self.services_by_ip.remove(cluster_ips(&old), &key);
        self.tidy(&meta.namespace);
        true
    }

    fn upsert_slice(&mut self, meta: &Meta, slice: objects::Slice, imported: bool) -> bool {
        let ns = self.entry(&meta.namespace);
        let name = ns.held_slice(&meta.name, imported).map_or_else(|| Rc::from(&*meta.name), |s| s.name.clone());
        let key: Key = (ns.name().clone(), name.clone());
        let ips: Vec<IpAddr> = slice.addresses.iter().map(|a| a.ip).collect();
        let changed = ns
            .held_slice(&meta.name, imported)
            .is_none_or(|old| old.version != slice.version && !old.same_for_dns(&slice));
        let old = ns.put_slice(Named::new(name, slice), imported);
        if !imported {
            if let Some(old) = &old {
                self.slices_by_ip.remove(old.addresses.iter().map(|a| a.ip), &key);
            }
            self.slices_by_ip.add(ips, &key);
        }
        changed
    }

    fn delete_slice(&mut self, meta: &Meta, imported: bool) -> bool {
        let Some(ns) = self.namespaces.get_mut(&*meta.namespace) else { return false };
        let Some(old) = ns.take_slice(&meta.name, imported) else { return false };
        if !imported {
            let key: Key = (ns.name().clone(), old.name.clone());
            self.slices_by_ip.remove(old.addresses.iter().map(|a| a.ip), &key);
        }
        self.tidy(&meta.namespace);
        true
    }

    fn upsert_pod(&mut self, meta: &Meta, pod: objects::Pod) -> bool {
        let ns = self.entry(&meta.namespace);
        let name = ns.pod(&meta.name).map_or_else(|| Rc::from(&*meta.name), |p| p.name.clone());
        let key: Key = (ns.name().clone(), name.clone());
        let ips = pod.ips.clone();
        let old = ns.put_pod(Named::new(name, pod));
        // Only the IPs show in DNS; label and status churn does not count.
        let changed = old.as_ref().is_none_or(|o| o.ips != ips);
        if let Some(old) = &old {
            self.pods_by_ip.remove(old.ips.iter(), &key);
        }
        self.pods_by_ip.add(ips.iter(), &key);
        changed
    }

    fn delete_pod(&mut self, meta: &Meta) -> bool {
        let Some(ns) = self.namespaces.get_mut(&*meta.namespace) else { return false };
        let Some(old) = ns.take_pod(&meta.name) else { return false };
        let key: Key = (ns.name().clone(), old.name.clone());
        self.pods_by_ip.remove(old.ips.iter(), &key);
        self.tidy(&meta.namespace);
        true
    }

    fn upsert_import(&mut self, meta: &Meta, si: objects::ServiceImport) -> bool {
        let ns = self.entry(&meta.namespace);
        let changed = ns.import(&meta.name).is_none_or(|old| {
            old.version != si.version && (old.headless, &old.ips, &old.ports) != (si.headless, &si.ips, &si.ports)
        });
        let name = ns.import(&meta.name).map_or_else(|| Rc::from(&*meta.name), |i| i.name.clone());
        ns.put_import(Named::new(name, si));
        changed
    }

    fn delete_import(&mut self, meta: &Meta) -> bool {
        let removed = self.namespaces.get_mut(&*meta.namespace).and_then(|ns| ns.take_import(&meta.name)).is_some();
        self.tidy(&meta.namespace);
        removed
    }
}

fn cluster_ips(svc: &Service) -> impl Iterator<Item = IpAddr> + '_ {
    let ips = match &svc.addressing {
        Addressing::ClusterIps(ips) => Some(ips),
        _ => None,
    };
    ips.into_iter().flat_map(Ips::iter)
}

/// What the kubernetes plugin counts as a DNS-visible service update: the
/// external name or any port. Addressing is compared too: it cannot change
/// in a real cluster, but it can between two snapshots.
fn service_differs(old: &Service, new: &Service) -> bool {
    old.external_name != new.external_name || old.ports != new.ports || old.addressing != new.addressing
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
        let mut idx = Index::new(Seeded::new(1), Selection::all(), Keep::default());
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
        let mut idx = Index::new(Seeded::new(5), Selection::all(), Keep::default());
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
        let mut idx = Index::new(Seeded::new(2), Selection::all(), Keep::default());
        idx.apply(1, &ev(Change::Upsert, Kind::EndpointSlice, &slice("db-b", "db", &["10.1.0.2"], "1"))).unwrap();
        idx.apply(2, &ev(Change::Upsert, Kind::EndpointSlice, &slice("db-a", "db", &["10.1.0.1"], "1"))).unwrap();
        let ns = idx.namespace("shop").unwrap();
        let names: Vec<&str> = ns.slices_for("db").map(|s| &*s.name).collect();
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
        let mut idx = Index::new(Seeded::new(3), Selection::all(), Keep::default());
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
        let mut idx = Index::new(Seeded::new(4), Selection::all(), Keep::default());
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

    /// An index selecting as a stanza with these options does.
    fn index_for(props: &[(&str, &[&str])]) -> Index {
        let stanza = crate::options::stanza(&["cluster.local", "clusterset.local"], props);
        let config = &crate::options::parse(&[stanza]).unwrap().stanzas[0];
        Index::new(Seeded::new(9), Selection::new(config), Keep::default())
    }

    /// An object's JSON with these labels (and, for a pod, this phase).
    fn labelled(kind: Kind, name: &str, labels: &[(&str, &str)], phase: &str) -> String {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!(r#""{k}":"{v}""#)).collect();
        let meta = format!(r#""metadata":{{"name":"{name}","namespace":"shop","labels":{{{}}}}}"#, labels.join(","));
        match kind {
            Kind::Namespace => format!(r#"{{"metadata":{{"name":"{name}","labels":{{{}}}}}}}"#, labels.join(",")),
            Kind::Service => format!(r#"{{{meta},"spec":{{"clusterIP":"10.0.0.1"}}}}"#),
            Kind::EndpointSlice => {
                format!(r#"{{{meta},"addressType":"IPv4","endpoints":[{{"addresses":["10.1.0.1"]}}]}}"#)
            }
            Kind::Pod => format!(r#"{{{meta},"status":{{"phase":"{phase}","podIPs":[{{"ip":"10.2.0.1"}}]}}}}"#),
            Kind::ServiceImport => format!(r#"{{{meta},"spec":{{"type":"Headless"}}}}"#),
        }
    }

    /// Whether the index holds `name` of `kind` (in namespace `shop`).
    fn holds(idx: &Index, kind: Kind, name: &str) -> bool {
        let ns = idx.namespace(if kind == Kind::Namespace { name } else { "shop" });
        match kind {
            Kind::Namespace => ns.is_some_and(|ns| ns.exists),
            Kind::Service => ns.is_some_and(|ns| ns.service(name).is_some()),
            Kind::EndpointSlice => ns.is_some_and(|ns| ns.slice(name).is_some()),
            Kind::Pod => ns.is_some_and(|ns| ns.pod(name).is_some()),
            Kind::ServiceImport => ns.is_some_and(|ns| ns.import(name).is_some()),
        }
    }

    #[test]
    fn selection_in_apply_adds_and_removes() {
        let mut idx = index_for(&[
            ("labels", &["app=web"]),
            ("namespace_labels", &["team=a"]),
            ("pods", &["verified"]),
            ("multicluster", &["clusterset.local"]),
        ]);
        let web = [("app", "web"), ("kubernetes.io/service-name", "web")];
        let db = [("app", "db"), ("kubernetes.io/service-name", "web")];
        let team = [("team", "a")];
        // (kind, labels, phase, held afterwards), applied in order to one
        // object of each kind: each step is an update of the one before.
        type Step<'a> = (Kind, &'a [(&'a str, &'a str)], &'a str, bool);
        let steps: &[Step] = &[
            (Kind::Service, &web, "", true),
            (Kind::Service, &db, "", false),
            (Kind::Service, &db, "", false),
            (Kind::Service, &web, "", true),
            (Kind::EndpointSlice, &web, "", true),
            (Kind::EndpointSlice, &db, "", false),
            (Kind::Pod, &web, "Running", true),
            (Kind::Pod, &web, "Succeeded", false),
            (Kind::Pod, &web, "Pending", true),
            (Kind::Pod, &web, "Unknown", false),
            (Kind::Pod, &web, "Failed", false),
            (Kind::Pod, &db, "Running", false),
            (Kind::Namespace, &team, "", true),
            (Kind::Namespace, &web, "", false),
            (Kind::ServiceImport, &team, "", true),
            (Kind::ServiceImport, &web, "", false),
        ];
        for (i, (kind, labels, phase, held)) in steps.iter().enumerate() {
            let name = if *kind == Kind::Namespace { "shop" } else { "web" };
            let json = labelled(*kind, name, labels, phase);
            // Left out is not a problem: the object is applied, or removed.
            assert_eq!(idx.apply(i as i64 + 1, &ev(Change::Upsert, *kind, &json)), Ok(()), "step {i}");
            assert_eq!(holds(&idx, *kind, name), *held, "step {i}: {kind:?} {labels:?} {phase}");
        }
    }

    #[test]
    fn slices_move_between_sets_as_their_labels_change() {
        let own = ("kubernetes.io/service-name", "web");
        let imported = ("multicluster.kubernetes.io/service-name", "web");
        // (options, labels of each successive version, [local, imported]
        // held after each)
        type Case<'a> = (&'a [(&'a str, &'a [&'a str])], &'a [(&'a [(&'a str, &'a str)], [bool; 2])]);
        let cases: &[Case] = &[
            (
                &[("multicluster", &["clusterset.local"])],
                &[
                    (&[own], [true, false]),
                    (&[imported], [false, true]),
                    (&[own, imported], [true, true]),
                    (&[own], [true, false]),
                    (&[imported], [false, true]),
                ],
            ),
            (
                &[("multicluster", &["clusterset.local"]), ("noendpoints", &[])],
                &[(&[imported], [false, true]), (&[own], [false, false]), (&[own, imported], [false, true])],
            ),
            (&[], &[(&[own], [true, false]), (&[imported], [false, false]), (&[own, imported], [true, false])]),
        ];
        for (props, versions) in cases {
            let mut idx = index_for(props);
            for (i, (labels, [local, mc])) in versions.iter().enumerate() {
                let json = labelled(Kind::EndpointSlice, "web-x", labels, "");
                assert_eq!(idx.apply(i as i64 + 1, &ev(Change::Upsert, Kind::EndpointSlice, &json)), Ok(()));
                let ns = idx.namespace("shop");
                let held = [
                    ns.is_some_and(|ns| ns.slices_for("web").count() == 1),
                    ns.is_some_and(|ns| ns.mc_slices_for("web").count() == 1),
                ];
                assert_eq!(held, [*local, *mc], "{props:?} version {i}: {labels:?}");
                assert_eq!(idx.slices_at(&"10.1.0.1".parse().unwrap()).len(), usize::from(*local));
            }
            // A deletion takes it out of every set.
            let gone = r#"{"metadata":{"name":"web-x","namespace":"shop"}}"#;
            idx.apply(99, &ev(Change::Delete, Kind::EndpointSlice, gone)).unwrap();
            assert!(idx.namespace("shop").is_none(), "{props:?}");
        }
    }

    #[test]
    fn moving_a_slice_moves_the_serials_it_shows_in() {
        let mut idx = index_for(&[("multicluster", &["clusterset.local"])]);
        let own = ("kubernetes.io/service-name", "web");
        let imported = ("multicluster.kubernetes.io/service-name", "web");
        let put = |idx: &mut Index, now: i64, labels: &[(&str, &str)]| {
            let json = labelled(Kind::EndpointSlice, "web-x", labels, "");
            idx.apply(now, &ev(Change::Upsert, Kind::EndpointSlice, &json)).unwrap();
            (idx.serial, idx.mc_serial)
        };
        assert_eq!(put(&mut idx, 10, &[own]), (10, 0));
        assert_eq!(put(&mut idx, 20, &[imported]), (20, 20));
        assert_eq!(put(&mut idx, 30, &[own, imported]), (30, 20));
    }

    #[test]
    fn unreadable_objects_change_nothing_and_unread_kinds_are_ignored() {
        let mut idx = index_for(&[]);
        let own = [("kubernetes.io/service-name", "web")];
        let json = labelled(Kind::EndpointSlice, "web-x", &own, "");
        idx.apply(1, &ev(Change::Upsert, Kind::EndpointSlice, &json)).unwrap();
        // A version DNS cannot read (no service name) is a problem, and the
        // held version stays.
        let unnamed = labelled(Kind::EndpointSlice, "web-x", &[], "");
        assert!(idx.apply(2, &ev(Change::Upsert, Kind::EndpointSlice, &unnamed)).is_err());
        assert!(holds(&idx, Kind::EndpointSlice, "web-x"));
        assert_eq!(idx.serial, 1);
        // Pods without `pods verified`: not read, not a problem.
        let pod = labelled(Kind::Pod, "p", &[], "Running");
        assert_eq!(idx.apply(3, &ev(Change::Upsert, Kind::Pod, &pod)), Ok(()));
        assert!(!holds(&idx, Kind::Pod, "p"));
        assert_eq!(idx.apply(4, &ev(Change::Upsert, Kind::Pod, "not json")), Ok(()));
    }
}
