//! How one stanza answers a query.
//!
//! This follows CoreDNS's kubernetes plugin (its `ServeDNS`, `Services`,
//! `Records` and the shared backend lookups) case by case, because clients
//! depend on its exact NXDOMAIN/NODATA split, record order and SRV
//! weights. Where kubernetai deliberately answers differently, the comment
//! says so and README.md lists it.
//!
//! A lookup first collects "found" entries (an address, a CNAME target or a
//! text, with the name it lives under), then each query type turns them
//! into records, as the plugin's `msg.Service` values are turned.

use std::borrow::Cow;
use std::net::IpAddr;

use super::grammar::{self, Request, Tree};
use super::seen::Seen;
use super::{Lookup, NoSuchName, Served, Shape, Stanza, Upstream};
use crate::cluster::namespace::{Named, Namespace};
use crate::cluster::objects::{Address, Addressing, Label, Port, Service, Slice, undashed};
use crate::dns::{Name, Owner, Query, RData, Rcode, Record, RecordType, Response, reverse};
use crate::options::PodMode;

/// Longest CNAME chain followed, as the plugin's.
const MAX_CNAME_CHAIN: usize = 10;
/// TTL of the `dns-version` TXT record.
const DNS_VERSION_TTL: u32 = 28800;
/// The Kubernetes DNS schema version this serves.
const DNS_SCHEMA_VERSION: &str = "1.1.0";

/// The name being looked up: the question, or a CNAME target followed in
/// the zone.
struct State<'z> {
    owner: Owner,
    /// Lower-cased name.
    name: Cow<'z, Name>,
    /// The matched zone, in the case the client wrote it.
    zone: &'z Name,
    qtype: RecordType,
}

/// Labels left of the zone, lower-cased, leftmost first. Every lookup
/// parses them, and names in a zone have a handful: up to `INLINE` stay
/// on the stack.
struct Base<'s> {
    inline: [&'s [u8]; Base::INLINE],
    len: usize,
    /// All of them, when there are more than `INLINE`.
    all: Vec<&'s [u8]>,
}

impl<'s> Base<'s> {
    const INLINE: usize = 8;

    fn of(labels: impl Iterator<Item = &'s [u8]>) -> Base<'s> {
        let mut base = Base { inline: [&[]; Base::INLINE], len: 0, all: Vec::new() };
        for label in labels {
            if base.len < Base::INLINE {
                base.inline[base.len] = label;
                base.len += 1;
            } else {
                if base.all.is_empty() {
                    base.all.extend_from_slice(&base.inline);
                }
                base.all.push(label);
            }
        }
        base
    }

    fn as_slice(&self) -> &[&'s [u8]] {
        if self.all.is_empty() { &self.inline[..self.len] } else { &self.all }
    }
}

impl State<'_> {
    fn base(&self) -> Base<'_> {
        Base::of(self.base_labels())
    }

    /// The same labels, without collecting them.
    fn base_labels(&self) -> impl Iterator<Item = &[u8]> {
        self.name.suffix_start(self.zone).into_iter().flat_map(|end| self.name.labels_before(end))
    }

    fn is_apex(&self) -> bool {
        self.name.eq_ignore_case(self.zone)
    }
}

/// Where a found value lives: the name SRV targets and NS records use.
/// Endpoints are named when the name is needed (`domain`): most answers
/// never need it, and a dashed address is written out to be one.
enum Key<'a> {
    Service { namespace: &'a str, service: &'a str },
    Endpoint { namespace: &'a str, service: &'a str, endpoint: Address<'a> },
    ClusterEndpoint { namespace: &'a str, service: &'a str, cluster: &'a str, endpoint: Address<'a> },
    Pod { namespace: &'a [u8], pod: &'a [u8] },
    Name(Name),
}

impl Key<'_> {
    /// The name, with endpoints named as `endpoint_pod_names` says.
    fn domain(&self, zone: &Name, pod_names: bool) -> Option<Name> {
        let built = match self {
            Key::Service { namespace, service } => Name::with_prefix(&[*service, *namespace, "svc"], zone),
            Key::Endpoint { namespace, service, endpoint } => {
                let endpoint = endpoint.endpoint_name(pod_names);
                Name::with_prefix(&[endpoint.as_str(), service, namespace, "svc"], zone)
            }
            Key::ClusterEndpoint { namespace, service, cluster, endpoint } => {
                let endpoint = endpoint.endpoint_name(pod_names);
                Name::with_prefix(&[endpoint.as_str(), cluster, service, namespace, "svc"], zone)
            }
            Key::Pod { namespace, pod } => Name::with_prefix(&[*pod, *namespace, b"pod"], zone),
            Key::Name(name) => Ok(name.clone()),
        };
        built.ok()
    }
}

enum Held<'a> {
    Ip(IpAddr),
    /// A CNAME target (ExternalName services).
    Target(&'a Name),
    Text(&'static str),
}

struct Found<'a> {
    held: Held<'a>,
    /// -1 when the object declares no ports.
    port: i32,
    key: Key<'a>,
    ttl: u32,
}

impl Stanza {
    /// Answers `query` if it is in this stanza's zones.
    pub fn answer(&self, query: &Query, up: &mut Upstream, local_ips: &[IpAddr]) -> Served {
        let Some(zone) = self.zone_of(&query.qname) else { return Served::NotInZone };
        // NOTIFY (and any opcode but QUERY) for a name in the zone: the
        // kubernetes plugin answers it as a query, which tells a primary
        // sending NOTIFY that it was understood; nothing here acts on one,
        // so say so, as RFC 1996 asks of servers without NOTIFY. Names outside go on to the plugins
        // that may, such as `secondary`.
        if !query.is_standard() {
            return Served::Respond(Response { rcode: Rcode::NotImp, ..Response::default() });
        }
        let state = State { owner: Owner::Question, name: query.qname.lowercased(), zone: &zone, qtype: query.qtype };
        let mut answer = Vec::new();
        let mut extra = Vec::new();
        let mut truncated = false;
        let result = match query.qtype {
            RecordType::A | RecordType::Aaaa => {
                self.addresses(&state, up, local_ips, &mut Vec::new()).map(|(records, tc)| {
                    answer = records;
                    truncated = tc;
                })
            }
            RecordType::Txt => self.txt(&state).map(|records| answer = records),
            RecordType::Cname => self.cname(&state, local_ips).map(|records| answer = records),
            RecordType::Ptr => self.ptr(&state).map(|records| answer = records),
            // Kubernetes names have no mail exchangers: NODATA where the name
            // exists.
            RecordType::Mx => self.services(&state, local_ips).map(|_| ()),
            RecordType::Srv => self.srv(&state, local_ips).map(|(records, additional)| {
                answer = records;
                extra = additional;
            }),
            RecordType::Soa => {
                if state.name.wire().len() == zone.wire().len() {
                    answer.push(self.soa(&zone));
                }
                Ok(())
            }
            RecordType::Axfr | RecordType::Ixfr => return Served::Rcode(Rcode::Refused),
            // The plugin compares the lower-cased name with the zone as the
            // client wrote it, so `NS CLUSTER.LOCAL.` missed its NS records;
            // here any case finds them.
            RecordType::Ns if state.is_apex() => self.ns(&state, local_ips).map(|(records, additional)| {
                answer = records;
                extra = additional;
            }),
            // Any other type: the name exists (NODATA) or not (NXDOMAIN), as
            // an A lookup finds it.
            _ => {
                let fake = State { qtype: RecordType::A, ..state };
                let quiet = std::mem::replace(&mut up.quiet, true);
                let result = self.addresses(&fake, up, local_ips, &mut Vec::new()).map(|_| ());
                up.quiet = quiet;
                result
            }
        };
        match result {
            Err(NoSuchName) => Served::NameError(zone),
            Ok(()) if !up.needed.is_empty() => Served::Upstream(std::mem::take(&mut up.needed)),
            Ok(()) if answer.is_empty() => Served::Respond(self.negative(&zone, Rcode::NoError)),
            Ok(()) => Served::Respond(Response {
                rcode: Rcode::NoError,
                authoritative: true,
                truncated,
                answer,
                authority: Vec::new(),
                additional: extra,
            }),
        }
    }

    /// How `name` (lower case) is merged across a cluster set, by what it
    /// names here; None when its service (or namespace) is not here. Names
    /// that are not a service's are `First`, ready: the first member that
    /// has one answers for it.
    pub fn shape(&self, name: &Name) -> Option<Shape> {
        let zone = self.zone_of(name)?;
        if reverse::is_reverse(name) {
            return Some(Shape::Each);
        }
        let state = State { owner: Owner::Question, name: Cow::Borrowed(name), zone: &zone, qtype: RecordType::A };
        let base = state.base();
        let multicluster = self.config.is_multicluster_zone(&zone);
        let r = grammar::parse(base.as_slice(), multicluster, self.config.zonal).ok()?;
        if r.tree != Tree::Svc || r.service.is_empty() {
            return Some(Shape::First { ready: true });
        }
        let ns = self.exposed_namespace(r.namespace)?;
        let svc = std::str::from_utf8(r.service).ok().and_then(|s| ns.service(s))?;
        if !r.endpoint.is_empty() || svc.is_headless() {
            return Some(Shape::Each);
        }
        let ready = svc.is_external_name() || ns.slices_for(&svc.name).any(|s| !s.addresses.is_empty());
        Some(Shape::First { ready })
    }

    /// A and AAAA records, following CNAMEs of ExternalName services: in the
    /// zone by looking again, outside it through the host.
    fn addresses(
        &self,
        state: &State,
        up: &mut Upstream,
        local_ips: &[IpAddr],
        chain: &mut Vec<Name>,
    ) -> Lookup<(Vec<Record>, bool)> {
        let found = self.services(state, local_ips)?;
        let want_v4 = state.qtype == RecordType::A;
        let mut records = Vec::new();
        let mut truncated = false;
        let mut seen = Seen::new(self.seed);
        for f in &found {
            match f.held {
                Held::Target(target) => {
                    // x CNAME x (or below x) would loop.
                    if target.is_subdomain_of(&state.name)
                        || chain.len() > MAX_CNAME_CHAIN
                        || chain.iter().any(|t| t == target)
                    {
                        continue;
                    }
                    let cname = Record::new(state.owner.clone(), f.ttl, RData::Cname(target.clone()));
                    if target.is_subdomain_of(state.zone) {
                        let next = State {
                            owner: Owner::Name(target.clone()),
                            name: target.lowercased(),
                            zone: state.zone,
                            qtype: state.qtype,
                        };
                        chain.push(target.clone());
                        let followed = self.addresses(&next, up, local_ips, chain);
                        chain.pop();
                        if let Ok((more, tc)) = followed {
                            if !more.is_empty() {
                                records.push(cname);
                                records.extend(more);
                            }
                            truncated |= tc;
                        }
                    } else if let Some(reply) = up.reply(target, state.qtype) {
                        records.push(cname);
                        // Only what answers an address query: aliases and
                        // addresses. Records of other types are copied
                        // blind, and a resolver's odd one would make the
                        // whole answer unreadable.
                        let answers = reply.answers.iter().filter(|r| {
                            matches!(r.rtype, RecordType::A | RecordType::Aaaa | RecordType::Cname | RecordType::Dname)
                        });
                        records.extend(answers.map(Record::from_raw));
                        truncated |= reply.truncated;
                    }
                }
                Held::Ip(IpAddr::V4(v4)) if want_v4 && seen.first(IpAddr::V4(v4)) => {
                    records.push(Record::new(state.owner.clone(), f.ttl, RData::A(v4)));
                }
                Held::Ip(IpAddr::V6(v6)) if !want_v4 && seen.first(IpAddr::V6(v6)) => {
                    records.push(Record::new(state.owner.clone(), f.ttl, RData::Aaaa(v6)));
                }
                _ => {}
            }
        }
        Ok((records, truncated))
    }

    /// The plugin's `Services`: what a name holds, by query type.
    fn services<'a>(&'a self, state: &'a State, local_ips: &[IpAddr]) -> Lookup<Vec<Found<'a>>> {
        match state.qtype {
            RecordType::Txt => return self.txt_services(state),
            RecordType::Ns => return Ok(self.ns_services(state.zone, local_ips)),
            _ => {}
        }
        if self.is_default_ns(state) {
            return Ok(self
                .ns_addrs(state.zone, local_ips)
                .into_iter()
                .filter(|(_, ip)| (state.qtype == RecordType::A) == ip.is_ipv4() && state.qtype.is_address())
                .map(|(_, ip)| Found {
                    held: Held::Ip(ip),
                    port: 0,
                    key: Key::Name(state.name.as_ref().clone()),
                    ttl: self.config.ttl,
                })
                .collect());
        }
        let mut found = self.records(state)?;
        if state.qtype == RecordType::Srv {
            // No SRV records for ExternalName services.
            found.retain(|f| !matches!(f.held, Held::Target(_)));
        }
        Ok(found)
    }

    /// `ns.dns.<zone>`: the name of CoreDNS itself. The plugin recognised it
    /// only when the zone was asked in lower case; any case works here.
    fn is_default_ns(&self, state: &State) -> bool {
        state.base_labels().eq([b"ns".as_slice(), b"dns"])
    }

    /// TXT: the schema version, or nothing for a name that exists.
    ///
    /// The plugin answers NXDOMAIN for TXT at names that exist but hold no
    /// service (the apex, a namespace); an NXDOMAIN there tells resolvers
    /// that follow RFC 8020 that nothing below exists, services included.
    /// Here every existing name answers NODATA.
    fn txt_services<'a>(&'a self, state: &'a State) -> Lookup<Vec<Found<'a>>> {
        if state.base().as_slice() == [b"dns-version".as_slice()] {
            let key = Key::Name(state.name.as_ref().clone());
            return Ok(vec![Found { held: Held::Text(DNS_SCHEMA_VERSION), port: 0, key, ttl: DNS_VERSION_TTL }]);
        }
        self.records(state).map(|_| Vec::new())
    }

    /// The plugin's `Records`: parses the name and finds its objects.
    fn records<'a>(&'a self, state: &'a State) -> Lookup<Vec<Found<'a>>> {
        let multicluster = self.config.is_multicluster_zone(state.zone);
        let base = state.base();
        let r = grammar::parse(base.as_slice(), multicluster, self.config.zonal).map_err(|_| NoSuchName)?;
        if r.tree == Tree::None {
            return Ok(Vec::new());
        }
        if reverse::is_reverse(&state.name) {
            return Err(NoSuchName);
        }
        let namespace = self.exposed_namespace(r.namespace).ok_or(NoSuchName)?;
        match r.tree {
            Tree::Pod => self.find_pods(&r, namespace),
            _ if multicluster => self.find_imports(&r, namespace),
            _ => self.find_services(&r, namespace),
        }
    }

    /// The namespace, if the stanza exposes it and it exists.
    fn exposed_namespace(&self, name: &[u8]) -> Option<&Namespace> {
        let name = std::str::from_utf8(name).ok()?;
        if !self.config.namespaces.is_empty() && !self.config.namespaces.contains(name) {
            return None;
        }
        self.index.namespace(name).filter(|ns| ns.exists)
    }

    fn find_services<'a>(&'a self, r: &Request<'a>, ns: &'a Namespace) -> Lookup<Vec<Found<'a>>> {
        if r.service.is_empty() {
            return Ok(Vec::new());
        }
        let svc = std::str::from_utf8(r.service).ok().and_then(|s| ns.service(s)).ok_or(NoSuchName)?;
        let ttl = self.config.ttl;
        let key = Key::Service { namespace: ns.name(), service: &svc.name };
        if self.config.ignore_empty_service && self.hides_empty(ns, svc) {
            return Err(NoSuchName);
        }
        // Zonal names are for headless services only.
        if !r.topology.is_empty() && !svc.is_headless() {
            return Err(NoSuchName);
        }
        let mut found = Vec::new();
        match &svc.addressing {
            Addressing::ExternalName(target) => {
                if !r.endpoint.is_empty() || !r.port.is_empty() || !r.protocol.is_empty() {
                    return Err(NoSuchName);
                }
                let target = target.as_ref().ok_or(NoSuchName)?;
                found.push(Found { held: Held::Target(target), port: 0, key, ttl });
            }
            Addressing::ClusterIps(ips) if r.endpoint.is_empty() => {
                if !svc.ports.iter().any(|p| port_matches(r, p)) {
                    return Err(NoSuchName);
                }
                for port in svc.ports.iter().filter(|p| port_matches(r, p)) {
                    found.extend(ips.iter().map(|ip| Found {
                        held: Held::Ip(ip),
                        port: port.port,
                        key: Key::Service { namespace: ns.name(), service: &svc.name },
                        ttl,
                    }));
                }
            }
            // Headless services, and endpoint names under any service.
            _ => {
                let mut added = self.add_endpoints(&mut found, r, ns, svc, &r.topology);
                if added == 0 && r.topology_prefer {
                    added = self.add_endpoints(&mut found, r, ns, svc, b"");
                }
                // A zonal name of a headless service exists even when no
                // endpoint is in that zone: NODATA, not NXDOMAIN.
                if added == 0 && r.topology.is_empty() {
                    return Err(NoSuchName);
                }
            }
        }
        Ok(found)
    }

    /// Whether `ignore empty_service` makes `svc` missing: a ClusterIP
    /// service without ready endpoints.
    pub(super) fn hides_empty(&self, ns: &Namespace, svc: &Named<Service>) -> bool {
        !svc.is_external_name() && !svc.is_headless() && ns.slices_for(&svc.name).all(|s| s.addresses.is_empty())
    }

    /// Endpoint addresses of `svc` matching the request, optionally only in
    /// one topology zone. Returns how many were added.
    fn add_endpoints<'a>(
        &'a self,
        found: &mut Vec<Found<'a>>,
        r: &Request,
        ns: &'a Namespace,
        svc: &'a Named<Service>,
        topology: &[u8],
    ) -> usize {
        let before = found.len();
        let wanted = Label::new(r.endpoint);
        for slice in ns.slices_for(&svc.name) {
            for addr in slice.addresses.iter() {
                if !topology.is_empty() && addr.topology().map(str::as_bytes) != Some(topology) {
                    continue;
                }
                if !r.endpoint.is_empty() && !addr.is_named(&wanted, self.config.endpoint_pod_names) {
                    continue;
                }
                for port in slice.ports.iter().filter(|p| port_matches(r, p)) {
                    found.push(Found {
                        held: Held::Ip(addr.ip),
                        port: port.port,
                        key: Key::Endpoint { namespace: ns.name(), service: &svc.name, endpoint: addr },
                        ttl: self.config.ttl,
                    });
                }
            }
        }
        found.len() - before
    }

    /// Multicluster zones: ServiceImports and their clusters' endpoints.
    fn find_imports<'a>(&'a self, r: &Request<'a>, ns: &'a Namespace) -> Lookup<Vec<Found<'a>>> {
        if r.service.is_empty() {
            return Ok(Vec::new());
        }
        let si = std::str::from_utf8(r.service).ok().and_then(|s| ns.import(s)).ok_or(NoSuchName)?;
        let ttl = self.config.ttl;
        let slices = || ns.mc_slices_for(&si.name);
        if self.config.ignore_empty_service && !si.headless && slices().all(|s| s.addresses.is_empty()) {
            return Err(NoSuchName);
        }
        let mut found = Vec::new();
        if si.headless || !r.endpoint.is_empty() {
            for slice in slices() {
                self.add_cluster_endpoints(&mut found, r, slice, ns.name(), &si.name);
            }
            return if found.is_empty() { Err(NoSuchName) } else { Ok(found) };
        }
        // An import without a matching port has no addresses (imports carry
        // no port sentinel); a matching port without IPs is NODATA.
        if !si.ports.iter().any(|p| port_matches(r, p)) {
            return Err(NoSuchName);
        }
        for port in si.ports.iter().filter(|p| port_matches(r, p)) {
            found.extend(si.ips.iter().map(|ip| Found {
                held: Held::Ip(ip),
                port: port.port,
                key: Key::Service { namespace: ns.name(), service: &si.name },
                ttl,
            }));
        }
        Ok(found)
    }

    fn add_cluster_endpoints<'a>(
        &'a self,
        found: &mut Vec<Found<'a>>,
        r: &Request,
        slice: &'a Slice,
        namespace: &'a str,
        service: &'a str,
    ) {
        let wanted = Label::new(r.endpoint);
        for addr in slice.addresses.iter() {
            if !r.endpoint.is_empty()
                && (!r.cluster.eq_ignore_ascii_case(slice.cluster_id.as_bytes())
                    || !addr.is_named(&wanted, self.config.endpoint_pod_names))
            {
                continue;
            }
            for port in slice.ports.iter().filter(|p| port_matches(r, p)) {
                found.push(Found {
                    held: Held::Ip(addr.ip),
                    port: port.port,
                    key: Key::ClusterEndpoint { namespace, service, cluster: &slice.cluster_id, endpoint: addr },
                    ttl: self.config.ttl,
                });
            }
        }
    }

    /// `a-b-c-d.namespace.pod.zone`, per the `pods` option.
    fn find_pods<'a>(&'a self, r: &Request<'a>, ns: &'a Namespace) -> Lookup<Vec<Found<'a>>> {
        if self.config.pods == PodMode::Disabled {
            return Err(NoSuchName);
        }
        let pod = r.service;
        if pod.is_empty() {
            return Ok(Vec::new());
        }
        let ip = pod_ip(pod).ok_or(NoSuchName)?;
        let key = || Key::Pod { namespace: r.namespace, pod };
        let ttl = self.config.ttl;
        if self.config.pods == PodMode::Insecure {
            return Ok(vec![Found { held: Held::Ip(ip), port: 0, key: key(), ttl }]);
        }
        let found: Vec<Found> = self
            .index
            .pods_at(&ip)
            .iter()
            .filter(|(namespace, _)| namespace.as_bytes().eq_ignore_ascii_case(r.namespace))
            .filter(|(_, name)| ns.pod(name).is_some_and(|p| p.ips.contains(&ip)))
            .map(|_| Found { held: Held::Ip(ip), port: 0, key: key(), ttl })
            .collect();
        if found.is_empty() { Err(NoSuchName) } else { Ok(found) }
    }

    fn txt(&self, state: &State) -> Lookup<Vec<Record>> {
        let found = self.txt_services(state)?;
        let mut texts = Seen::new(self.seed);
        let mut records = Vec::new();
        for f in &found {
            if let Held::Text(text) = f.held
                && texts.first(text)
            {
                records.push(Record::new(state.owner.clone(), f.ttl, RData::Txt(split255(text))));
            }
        }
        Ok(records)
    }

    /// CNAME: the first thing the name holds, when that is a name.
    fn cname(&self, state: &State, local_ips: &[IpAddr]) -> Lookup<Vec<Record>> {
        let found = self.services(state, local_ips)?;
        Ok(match found.first() {
            Some(Found { held: Held::Target(target), ttl, .. }) => {
                vec![Record::new(state.owner.clone(), *ttl, RData::Cname((*target).clone()))]
            }
            _ => Vec::new(),
        })
    }

    /// PTR for a service's cluster IP, else for every endpoint with that
    /// address. Targets are under the primary zone. Services sharing a
    /// cluster IP get one PTR, for the first exposed one by namespace then
    /// name; the plugin names whichever its index returns first, which is
    /// not stable. An IPv4-mapped address under ip6.arpa
    /// (`::ffff:10.96.0.10`) is the IPv4 address it maps (RFC 4291
    /// §2.5.5.2) and gets that address's PTR, as in the plugin, which
    /// reads the reverse name back into text that writes such an address
    /// as IPv4.
    fn ptr(&self, state: &State) -> Lookup<Vec<Record>> {
        let Some(ip) = reverse::address_from_reverse(&state.name) else {
            return self.records(state).map(|_| Vec::new());
        };
        let ip = ip.to_canonical();
        let targets = self.names_for_ip(&ip);
        if targets.is_empty() {
            return Err(NoSuchName);
        }
        let mut seen = Seen::new(self.seed);
        let records = targets
            .into_iter()
            .filter(|target| seen.first(target.clone()))
            .map(|target| Record::new(state.owner.clone(), self.config.ttl, RData::Ptr(target)))
            .collect();
        Ok(records)
    }

    fn names_for_ip(&self, ip: &IpAddr) -> Vec<Name> {
        let primary = self.config.primary_zone();
        // As the plugin does, only `namespaces` filters reverse answers.
        let listed = |ns: &str| self.config.namespaces.is_empty() || self.exposed_namespace(ns.as_bytes()).is_some();
        if let Some((ns, svc)) = self.index.services_at(ip).iter().find(|(ns, _)| listed(ns)) {
            return Name::with_prefix(&[&**svc, &**ns, "svc"], primary).into_iter().collect();
        }
        let mut names = Vec::new();
        for (ns, slice) in self.index.slices_at(ip).iter().filter(|(ns, _)| listed(ns)) {
            let Some(slice) = self.index.namespace(ns).and_then(|n| n.slice(slice)) else { continue };
            for addr in slice.addresses.iter().filter(|a| a.ip == *ip) {
                let endpoint = addr.endpoint_name(self.config.endpoint_pod_names);
                names.extend(Name::with_prefix(&[endpoint.as_str(), &slice.service, ns, "svc"], primary));
            }
        }
        names
    }

    /// SRV: one record per (target, port), with each target's address in
    /// the additional section. Weights split 100 evenly (floored) over
    /// everything found, as the plugin computes them.
    fn srv(&self, state: &State, local_ips: &[IpAddr]) -> Lookup<(Vec<Record>, Vec<Record>)> {
        let found = self.services(state, local_ips)?;
        let weight = srv_weight(found.len());
        let mut records = Vec::new();
        let mut extra = Vec::new();
        let mut seen_srv = Seen::new(self.seed);
        let mut seen_addr = Seen::new(self.seed);
        for f in found.iter().filter(|f| f.port != -1) {
            let Held::Ip(ip) = f.held else { continue };
            let Some(target) = f.key.domain(state.zone, self.config.endpoint_pod_names) else { continue };
            let port = f.port as u16;
            if seen_srv.first((target.clone(), port)) {
                let srv = RData::Srv { priority: 0, weight, port, target: target.clone() };
                records.push(Record::new(state.owner.clone(), f.ttl, srv));
            }
            if seen_addr.first((target.clone(), ip)) {
                extra.push(Record::new(Owner::Name(target), f.ttl, RData::address(ip)));
            }
        }
        Ok((records, extra))
    }

    /// NS at the apex, with the addresses as glue.
    fn ns(&self, state: &State, local_ips: &[IpAddr]) -> Lookup<(Vec<Record>, Vec<Record>)> {
        let mut records = Vec::new();
        let mut extra = Vec::new();
        let mut seen = Seen::new(self.seed);
        for (name, ip) in self.ns_addrs(state.zone, local_ips) {
            extra.push(Record::new(Owner::Name(name.clone()), self.config.ttl, RData::address(ip)));
            if seen.first(name.clone()) {
                records.push(Record::new(state.owner.clone(), self.config.ttl, RData::Ns(name)));
            }
        }
        Ok((records, extra))
    }

    fn ns_services<'a>(&self, zone: &Name, local_ips: &[IpAddr]) -> Vec<Found<'a>> {
        self.ns_addrs(zone, local_ips)
            .into_iter()
            .map(|(name, ip)| Found { held: Held::Ip(ip), port: 0, key: Key::Name(name), ttl: self.config.ttl })
            .collect()
    }

    /// CoreDNS's own names and addresses: the services whose endpoints hold
    /// an address CoreDNS listens on (their cluster IPs, or for headless
    /// services their endpoints), else `ns.dns.<zone>` at the listening
    /// addresses themselves.
    pub fn ns_addrs(&self, zone: &Name, local_ips: &[IpAddr]) -> Vec<(Name, IpAddr)> {
        let mut out = Vec::new();
        let mut found_endpoint = false;
        for local in local_ips {
            for (ns, slice_name) in self.index.slices_at(local) {
                found_endpoint = true;
                let Some(namespace) = self.index.namespace(ns) else { continue };
                let Some(slice) = namespace.slice(slice_name) else { continue };
                let Some(svc) = namespace.service(&slice.service) else { continue };
                let Ok(svc_name) = Name::with_prefix(&[&*svc.name, ns, "svc"], zone) else { continue };
                match &svc.addressing {
                    Addressing::Headless => {
                        for addr in slice.addresses.iter() {
                            let endpoint = addr.endpoint_name(self.config.endpoint_pod_names);
                            if let Ok(name) = Name::with_prefix(&[endpoint.as_str()], &svc_name) {
                                out.push((name, addr.ip));
                            }
                        }
                    }
                    Addressing::ClusterIps(ips) => out.extend(ips.iter().map(|ip| (svc_name.clone(), ip))),
                    Addressing::ExternalName(_) => {}
                }
            }
        }
        if !found_endpoint && let Ok(name) = Name::with_prefix(&["ns", "dns"], zone) {
            out.extend(local_ips.iter().map(|ip| (name.clone(), *ip)));
        }
        out
    }
}

/// A port matches when the request names none or the same (any case).
fn port_matches(r: &Request, p: &Port) -> bool {
    (r.port.is_empty() || r.port.eq_ignore_ascii_case(p.name.as_bytes()))
        && (r.protocol.is_empty() || r.protocol.eq_ignore_ascii_case(p.protocol.as_str().as_bytes()))
}

/// The address a pod name stands for: `10-0-0-1` or `fd00--1`.
fn pod_ip(label: &[u8]) -> Option<IpAddr> {
    undashed(label).map(|ip| ip.to_canonical())
}

/// The weight each of `n` equal SRV records gets, computed in floating
/// point as the plugin does (`floor(100 / (100 n) * 100)`, at least 1).
pub fn srv_weight(n: usize) -> u16 {
    let total = 100.0 * n as f64;
    let weight = (100.0 / total * 100.0).floor() as u16;
    weight.max(1)
}

/// TXT strings are at most 255 octets each.
fn split255(text: &str) -> Vec<Vec<u8>> {
    text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::seen::take_probes;

    #[test]
    fn srv_weights_match_the_plugin() {
        for (n, w) in [(1, 100), (2, 50), (3, 33), (7, 14), (100, 1), (101, 1), (1000, 1)] {
            assert_eq!(srv_weight(n), w, "{n}");
        }
    }

    #[test]
    fn pod_names_to_addresses() {
        for (label, want) in [
            ("10-0-0-1", Some("10.0.0.1")),
            ("fd00--1", Some("fd00::1")),
            ("--ffff-a00-1", Some("10.0.0.1")),
            ("10-0-0-01", None),
            ("web", None),
            ("1-2-3", None),
        ] {
            assert_eq!(pod_ip(label.as_bytes()), want.map(|w| w.parse().unwrap()), "{label}");
        }
    }

    /// A stanza for `cluster.local` and reverse zones holding a headless
    /// service `big` in `shop` of `n` endpoints over slices of 1000, with
    /// ports `http` and `metrics`; and a slice of `shared` endpoints
    /// (`h0`, `h1`...) all at 10.9.9.9.
    fn big_stanza(n: usize, shared: usize) -> Stanza {
        use crate::contract::{Change, Event, Kind};
        let input = crate::options::stanza(&["cluster.local", "in-addr.arpa"], &[]);
        let config = crate::options::parse(&[input]).unwrap().stanzas.remove(0);
        let mut stanza = Stanza::new(config, crate::cluster::seeded::Seeded::new(7));
        let upsert = |kind, json: String| Event { change: Change::Upsert, kind, object: json.into_bytes() };
        let ports = r#"[{"name":"http","port":80,"protocol":"TCP"},{"name":"metrics","port":9090,"protocol":"TCP"}]"#;
        let slice = |name: &str, service: &str, endpoints: Vec<String>| {
            format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"shop","labels":{{"kubernetes.io/service-name":"{service}"}}}},
                   "addressType":"IPv4","endpoints":[{}],"ports":{ports}}}"#,
                endpoints.join(",")
            )
        };
        let mut events = vec![
            upsert(Kind::Namespace, r#"{"metadata":{"name":"shop"}}"#.into()),
            upsert(
                Kind::Service,
                r#"{"metadata":{"name":"big","namespace":"shop"},"spec":{"clusterIP":"None"}}"#.into(),
            ),
            upsert(
                Kind::Service,
                r#"{"metadata":{"name":"many","namespace":"shop"},"spec":{"clusterIP":"None"}}"#.into(),
            ),
        ];
        let address = |i: usize| format!(r#"{{"addresses":["10.{}.{}.{}"]}}"#, 1 + i / 65536, (i / 256) % 256, i % 256);
        for first in (0..n).step_by(1000) {
            let endpoints = (first..n.min(first + 1000)).map(address).collect();
            events.push(upsert(Kind::EndpointSlice, slice(&format!("big-{first}"), "big", endpoints)));
        }
        let hosts = (0..shared).map(|i| format!(r#"{{"addresses":["10.9.9.9"],"hostname":"h{i}"}}"#)).collect();
        events.push(upsert(Kind::EndpointSlice, slice("many-0", "many", hosts)));
        for event in &events {
            stanza.index.apply(1, event).unwrap();
        }
        stanza
    }

    /// Records of every section of an answer.
    fn answered(stanza: &Stanza, name: &str, qtype: RecordType, local_ips: &[IpAddr]) -> usize {
        match stanza.answer(&query(name, qtype, 0), &mut Upstream::new(&[]), local_ips) {
            Served::Respond(r) => r.answer.len() + r.authority.len() + r.additional.len(),
            other => panic!("{name} {qtype:?}: {other:?}"),
        }
    }

    fn query(name: &str, qtype: RecordType, opcode: u8) -> Query {
        Query {
            id: 1,
            opcode,
            recursion_desired: false,
            checking_disabled: false,
            qname: Name::parse(name).unwrap(),
            qtype,
            qclass: 1,
        }
    }

    /// Only standard queries are answered: any other opcode for a name in
    /// the zones, existing or not, is NOTIMP; outside them, not ours.
    #[test]
    fn other_opcodes_are_not_implemented() {
        use hickory_proto::op::{Message, OpCode, ResponseCode};
        use hickory_proto::serialize::binary::BinDecodable;
        let stanza = big_stanza(3, 1);
        let (notify, update) = (4, 5);
        // (opcode, name, type, rcode; None: left to the chain, a name outside
        // the zones or missing)
        let cases: &[(u8, &str, RecordType, Option<ResponseCode>)] = &[
            (0, "big.shop.svc.cluster.local.", RecordType::A, Some(ResponseCode::NoError)),
            (0, "nope.shop.svc.cluster.local.", RecordType::A, None),
            (notify, "cluster.local.", RecordType::Soa, Some(ResponseCode::NotImp)),
            (notify, "big.shop.svc.cluster.local.", RecordType::A, Some(ResponseCode::NotImp)),
            (notify, "nope.shop.svc.cluster.local.", RecordType::A, Some(ResponseCode::NotImp)),
            (notify, "example.org.", RecordType::Soa, None),
            (update, "cluster.local.", RecordType::Soa, Some(ResponseCode::NotImp)),
            (1, "big.shop.svc.cluster.local.", RecordType::A, Some(ResponseCode::NotImp)),
            (2, "cluster.local.", RecordType::A, Some(ResponseCode::NotImp)),
            (15, "cluster.local.", RecordType::A, Some(ResponseCode::NotImp)),
        ];
        for (opcode, name, qtype, want) in cases {
            let q = query(name, *qtype, *opcode);
            let what = format!("opcode {opcode} {name} {qtype:?}");
            let response = match stanza.answer(&q, &mut Upstream::new(&[]), &[]) {
                Served::Respond(r) => r,
                Served::NotInZone | Served::NameError(_) => {
                    assert!(want.is_none() || *opcode == 0, "{what}: not answered");
                    continue;
                }
                other => panic!("{what}: {other:?}"),
            };
            let m = Message::from_bytes(&response.encode(&q)).unwrap();
            assert_eq!(Some(m.metadata.response_code), *want, "{what}");
            assert_eq!(m.metadata.op_code, OpCode::from_u8(*opcode), "{what}");
            assert_eq!(m.queries[0].name().to_string(), *name, "{what}: the question is echoed");
            if *opcode != 0 {
                assert!(m.answers.is_empty() && m.authorities.is_empty() && m.additionals.is_empty(), "{what}");
                assert!(!m.metadata.authoritative, "{what}");
            }
        }
    }

    /// Dropping repeated records costs at most a few probes per record
    /// found, whatever the answer's size: filters that searched lists (SRV
    /// targets, PTR and NS names) cost the square of it.
    #[test]
    fn de_duplication_is_linear_in_the_records_found() {
        const N: usize = 20_000;
        let stanza = big_stanza(N, 2000);
        let big = "big.shop.svc.cluster.local.";
        let local: IpAddr = "10.1.0.5".parse().unwrap();
        // (name, type, local IPs, records found behind the answer)
        let cases: &[(&str, RecordType, &[IpAddr], usize)] = &[
            (big, RecordType::Srv, &[], 2 * N),
            (big, RecordType::A, &[], 2 * N),
            (big, RecordType::Aaaa, &[], 2 * N),
            ("_http._tcp.big.shop.svc.cluster.local.", RecordType::Srv, &[], N),
            ("10-1-0-7.big.shop.svc.cluster.local.", RecordType::Srv, &[], 2),
            ("9.9.9.10.in-addr.arpa.", RecordType::Ptr, &[], 2000),
            ("cluster.local.", RecordType::Ns, &[local], 1000),
            ("cluster.local.", RecordType::Txt, &[], 1),
        ];
        for (name, qtype, local_ips, found) in cases {
            take_probes();
            let records = answered(&stanza, name, *qtype, local_ips);
            let probes = take_probes();
            assert!(probes <= 4 * found.max(&16), "{name} {qtype:?}: {probes} probes for {found} found");
            assert!(records > 0 || *qtype == RecordType::Txt, "{name} {qtype:?}: no records");
        }
    }

    #[test]
    fn long_texts_split() {
        let long = "x".repeat(300);
        let parts = split255(&long);
        assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), vec![255, 45]);
    }

    /// Names with more labels than fit on the stack keep all of them, in
    /// order.
    #[test]
    fn base_keeps_every_label() {
        for n in [0, 1, Base::INLINE, Base::INLINE + 1, 3 * Base::INLINE] {
            let labels: Vec<Vec<u8>> = (0..n).map(|i| format!("l{i}").into_bytes()).collect();
            let want: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
            assert_eq!(Base::of(want.iter().copied()).as_slice(), want, "{n} labels");
        }
    }
}
