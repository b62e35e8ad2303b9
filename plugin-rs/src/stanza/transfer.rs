//! Zone transfer contents (AXFR, and IXFR answered by AXFR or by the SOA
//! alone), as the kubernetes plugin builds them for CoreDNS's `transfer`
//! plugin, in a stable order.
//!
//! Order: the SOA; one NS per name CoreDNS is known by; their addresses;
//! every exposed service by namespace then name (the plugin sorts by name
//! only, with no tie-break, so its order varies between runs); the SOA
//! again. Pods, PTRs and zonal names are not listed; `ignore
//! empty_service` does not apply, as in the plugin.

use std::net::IpAddr;

use super::{Stanza, srv_weight};
use crate::cluster::objects::{Addressing, Port, Service, ServiceImport, Slice};
use crate::dns::{Name, Owner, RData, Record, reverse};

impl Stanza {
    /// Whether this stanza answers transfers of `zone`: one of its forward
    /// zones, exactly.
    pub fn transfers(&self, zone: &Name) -> bool {
        self.config.zones.iter().enumerate().any(|(i, z)| z.eq_ignore_case(zone) && self.is_forward(i))
    }

    pub(crate) fn is_forward(&self, i: usize) -> bool {
        let z = &self.config.zones[i];
        !reverse::is_reverse(z) && !z.to_string().ends_with("arpa.")
    }

    /// The records of a transfer of `zone`. A client `serial` that is not
    /// zero and not older than ours (RFC 1982 arithmetic) gets the SOA
    /// alone: it is up to date.
    pub fn transfer(&self, zone: &Name, serial: u32, local_ips: &[IpAddr]) -> Vec<Record> {
        let soa = self.soa(zone);
        let RData::Soa { serial: ours, .. } = soa.data else { return vec![soa] };
        if serial != 0 && serial_not_older(serial, ours) {
            return vec![soa];
        }
        let ttl = self.config.ttl;
        let mut records = vec![soa.clone()];
        let addrs = self.ns_addrs(zone, local_ips);
        let mut hosts: Vec<&Name> = Vec::new();
        for (name, _) in &addrs {
            if !hosts.contains(&name) {
                hosts.push(name);
                records.push(Record::new(Owner::Name(zone.clone()), ttl, RData::Ns(name.clone())));
            }
        }
        records.extend(addrs.iter().map(|(name, ip)| Record::new(Owner::Name(name.clone()), ttl, RData::address(*ip))));
        let mut out = Emitter { records, zone, ttl };
        let multicluster = self.config.is_multicluster_zone(zone);
        for (namespace, ns) in self.index.sorted_namespaces() {
            if !self.exposed(namespace) {
                continue;
            }
            if multicluster {
                let mut imports: Vec<&ServiceImport> = ns.imports.values().collect();
                imports.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
                for si in imports {
                    let slices: Vec<&Slice> = ns.mc_slices_for(&si.meta.name).collect();
                    out.import(si, &slices, self.config.endpoint_pod_names);
                }
            } else {
                let mut services: Vec<&Service> = ns.services.values().collect();
                services.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
                for svc in services {
                    let slices: Vec<&Slice> = ns.slices_for(&svc.meta.name).collect();
                    out.service(svc, &slices, self.config.endpoint_pod_names);
                }
            }
        }
        out.records.push(soa);
        out.records
    }

    fn exposed(&self, namespace: &str) -> bool {
        (self.config.namespaces.is_empty() || self.config.namespaces.contains(namespace))
            && self.index.namespace(namespace).is_some_and(|ns| ns.exists)
    }
}

/// Whether serial `a` is equal to or newer than `b` (RFC 1982).
pub fn serial_not_older(a: u32, b: u32) -> bool {
    a == b || (a.wrapping_sub(b) as i32) > 0
}

struct Emitter<'z> {
    records: Vec<Record>,
    zone: &'z Name,
    ttl: u32,
}

impl Emitter<'_> {
    fn name(&self, labels: &[&str]) -> Option<Name> {
        Name::with_prefix(labels, self.zone).ok()
    }

    fn push(&mut self, owner: &Name, data: RData) {
        self.records.push(Record::new(Owner::Name(owner.clone()), self.ttl, data));
    }

    fn service(&mut self, svc: &Service, slices: &[&Slice], pod_names: bool) {
        let (namespace, name) = (&*svc.meta.namespace, &*svc.meta.name);
        let Some(owner) = self.name(&[name, namespace, "svc"]) else { return };
        match &svc.addressing {
            Addressing::ExternalName(Some(target)) => self.push(&owner, RData::Cname(target.clone())),
            Addressing::ClusterIps(ips) if svc.transferable => {
                for ip in ips {
                    self.push(&owner, RData::address(*ip));
                }
                self.ports(&[name, namespace], &owner, &svc.ports, 100);
            }
            Addressing::Headless if svc.transferable => {
                for slice in slices {
                    self.endpoints(&[name, namespace], &owner, slice, pod_names);
                }
            }
            _ => {}
        }
    }

    fn import(&mut self, si: &ServiceImport, slices: &[&Slice], pod_names: bool) {
        let (namespace, name) = (&*si.meta.namespace, &*si.meta.name);
        let Some(owner) = self.name(&[name, namespace, "svc"]) else { return };
        if si.ips.is_empty() {
            for slice in slices {
                self.endpoints(&[name, namespace], &owner, slice, pod_names);
            }
            return;
        }
        for ip in &si.ips {
            self.push(&owner, RData::address(*ip));
        }
        self.ports(&[name, namespace], &owner, &si.ports, 100);
    }

    /// SRV at the service name for every port, and at `_proto._name` for
    /// named ones (unnamed ports have no SRV name in the specification).
    fn ports(&mut self, service: &[&str; 2], target: &Name, ports: &[Port], weight: u16) {
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
        let proto = format!("_{}", p.protocol.to_ascii_lowercase());
        self.name(&[&name, &proto, service[0], service[1], "svc"])
    }

    fn endpoints(&mut self, service: &[&str; 2], owner: &Name, slice: &Slice, pod_names: bool) {
        let weight = srv_weight(slice.addresses.len());
        for addr in &slice.addresses {
            self.push(owner, RData::address(addr.ip));
            let Ok(host) = Name::with_prefix(&[addr.endpoint_name(pod_names)], owner) else { continue };
            self.push(&host, RData::address(addr.ip));
            for p in &slice.ports {
                if let Some(srv_owner) = self.port_name(service, p) {
                    let srv = RData::Srv { priority: 0, weight, port: p.port as u16, target: host.clone() };
                    self.push(&srv_owner, srv);
                }
            }
        }
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
