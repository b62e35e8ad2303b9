//! Zone transfer contents (AXFR, and IXFR answered by AXFR or by the SOA
//! alone), as the kubernetes plugin builds them for CoreDNS's `transfer`
//! plugin, in a stable order, in pages.
//!
//! Order: the SOA; one NS per name CoreDNS is known by; their addresses;
//! every exposed service by namespace then name (the plugin sorts by name
//! only, with no tie-break, so its order varies between runs); the SOA
//! again. Pods, PTRs and zonal names are not listed; `ignore
//! empty_service` does not apply, as in the plugin.
//!
//! A page holds whole units — the SOA and NS records, a service with its
//! records, or one endpoint of a headless service with its own — until it
//! holds `budget` records or more; its cursor names the next unit by key
//! (see `cursor`). Namespaces and services are kept in name order by the
//! index, so a page costs a lookup to resume plus what it lists, and does
//! not depend on the zone's size.

use std::net::IpAddr;

use super::Stanza;
use super::answers::srv_weight;
use super::cursor::{Cursor, Position};
use super::seen::Seen;
use crate::cluster::ips::Ips;
use crate::cluster::namespace::{Named, Namespace};
use crate::cluster::objects::{Addressing, Port, Service, ServiceImport, Slice};
use crate::cluster::seeded::Seeded;
use crate::dns::{Name, Owner, RData, Record};

/// Records a page holds: a bound on the work of one call, whatever the
/// zone's size. A page may end up to one unit past it.
pub const PAGE_RECORDS: usize = 2000;

/// One page of a transfer: records in transfer order, and the cursor of
/// the next page (None on the last, which ends with the SOA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Record>,
    pub next: Option<Vec<u8>>,
}

impl Stanza {
    /// Whether this stanza answers transfers of `zone`: one of its forward
    /// zones, exactly.
    pub fn transfers(&self, zone: &Name) -> bool {
        self.config.zones.iter().enumerate().any(|(i, z)| z.eq_ignore_case(zone) && self.is_forward(i))
    }

    /// A page of the transfer of `zone`: the first when `cursor` is empty,
    /// else the one the cursor names. On the first page, a client `serial`
    /// that is not zero and not older than ours (RFC 1982 arithmetic) gets
    /// the SOA alone: it is up to date.
    pub fn transfer(
        &self,
        zone: &Name,
        serial: u32,
        cursor: &[u8],
        budget: usize,
        local_ips: &[IpAddr],
    ) -> Result<Page, String> {
        let mut out = Emitter::new(zone, self, false);
        let (ours, position) = if cursor.is_empty() {
            let soa = self.soa(zone);
            let ours = self.serial_of(zone);
            if serial != 0 && serial_not_older(serial, ours) {
                return Ok(Page { records: vec![soa], next: None });
            }
            out.records.push(soa);
            out.ns_records(&self.ns_addrs(zone, local_ips));
            (ours, Position::default())
        } else {
            let cursor = Cursor::decode(cursor, zone)?;
            (cursor.serial, cursor.position)
        };
        let next = match self.walk(zone, &position, budget, &mut out) {
            Err(position) => Some(Cursor { zone: zone.clone(), serial: ours, position }.encode()),
            Ok(()) => {
                out.records.push(self.soa_at(zone, ours));
                None
            }
        };
        Ok(Page { records: out.records, next })
    }

    /// Lists units from `from` on until the zone is done, or until `budget`
    /// is spent: then fails with where the next page starts.
    fn walk(&self, zone: &Name, from: &Position, budget: usize, out: &mut Emitter) -> Result<(), Position> {
        let at =
            At { budget, imported: self.config.is_multicluster_zone(zone), pod_names: self.config.endpoint_pod_names };
        for ns in self.index.namespaces_from(&from.namespace) {
            let namespace: &str = ns.name();
            let stopped = |service: &str, stop: Stop| Position {
                namespace: namespace.into(),
                service: service.into(),
                slice: stop.slice,
                address: stop.address,
            };
            // Where to resume in this namespace: only the first one may
            // start inside.
            let inside = Some(from).filter(|p| p.namespace == namespace);
            if !self.exposed(namespace) {
                out.idle(budget).map_err(|stop| stopped("", stop))?;
                continue;
            }
            let first = inside.map_or("", |p| p.service.as_str());
            let resume = |service: &str| match inside.filter(|p| p.service == service) {
                Some(p) => (p.slice.as_str(), p.address),
                None => ("", 0),
            };
            let listed: Box<dyn Iterator<Item = (&str, Listed)>> = if at.imported {
                Box::new(ns.imports_from(first).map(|si| (&*si.name, Listed::import(si))))
            } else {
                Box::new(ns.services_from(first).map(|svc| (&*svc.name, Listed::service(svc))))
            };
            for (name, listed) in listed {
                out.list(name, listed, ns, resume(name), &at).map_err(|stop| stopped(name, stop))?;
            }
        }
        Ok(())
    }

    /// The records a transfer of `zone` starts with: the SOA carrying
    /// `serial`, the NS records and their addresses.
    pub fn transfer_head(&self, zone: &Name, serial: u32, local_ips: &[IpAddr]) -> Vec<Record> {
        let mut out = Emitter::new(zone, self, false);
        out.records.push(self.soa_at(zone, serial));
        out.ns_records(&self.ns_addrs(zone, local_ips));
        out.records
    }

    /// The first service a transfer of `zone` lists at or after `from`
    /// (namespace, service) in transfer order. For merged transfers of a
    /// `clusterset` zone, which are never `multicluster` ones.
    pub fn listed_from(&self, from: (&str, &str)) -> Option<(String, String)> {
        for ns in self.index.namespaces_from(from.0) {
            let namespace: &str = ns.name();
            if !self.exposed(namespace) {
                continue;
            }
            let first = if namespace == from.0 { from.1 } else { "" };
            if let Some(svc) = ns.services_from(first).find(|svc| !matches!(Listed::service(svc), Listed::Nothing)) {
                return Some((namespace.to_string(), svc.name.to_string()));
            }
        }
        None
    }

    /// One service's records for the transfer of a zone several stanzas
    /// serve (`chain::joint`), as `how` says, from endpoint `from.1` of
    /// slice `from.0` on (a headless service), until about `budget`
    /// records. None when the stanza lists nothing for the service: it is
    /// missing, not exposed, not transferable, or hidden by `ignore
    /// empty_service` (as queries hide it).
    pub fn list_service(
        &self,
        how: &Style,
        namespace: &str,
        service: &str,
        from: (&str, u32),
        budget: usize,
    ) -> Option<ServicePage> {
        if !self.exposed(namespace) {
            return None;
        }
        let ns = self.index.namespace(namespace)?;
        let svc = ns.service(service)?;
        if self.config.ignore_empty_service && self.hides_empty(ns, svc) {
            return None;
        }
        let listed = Listed::service(svc);
        if matches!(listed, Listed::Nothing) {
            return None;
        }
        let mut out = Emitter::new(how.names, self, how.service_srv);
        out.targets = how.targets;
        out.listed = how.listed;
        out.weight = how.weight;
        let at = At { budget, imported: false, pod_names: self.config.endpoint_pod_names };
        let stop = out.list(service, listed, ns, from, &at).err().map(|stop| (stop.slice, stop.address));
        Some(ServicePage { records: out.records, stop })
    }

    /// Whether the service has a ready endpoint at `ip`, named `endpoint`
    /// when one is given: the index's addresses, not a scan of the service.
    pub fn holds(&self, namespace: &str, service: &str, ip: IpAddr, endpoint: Option<&str>) -> bool {
        if !self.exposed(namespace) {
            return false;
        }
        let Some(ns) = self.index.namespace(namespace) else { return false };
        let pod_names = self.config.endpoint_pod_names;
        let named = |a: &crate::cluster::objects::Address| {
            a.ip == ip && endpoint.is_none_or(|e| a.endpoint_name(pod_names).as_str().eq_ignore_ascii_case(e))
        };
        self.index
            .slices_at(&ip)
            .iter()
            .filter(|(n, _)| **n == *namespace)
            .filter_map(|(_, slice)| ns.slice(slice))
            .any(|slice| *slice.service == *service && slice.addresses.iter().any(|a| named(&a)))
    }

    fn exposed(&self, namespace: &str) -> bool {
        (self.config.namespaces.is_empty() || self.config.namespaces.contains(namespace))
            && self.index.namespace(namespace).is_some_and(|ns| ns.exists)
    }
}

/// Whether another member lists an endpoint's address: (address, endpoint
/// name) -> (at the service name, at the endpoint name).
pub type Held<'a> = dyn Fn(IpAddr, &str) -> (bool, bool) + 'a;

/// How `list_service` writes a service's records.
pub struct Style<'a> {
    /// The zone names are written under: the zone, or a cluster set
    /// member's own copy of it (`CLUSTER.ZONE`).
    pub names: &'a Name,
    /// SRV targets under this zone instead (a member's copy, for the
    /// merged records of a cluster set).
    pub targets: Option<&'a Name>,
    /// Whether another member already lists an endpoint's address at the
    /// service name and at its endpoint name: (address, endpoint name) ->
    /// (at the service, at the endpoint name). Those records are left out.
    pub listed: Option<&'a Held<'a>>,
    /// SRV records at the service name for a headless service's endpoints.
    pub service_srv: bool,
    /// Every SRV record's weight, in place of the plugin's split.
    pub weight: Option<u16>,
}

/// What `list_service` listed, and where it stopped: before endpoint
/// `stop.1` of slice `stop.0`, or (empty slice) before the service.
pub struct ServicePage {
    pub records: Vec<Record>,
    pub stop: Option<(String, u32)>,
}

/// Whether serial `a` is equal to or newer than `b` (RFC 1982).
pub fn serial_not_older(a: u32, b: u32) -> bool {
    a == b || (a.wrapping_sub(b) as i32) > 0
}

/// What a service or an import shows in a transfer.
enum Listed<'a> {
    /// An ExternalName service's target.
    Cname(&'a Name),
    /// Its own addresses, and SRV records for its ports.
    Addresses(&'a Ips, &'a [Port]),
    /// Its endpoints (headless).
    Endpoints,
    Nothing,
}

impl<'a> Listed<'a> {
    fn service(svc: &'a Service) -> Listed<'a> {
        match &svc.addressing {
            Addressing::ExternalName(Some(target)) => Listed::Cname(target),
            Addressing::ClusterIps(ips) if svc.transferable => Listed::Addresses(ips, &svc.ports),
            Addressing::Headless if svc.transferable => Listed::Endpoints,
            _ => Listed::Nothing,
        }
    }

    fn import(si: &'a ServiceImport) -> Listed<'a> {
        if si.ips.is_empty() { Listed::Endpoints } else { Listed::Addresses(&si.ips, &si.ports) }
    }
}

/// What holds for a whole page: its budget, whether it lists a
/// multicluster zone (imports and their slices), `endpoint_pod_names`.
struct At {
    budget: usize,
    imported: bool,
    pod_names: bool,
}

/// Where the walk stopped inside a service: before one of its endpoints,
/// or (no slice) before the service itself.
struct Stop {
    slice: String,
    address: u32,
}

/// Collects a page's records, counting the work done.
struct Emitter<'z> {
    records: Vec<Record>,
    /// Units visited that listed nothing (namespaces not exposed, services
    /// with nothing to list): work too, so a page is bounded even when
    /// nothing shows.
    idle: usize,
    zone: &'z Name,
    ttl: u32,
    seed: Seeded,
    /// Whether a headless service's endpoints also get SRV records at the
    /// service name (transfers of zones several stanzas serve).
    service_srv: bool,
    /// See `Style`.
    targets: Option<&'z Name>,
    listed: Option<&'z Held<'z>>,
    weight: Option<u16>,
}

impl<'z> Emitter<'z> {
    fn new(zone: &'z Name, stanza: &Stanza, service_srv: bool) -> Emitter<'z> {
        Emitter {
            records: Vec::new(),
            idle: 0,
            zone,
            ttl: stanza.config.ttl,
            seed: stanza.seed,
            service_srv,
            targets: None,
            listed: None,
            weight: None,
        }
    }

    /// Before a unit: stop if the page is full.
    fn room(&self, budget: usize, slice: &str, address: usize) -> Result<(), Stop> {
        if self.records.len() + self.idle >= budget {
            return Err(Stop { slice: slice.into(), address: address as u32 });
        }
        Ok(())
    }

    /// A unit that lists nothing.
    fn idle(&mut self, budget: usize) -> Result<(), Stop> {
        self.room(budget, "", 0)?;
        self.idle += 1;
        Ok(())
    }

    fn name(&self, labels: &[&str]) -> Option<Name> {
        Name::with_prefix(labels, self.zone).ok()
    }

    fn push(&mut self, owner: &Name, data: RData) {
        self.records.push(Record::new(Owner::Name(owner.clone()), self.ttl, data));
    }

    /// NS records for the names CoreDNS is known by, and their addresses.
    fn ns_records(&mut self, addrs: &[(Name, IpAddr)]) {
        let mut hosts = Seen::new(self.seed);
        for (name, _) in addrs {
            if hosts.first(name) {
                let zone = self.zone.clone();
                self.push(&zone, RData::Ns(name.clone()));
            }
        }
        for (name, ip) in addrs {
            self.push(name, RData::address(*ip));
        }
    }

    /// Service or import `name`, from endpoint `from.1` of slice `from.0`
    /// on when the page before stopped inside it.
    fn list(&mut self, name: &str, listed: Listed, ns: &Namespace, from: (&str, u32), at: &At) -> Result<(), Stop> {
        let namespace: &str = ns.name();
        let Some(owner) = self.name(&[name, namespace, "svc"]) else { return self.idle(at.budget) };
        match listed {
            Listed::Cname(target) => {
                self.room(at.budget, "", 0)?;
                self.push(&owner, RData::Cname(target.clone()));
            }
            Listed::Addresses(ips, ports) => {
                self.room(at.budget, "", 0)?;
                for ip in ips.iter() {
                    self.push(&owner, RData::address(ip));
                }
                self.ports(&[name, namespace], &owner, ports, 100);
            }
            Listed::Endpoints => {
                let slices = ns.slices_from(name, from.0, at.imported);
                self.endpoints(&[name, namespace], &owner, slices, from, at)?;
            }
            Listed::Nothing => self.idle(at.budget)?,
        }
        Ok(())
    }

    /// SRV at the service name for every port, and at `_proto._name` for
    /// named ones (unnamed ports have no SRV name in the specification).
    fn ports(&mut self, service: &[&str; 2], target: &Name, ports: &[Port], weight: u16) {
        let weight = self.weight.unwrap_or(weight);
        for p in ports {
            // The plugin writes a port-less object's sentinel -1 as 65535.
            let port = p.port as u16;
            let srv = RData::Srv { priority: 0, weight, port, target: target.clone() };
            self.push(target, srv.clone());
            if let Some(owner) = self.port_name(service, p) {
                self.push(&owner, srv);
            }
        }
    }

    fn port_name(&self, service: &[&str; 2], p: &Port) -> Option<Name> {
        if p.name.is_empty() {
            return None;
        }
        let name = format!("_{}", p.name.to_ascii_lowercase());
        let proto = format!("_{}", p.protocol.as_str().to_ascii_lowercase());
        self.name(&[&name, &proto, service[0], service[1], "svc"])
    }

    /// The endpoints of a headless service, one unit each, from address
    /// `from.1` of slice `from.0` on.
    fn endpoints<'s>(
        &mut self,
        service: &[&str; 2],
        owner: &Name,
        slices: impl Iterator<Item = &'s Named<Slice>>,
        from: (&str, u32),
        at: &At,
    ) -> Result<(), Stop> {
        let targets = self.targets.map(|z| Name::with_prefix(&[service[0], service[1], "svc"], z));
        for slice in slices {
            let first = if *slice.name == *from.0 { from.1 as usize } else { 0 };
            let weight = self.weight.unwrap_or_else(|| srv_weight(slice.addresses.len()));
            for (i, addr) in slice.addresses.iter().enumerate().skip(first) {
                self.room(at.budget, &slice.name, i)?;
                let name = addr.endpoint_name(at.pod_names);
                let (at_service, at_name) = self.listed.map_or((false, false), |f| f(addr.ip, name.as_str()));
                if !at_service {
                    self.push(owner, RData::address(addr.ip));
                }
                let Ok(host) = Name::with_prefix(&[name.as_str()], owner) else { continue };
                if !at_name {
                    self.push(&host, RData::address(addr.ip));
                }
                let target = match &targets {
                    Some(Ok(under)) => Name::with_prefix(&[name.as_str()], under).unwrap_or_else(|_| host.clone()),
                    _ => host.clone(),
                };
                for p in slice.ports.iter() {
                    let srv = RData::Srv { priority: 0, weight, port: p.port as u16, target: target.clone() };
                    if self.service_srv {
                        self.push(owner, srv.clone());
                    }
                    if let Some(srv_owner) = self.port_name(service, p) {
                        self.push(&srv_owner, srv);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic() {
        assert!(serial_not_older(5, 5));
        assert!(serial_not_older(6, 5));
        assert!(!serial_not_older(4, 5));
        assert!(serial_not_older(1, u32::MAX), "wraps around");
        assert!(!serial_not_older(u32::MAX, 1));
    }
}
