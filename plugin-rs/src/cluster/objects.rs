//! Kubernetes objects, trimmed to what DNS reads.
//!
//! Objects arrive as the API's JSON, are decoded into the narrow types of
//! `api`, then cut down: a Service keeps its addresses and ports, an
//! EndpointSlice its ready addresses, a Pod its IPs. Anything DNS cannot
//! serve (an address that is not an IP, a service with no usable cluster
//! IP) makes the object a problem the caller reports and skips.
//!
//! Every pool instance holds every object, so what is kept is kept small
//! (issue 11): an object's namespace and name are the keys the index
//! holds it under, not fields of its own; its resourceVersion is a hash;
//! port lists, which most objects share, are held once (`PortLists`); an
//! endpoint's dashed name is computed from its address when asked for.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use serde::Deserialize;
use siphasher::sip::SipHasher13;

use super::api::{self, ObjectMeta};
use super::ips::Ips;
use super::seeded::{Seeded, Set};
use crate::contract::Kind;
use crate::dns::Name;
use crate::dns::name::MAX_LABEL_LEN;

/// The service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The imported multi-cluster service an EndpointSlice belongs to.
pub const MC_SERVICE_NAME_LABEL: &str = "multicluster.kubernetes.io/service-name";
/// The cluster a multi-cluster EndpointSlice comes from.
const MC_SOURCE_CLUSTER_LABEL: &str = "multicluster.kubernetes.io/source-cluster";

/// Identity of an object as decoded, while it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub namespace: Box<str>,
    pub name: Box<str>,
    pub version: Box<str>,
}

impl std::fmt::Display for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// An object's resourceVersion, only ever compared (an upsert of the
/// version held is a resync, not a change), so kept as a 64-bit hash
/// rather than as text. The hash is unkeyed: versions are written by the
/// API server, not chosen by cluster users, and are no table's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(u64);

impl Version {
    pub fn of(meta: &Meta) -> Version {
        Version(SipHasher13::new().hash(meta.version.as_bytes()))
    }
}

/// A port of a Service or an EndpointSlice. Objects without ports carry one
/// sentinel port numbered -1, as the kubernetes plugin's do, so that names
/// without a port still match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Port {
    pub name: Box<str>,
    pub port: i32,
    pub protocol: Protocol,
}

/// A port's protocol: one of the API's three, or (from a snapshot) any
/// other text, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Other(Box<str>),
}

impl Protocol {
    fn new(text: &str) -> Protocol {
        match text {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            other => Protocol::Other(other.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
            Protocol::Other(text) => text,
        }
    }
}

impl Port {
    fn sentinel() -> Port {
        Port { name: "".into(), port: -1, protocol: Protocol::Other("".into()) }
    }

    /// A port as the API writes it; the protocol defaults to TCP.
    fn new(name: Option<&str>, port: i32, protocol: Option<&str>) -> Port {
        Port { name: name.unwrap_or_default().into(), port, protocol: Protocol::new(protocol.unwrap_or("TCP")) }
    }
}

/// An object's ports, shared by every object declaring the same ones.
pub type Ports = Rc<[Port]>;

/// The port lists objects hold, each held once: most services of a
/// cluster declare the same few (`http` 80/TCP), and a list of its own
/// cost each object an allocation per list and per name. Lists no object
/// holds any more are dropped when the table has doubled since the last
/// sweep, so it stays within twice the lists in use.
#[derive(Debug)]
pub struct PortLists {
    lists: Set<Ports>,
    swept_at: usize,
}

impl PortLists {
    pub fn new(seed: Seeded) -> PortLists {
        PortLists { lists: Set::with_hasher(seed), swept_at: 0 }
    }

    /// The shared list equal to `ports`.
    fn share(&mut self, ports: Vec<Port>) -> Ports {
        if let Some(shared) = self.lists.get(ports.as_slice()) {
            return shared.clone();
        }
        if self.lists.len() >= 2 * self.swept_at.max(8) {
            self.lists.retain(|list| Rc::strong_count(list) > 1);
            self.swept_at = self.lists.len();
        }
        let shared: Ports = ports.into();
        self.lists.insert(shared.clone());
        shared
    }

    /// Lists held, shared or not yet swept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lists.len()
    }
}

/// How a Service is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressing {
    /// Its cluster IPs, one per family.
    ClusterIps(Ips),
    /// No cluster IP: its endpoints are the answer.
    Headless,
    /// A CNAME to this target; None when the target is an IP address or
    /// not a domain name, which the kubernetes plugin does not serve.
    /// Boxed: few services have one, and unboxed it would make every
    /// service's entry a word larger.
    ExternalName(Option<Box<Name>>),
}

/// A Service, held under its name in its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub version: Version,
    pub addressing: Addressing,
    /// The external name as written, for change detection.
    pub external_name: Box<str>,
    /// ClusterIP, NodePort, LoadBalancer (or unset): the types a zone
    /// transfer lists by address.
    pub transferable: bool,
    pub ports: Ports,
}

impl Service {
    pub fn is_headless(&self) -> bool {
        self.addressing == Addressing::Headless
    }

    pub fn is_external_name(&self) -> bool {
        matches!(self.addressing, Addressing::ExternalName(_))
    }
}

/// An EndpointSlice's ready endpoints: their addresses, and the names of
/// those that have any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoints {
    ips: Ips,
    /// Each endpoint's names other than its address, in the order of
    /// `ips`; empty when no endpoint has any, as in most slices.
    names: Box<[Option<Box<Names>>]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Names {
    hostname: Option<Box<str>>,
    /// Name of the pod behind the endpoint, when it fits a label (kept
    /// only for `endpoint_pod_names`; see `fits_a_label`).
    target_ref: Option<Box<str>>,
    /// Lower-case topology zone (kept only for `zonal`).
    topology: Option<Box<str>>,
    /// The dashed name of the address as written, when that is not the
    /// one its canonical text gives (`FD00::1`, `fd00:0::1`).
    dashed: Option<Box<str>>,
}

impl Names {
    /// The names of an endpoint at `ip`, written `text`; None when it has
    /// none but its address.
    fn of(
        ip: IpAddr,
        text: &str,
        hostname: Option<&str>,
        target_ref: Option<&str>,
        topology: Option<&str>,
    ) -> Option<Box<Names>> {
        let written = dashed(text);
        let names = Names {
            hostname: hostname.map(Into::into),
            target_ref: target_ref.map(Into::into),
            topology: topology.map(Into::into),
            dashed: (written != Dashed::of(ip).as_str()).then(|| written.into()),
        };
        (names != Names::default()).then(|| Box::new(names))
    }
}

impl Endpoints {
    fn new(ips: &[IpAddr], names: Vec<Option<Box<Names>>>) -> Endpoints {
        let names = if names.iter().all(Option::is_none) { Box::default() } else { names.into() };
        Endpoints { ips: Ips::new(ips), names }
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// The `i`th endpoint; None past the end.
    pub fn get(&self, i: usize) -> Option<Address<'_>> {
        let ip = self.ips.get(i)?;
        Some(Address { ip, names: self.names.get(i).and_then(Option::as_deref) })
    }

    pub fn iter(&self) -> impl Iterator<Item = Address<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// A ready endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Address<'a> {
    pub ip: IpAddr,
    names: Option<&'a Names>,
}

impl<'a> Address<'a> {
    pub fn hostname(&self) -> Option<&'a str> {
        self.names.and_then(|n| n.hostname.as_deref())
    }

    pub fn topology(&self) -> Option<&'a str> {
        self.names.and_then(|n| n.topology.as_deref())
    }

    /// Whether the endpoint's name under its service is `label` (in any
    /// case).
    pub fn is_named(&self, label: &Label, pod_names: bool) -> bool {
        match self.names {
            // Named by its address: addresses compare for less than
            // writing the name out for every endpoint.
            None => label.ip == Some(self.ip),
            Some(_) => label.text.eq_ignore_ascii_case(self.endpoint_name(pod_names).as_str().as_bytes()),
        }
    }

    /// The endpoint's name under its service: hostname, then (with
    /// `endpoint_pod_names`) the pod name, then the dashed address.
    pub fn endpoint_name(&self, pod_names: bool) -> EndpointName<'a> {
        let Some(names) = self.names else { return EndpointName::Dashed(Dashed::of(self.ip)) };
        if let Some(h) = &names.hostname {
            return EndpointName::Text(h);
        }
        if pod_names && let Some(t) = &names.target_ref {
            return EndpointName::Text(t);
        }
        match &names.dashed {
            Some(written) => EndpointName::Text(written),
            None => EndpointName::Dashed(Dashed::of(self.ip)),
        }
    }
}

/// A label a query names an endpoint by, read once for all the endpoints
/// it is compared with.
pub struct Label<'q> {
    text: &'q [u8],
    /// The address whose dashed name the label is, if any.
    ip: Option<IpAddr>,
}

impl<'q> Label<'q> {
    pub fn new(text: &'q [u8]) -> Label<'q> {
        Label { text, ip: Dashed::parse(text) }
    }
}

/// An endpoint's name: text it holds, or its address's dashed form.
#[derive(Debug, Clone, Copy)]
pub enum EndpointName<'a> {
    Text(&'a str),
    Dashed(Dashed),
}

impl EndpointName<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            EndpointName::Text(text) => text,
            EndpointName::Dashed(dashed) => dashed.as_str(),
        }
    }
}

/// An address with separators turned into dashes, as endpoint names use
/// it (`10-0-0-1`, `fd00--1`), written on the stack: the longest, an
/// IPv6 address of eight full groups, has 39 characters.
#[derive(Clone, Copy)]
pub struct Dashed {
    text: [u8; Dashed::MAX],
    len: u8,
}

impl Dashed {
    const MAX: usize = 40;

    pub fn of(ip: IpAddr) -> Dashed {
        let mut out = Dashed { text: [0; Dashed::MAX], len: 0 };
        match ip {
            // Queries name endpoints by address: written without `fmt`,
            // which costs a lookup of a two-endpoint service a third more.
            IpAddr::V4(ip) => {
                for (i, octet) in ip.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'-');
                    }
                    if octet >= 100 {
                        out.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        out.push(b'0' + octet / 10 % 10);
                    }
                    out.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(_) => {
                // Cannot fail: an address is never longer than MAX.
                let _ = write!(out, "{ip}");
                if dash(&mut out.text[..usize::from(out.len)]) {
                    out.push(b'0');
                }
            }
        }
        out
    }

    /// The address whose dashed name `label` is (in any case), if any.
    fn parse(label: &[u8]) -> Option<IpAddr> {
        if let Some(ip) = dashed_ipv4(label) {
            return Some(IpAddr::V4(ip));
        }
        let ip = undashed(label)?;
        Dashed::of(ip).as_str().as_bytes().eq_ignore_ascii_case(label).then_some(ip)
    }

    /// Adds one character; there is always room (see `MAX`).
    fn push(&mut self, c: u8) {
        if let Some(at) = self.text.get_mut(usize::from(self.len)) {
            *at = c;
            self.len += 1;
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Write for Dashed {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        if end > Dashed::MAX {
            return Err(std::fmt::Error);
        }
        self.text[at..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

impl std::fmt::Debug for Dashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An EndpointSlice's ready addresses and ports, held under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub version: Version,
    /// The service the slice belongs to.
    pub service: Rc<str>,
    pub addresses: Endpoints,
    pub ports: Ports,
    /// Source cluster of a multicluster slice.
    pub cluster_id: Box<str>,
}

impl Slice {
    /// Whether `other` differs in anything DNS shows.
    pub fn same_for_dns(&self, other: &Slice) -> bool {
        self.ports == other.ports
            && self.cluster_id == other.cluster_id
            && self.addresses.len() == other.addresses.len()
            && self
                .addresses
                .iter()
                .zip(other.addresses.iter())
                .all(|(a, b)| a.ip == b.ip && a.hostname() == b.hostname() && a.topology() == b.topology())
    }
}

/// A Pod, held under its name: its IPs, and its labels for metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub ips: Ips,
    pub labels: Box<[(Box<str>, Box<str>)]>,
}

/// A multi-cluster ServiceImport (multicluster.x-k8s.io/v1alpha1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceImport {
    pub version: Version,
    pub headless: bool,
    pub ips: Ips,
    /// Unlike a Service, no sentinel: an import without ports has no
    /// address records, as in the kubernetes plugin.
    pub ports: Ports,
}

/// An object that could not be taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

/// An object as the API sends it, parsed but not yet trimmed: selection
/// reads its labels (and a pod's phase) before anything is kept, so that
/// an object a watch would not have listed is never a problem. Its
/// strings are borrowed from the JSON.
pub trait Object<'a>: Deserialize<'a> {
    fn metadata(&self) -> &ObjectMeta<'_>;

    fn labels(&self) -> &BTreeMap<String, String> {
        self.metadata().labels.as_ref().unwrap_or(&NO_LABELS)
    }
}

/// The metadata of an object without any.
static NO_METADATA: ObjectMeta<'static> =
    ObjectMeta { name: None, namespace: None, labels: None, resource_version: None, deletion_timestamp: None };

macro_rules! objects {
    ($($t:ident),*) => {$(
        impl<'a> Object<'a> for api::$t<'a> {
            fn metadata(&self) -> &ObjectMeta<'_> {
                self.metadata.as_ref().unwrap_or(&NO_METADATA)
            }
        }
    )*};
}

objects!(Namespace, Service, EndpointSlice, Pod);

impl<'a> Object<'a> for ImportJson<'a> {
    fn metadata(&self) -> &ObjectMeta<'_> {
        &self.metadata
    }
}

/// The labels of an object without any.
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// Parses an object of `kind`; its identity must be complete.
pub fn parse<'a, T: Object<'a>>(kind: Kind, json: &'a [u8]) -> Result<(T, Meta), Problem> {
    let object: T = decode(kind, json)?;
    let meta = meta(kind, object.metadata(), kind != Kind::Namespace)?;
    Ok((object, meta))
}

/// How an object's kind is written in problems.
fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Namespace => "namespace",
        Kind::Service => "service",
        Kind::EndpointSlice => "endpointslice",
        Kind::Pod => "pod",
        Kind::ServiceImport => "serviceimport",
    }
}

fn decode<'a, T: Deserialize<'a>>(kind: Kind, json: &'a [u8]) -> Result<T, Problem> {
    serde_json::from_slice(json).map_err(|e| Problem(format!("{}: cannot decode: {e}", identify(kind, json))))
}

/// The kind of an object that could not be decoded, with its namespace
/// and name when its metadata can still be read, so that a problem names
/// the object an operator must fix.
fn identify(kind: Kind, json: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Named {
        metadata: Option<Identity>,
    }
    #[derive(Deserialize)]
    struct Identity {
        name: Option<String>,
        namespace: Option<String>,
    }
    let identity = serde_json::from_slice::<Named>(json).ok().and_then(|n| n.metadata);
    let Some(Identity { name, namespace }) = identity else { return what(kind).into() };
    let name = name.unwrap_or_default();
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{} {ns}/{name}", what(kind)),
        None if name.is_empty() => what(kind).into(),
        None => format!("{} {name}", what(kind)),
    }
}

fn meta(kind: Kind, m: &ObjectMeta, namespaced: bool) -> Result<Meta, Problem> {
    let what = what(kind);
    let name = m.name.as_deref().unwrap_or_default();
    let namespace = m.namespace.as_deref().unwrap_or_default();
    if name.is_empty() && !namespace.is_empty() {
        return Err(Problem(format!("{what} in namespace {namespace} without a name")));
    }
    if name.is_empty() {
        return Err(Problem(format!("{what} without a name")));
    }
    if namespaced && namespace.is_empty() {
        return Err(Problem(format!("{what} {name} without a namespace")));
    }
    Ok(Meta {
        namespace: namespace.into(),
        name: name.into(),
        version: m.resource_version.as_deref().unwrap_or_default().into(),
    })
}

/// The identity of any object, for deletions.
pub fn decode_meta(kind: Kind, json: &[u8]) -> Result<Meta, Problem> {
    #[derive(Deserialize)]
    struct Object<'a> {
        #[serde(default, borrow)]
        metadata: ObjectMeta<'a>,
    }
    let o: Object = decode(kind, json)?;
    meta(kind, &o.metadata, false)
}

/// Trims a Service. Its external IPs and load balancer ingress are read
/// (a malformed one is a problem) but not kept: DNS never serves them.
pub fn trim_service(svc: api::Service, meta: &Meta, lists: &mut PortLists) -> Result<Service, Problem> {
    let spec = svc.spec.unwrap_or_default();
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    let addressing = if kind == "ExternalName" {
        let target = spec.external_name.as_deref().unwrap_or_default();
        let name = (target.parse::<IpAddr>().is_err()).then(|| Name::parse(target).ok()).flatten();
        Addressing::ExternalName(name.map(Box::new))
    } else {
        let ips = match spec.cluster_ips.filter(|ips| !ips.is_empty()) {
            Some(ips) => ips,
            None => vec![spec.cluster_ip.unwrap_or_default()],
        };
        if &*ips[0] == "None" {
            Addressing::Headless
        } else {
            let parsed: Result<Vec<IpAddr>, _> = ips.iter().map(|ip| ip.parse::<IpAddr>()).collect();
            let parsed =
                parsed.map_err(|_| Problem(format!("service {meta}: cluster IPs {ips:?} are not IP addresses")))?;
            Addressing::ClusterIps(Ips::new(&parsed))
        }
    };
    let ports = spec.ports.unwrap_or_default();
    let ports = if ports.is_empty() {
        vec![Port::sentinel()]
    } else {
        ports.iter().map(|p| Port::new(p.name.as_deref(), p.port.unwrap_or_default(), p.protocol.as_deref())).collect()
    };
    Ok(Service {
        version: Version::of(meta),
        addressing,
        external_name: spec.external_name.as_deref().unwrap_or_default().into(),
        transferable: matches!(kind, "ClusterIP" | "NodePort" | "LoadBalancer"),
        ports: lists.share(ports),
    })
}

/// What of an endpoint a stanza reads besides its address and hostname.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    /// Topology zones (`zonal`).
    pub topology: bool,
    /// The names of the pods behind endpoints (`endpoint_pod_names`).
    pub pod_names: bool,
}

/// Trims an EndpointSlice, as a cluster's own slice or (`multicluster`)
/// as one of an imported service, read by its multi-cluster labels.
pub fn trim_slice(
    es: api::EndpointSlice,
    meta: &Meta,
    keep: Keep,
    multicluster: bool,
    lists: &mut PortLists,
) -> Result<Slice, Problem> {
    let labels = es.labels();
    let service_label = if multicluster { MC_SERVICE_NAME_LABEL } else { SERVICE_NAME_LABEL };
    let service = labels
        .get(service_label)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Problem(format!("endpointslice {meta}: no {service_label} label")))?;
    if es.address_type.as_deref() == Some("FQDN") {
        return Err(Problem(format!("endpointslice {meta}: FQDN addresses are not served")));
    }
    let (mut ips, mut names) = (Vec::new(), Vec::new());
    for endpoint in es.endpoints.as_deref().unwrap_or_default() {
        // An unknown readiness counts as ready, as the API defines it.
        let ready = endpoint.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        if !ready {
            continue;
        }
        let target_ref =
            endpoint.target_ref.as_ref().and_then(|r| r.name.as_deref()).filter(|n| keep.pod_names && fits_a_label(n));
        let topology = endpoint.zone.as_deref().filter(|_| keep.topology).map(str::to_ascii_lowercase);
        // The API allows only one label; a snapshot may hold anything, and
        // an empty hostname is no hostname, as the plugin reads it.
        let hostname = endpoint.hostname.as_deref().filter(|h| fits_a_label(h));
        for text in endpoint.addresses.as_deref().unwrap_or_default() {
            let ip: IpAddr = text
                .parse()
                .map_err(|_| Problem(format!("endpointslice {meta}: address {text:?} is not an IP address")))?;
            ips.push(ip);
            names.push(Names::of(ip, text, hostname, target_ref, topology.as_deref()));
        }
    }
    let ports = es.ports.as_deref().unwrap_or_default();
    let ports = if ports.is_empty() {
        vec![Port::sentinel()]
    } else {
        ports.iter().map(|p| Port::new(p.name.as_deref(), p.port.unwrap_or(-1), p.protocol.as_deref())).collect()
    };
    let cluster_id = if multicluster { labels.get(MC_SOURCE_CLUSTER_LABEL).map(String::as_str) } else { None };
    Ok(Slice {
        version: Version::of(meta),
        service: service.as_str().into(),
        addresses: Endpoints::new(&ips, names),
        ports: lists.share(ports),
        cluster_id: cluster_id.unwrap_or_default().into(),
    })
}

/// Whether a pod name (or a hostname) can name an endpoint: it must be
/// one label. A pod
/// name is a DNS subdomain, so it may be longer than a label (the plugin,
/// too, keeps only names shorter than 64 octets) or hold dots. A dotted
/// one would become a label holding an escaped dot (`web\.0.web.shop.svc`),
/// which stub resolvers and tools split in two or refuse; the plugin
/// writes it as two labels, a name it reads back as a port and protocol
/// and answers NXDOMAIN for. Such an endpoint keeps its dashed address,
/// as one with no pod name does. Decided here, as the object is read, so
/// that endpoint names, SRV and PTR targets and zone transfers cannot
/// disagree.
fn fits_a_label(pod: &str) -> bool {
    !pod.is_empty() && pod.len() <= MAX_LABEL_LEN && !pod.contains('.')
}

/// The address a label reads as with its dashes turned back: into dots
/// when there are three and no two in a row (`10-0-0-1`,
/// `::ffff:10-0-0-1`), else into colons (`fd00--1`). Also names the
/// kubernetes plugin reads pod names with; not every label that reads as
/// an address is its dashed name (`fd00-0-0-0-0-0-0-1`).
pub fn undashed(label: &[u8]) -> Option<IpAddr> {
    let dashes = label.iter().filter(|c| **c == b'-').count();
    let separator = if dashes == 3 && !label.windows(2).any(|w| w == b"--") { b'.' } else { b':' };
    // A DNS label has at most 63 octets.
    let mut text = [0; 63];
    let text = text.get_mut(..label.len())?;
    for (t, c) in text.iter_mut().zip(label) {
        *t = if *c == b'-' { separator } else { *c };
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The IPv4 address `label` is the dashed name of (`10-0-0-1`): four
/// decimal numbers up to 255, without leading zeros, as `Dashed::of`
/// writes them.
fn dashed_ipv4(label: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = label.split(|c| *c == b'-');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let mut value = 0u16;
        for c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u16::from(c - b'0');
        }
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// `10.0.0.1` → `10-0-0-1`; `fd00::1` → `fd00--1`; a trailing dash gets
/// a zero so the label does not end with one (`fd00::` → `fd00--0`).
fn dashed(ip: &str) -> String {
    let mut text = ip.as_bytes().to_vec();
    if dash(&mut text) {
        text.push(b'0');
    }
    String::from_utf8(text).unwrap_or_default()
}

/// Turns an address's separators into dashes in place: its dots if it
/// has any, else its colons. Returns whether it then ends with a dash,
/// which needs a zero after it.
fn dash(text: &mut [u8]) -> bool {
    let separator = if text.contains(&b'.') { b'.' } else { b':' };
    for c in text.iter_mut().filter(|c| **c == separator) {
        *c = b'-';
    }
    separator == b':' && text.last() == Some(&b'-')
}

/// Whether a pod is being deleted: it no longer answers.
pub fn deleting(pod: &api::Pod) -> bool {
    pod.metadata().deletion_timestamp.is_some()
}

/// Trims a Pod. A pod being deleted comes back as None.
pub fn trim_pod(pod: api::Pod, meta: &Meta) -> Result<Option<Pod>, Problem> {
    if deleting(&pod) {
        return Ok(None);
    }
    let mut ips = Vec::new();
    for ip in pod.status.as_ref().and_then(|s| s.pod_ips.as_deref()).unwrap_or_default() {
        let ip = ip.ip.as_deref().unwrap_or_default();
        ips.push(ip.parse().map_err(|_| Problem(format!("pod {meta}: pod IP {ip:?} is not an IP address")))?);
    }
    // A BTreeMap's order: sorted by key.
    let labels = pod.metadata.and_then(|m| m.labels).unwrap_or_default();
    let labels = labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    Ok(Some(Pod { ips: Ips::new(&ips), labels }))
}

/// The phase of a pod, empty when not given.
pub fn pod_phase<'p>(pod: &'p api::Pod) -> &'p str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// multicluster.x-k8s.io/v1alpha1 ServiceImport, which k8s-openapi does
/// not type either: the fields DNS reads. Unlike the other kinds it is
/// read by serde's derive, as it always was (a missing port is a problem).
#[derive(Debug, Deserialize)]
pub struct ImportJson<'a> {
    #[serde(default, borrow)]
    metadata: ObjectMeta<'a>,
    #[serde(default)]
    spec: ImportSpec,
}

#[derive(Debug, Deserialize, Default)]
struct ImportSpec {
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default, rename = "type")]
    type_: String,
    #[serde(default)]
    ports: Vec<ImportPort>,
}

#[derive(Debug, Deserialize, Default)]
struct ImportPort {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    port: i32,
}

pub fn trim_service_import(si: ImportJson, meta: &Meta, lists: &mut PortLists) -> Result<ServiceImport, Problem> {
    let mut ips = Vec::<IpAddr>::new();
    for ip in &si.spec.ips {
        ips.push(ip.parse().map_err(|_| Problem(format!("serviceimport {meta}: IP {ip:?} is not an IP address")))?);
    }
    let ports = si.spec.ports.iter().map(|p| Port::new(p.name.as_deref(), p.port, p.protocol.as_deref())).collect();
    Ok(ServiceImport {
        version: Version::of(meta),
        headless: si.spec.type_ == "Headless",
        ips: Ips::new(&ips),
        ports: lists.share(ports),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_service(json: &[u8]) -> Result<Service, Problem> {
        let (svc, meta) = parse(Kind::Service, json)?;
        trim_service(svc, &meta, &mut PortLists::new(Seeded::new(1)))
    }

    fn decode_slice(json: &[u8], keep_topology: bool, multicluster: bool) -> Result<Slice, Problem> {
        let keep = Keep { topology: keep_topology, pod_names: true };
        let (es, meta) = parse(Kind::EndpointSlice, json)?;
        trim_slice(es, &meta, keep, multicluster, &mut PortLists::new(Seeded::new(1)))
    }

    fn decode_pod(json: &[u8]) -> Result<Option<Pod>, Problem> {
        let (pod, meta) = parse(Kind::Pod, json)?;
        trim_pod(pod, &meta)
    }

    fn decode_service_import(json: &[u8]) -> Result<ServiceImport, Problem> {
        let (si, meta) = parse(Kind::ServiceImport, json)?;
        trim_service_import(si, &meta, &mut PortLists::new(Seeded::new(1)))
    }

    #[test]
    fn services() {
        let json =
            br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","resourceVersion":"7"},
                "spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10","fd00::10"],
                "ports":[{"name":"http","port":80,"protocol":"TCP"},{"port":53,"protocol":"UDP"}]}}"#;
        let svc = decode_service(json).unwrap();
        let (_, meta) = parse::<api::Service>(Kind::Service, json).unwrap();
        assert_eq!(meta.to_string(), "shop/web");
        assert_eq!(svc.version, Version::of(&Meta { version: "7".into(), ..meta.clone() }));
        assert_ne!(svc.version, Version::of(&Meta { version: "8".into(), ..meta }));
        assert_eq!(
            svc.addressing,
            Addressing::ClusterIps(Ips::new(&["10.96.0.10".parse().unwrap(), "fd00::10".parse().unwrap()]))
        );
        assert_eq!(svc.ports.len(), 2);
        assert_eq!(svc.ports[1].protocol, Protocol::Udp);
        assert!(svc.transferable);

        // No apiVersion/kind, as informers hand out typed objects.
        let headless =
            decode_service(br#"{"metadata":{"name":"db","namespace":"shop"},"spec":{"clusterIP":"None"}}"#).unwrap();
        assert!(headless.is_headless());
        assert_eq!(*headless.ports, [Port::sentinel()]);

        let ext = decode_service(
            br#"{"metadata":{"name":"ext","namespace":"shop"},"spec":{"type":"ExternalName","externalName":"www.example.org"}}"#,
        )
        .unwrap();
        assert_eq!(ext.addressing, Addressing::ExternalName(Some(Box::new(Name::parse("www.example.org").unwrap()))));
        assert!(!ext.transferable);
        let ip = decode_service(
            br#"{"metadata":{"name":"ext","namespace":"shop"},"spec":{"type":"ExternalName","externalName":"10.0.0.1"}}"#,
        )
        .unwrap();
        assert_eq!(ip.addressing, Addressing::ExternalName(None));

        let lb = decode_service(
            br#"{"metadata":{"name":"lb","namespace":"shop"},"spec":{"type":"LoadBalancer","clusterIP":"10.0.0.2","externalIPs":["192.0.2.1"]},
                "status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.2"},{"hostname":"lb.example.org"}]}}}"#,
        )
        .unwrap();
        // External IPs and ingress are read, but DNS serves neither.
        assert_eq!(lb.addressing, Addressing::ClusterIps(Ips::new(&["10.0.0.2".parse().unwrap()])));
        assert!(lb.transferable);
    }

    /// Objects declaring the same ports hold one list; lists no object
    /// holds are dropped as the table grows.
    #[test]
    fn port_lists_are_shared() {
        let mut lists = PortLists::new(Seeded::new(1));
        let service = |port: i32, lists: &mut PortLists| {
            let json = format!(
                r#"{{"metadata":{{"name":"web","namespace":"shop"}},
                   "spec":{{"clusterIP":"10.0.0.1","ports":[{{"name":"http","port":{port},"protocol":"TCP"}}]}}}}"#
            );
            let (svc, meta) = parse(Kind::Service, json.as_bytes()).unwrap();
            trim_service(svc, &meta, lists).unwrap()
        };
        let (a, b) = (service(80, &mut lists), service(80, &mut lists));
        assert!(Rc::ptr_eq(&a.ports, &b.ports));
        assert_eq!(lists.len(), 1);
        // A thousand lists in turn, each dropped at once: the table keeps
        // those in use, and at most twice as many.
        for port in 1000..2000 {
            drop(service(port, &mut lists));
        }
        assert!(lists.len() <= 16, "{} lists held", lists.len());
        assert!(Rc::ptr_eq(&service(80, &mut lists).ports, &a.ports));
    }

    #[test]
    fn protocols_keep_their_text() {
        for text in ["TCP", "UDP", "SCTP", "tcp", "QUIC", ""] {
            assert_eq!(Protocol::new(text).as_str(), text);
        }
    }

    #[test]
    fn broken_services_are_problems() {
        for json in [
            &br#"{"metadata":{"name":"x","namespace":"y"},"spec":{"clusterIP":"banana"}}"#[..],
            br#"{"metadata":{"name":"x","namespace":"y"},"spec":{}}"#,
            br#"{"metadata":{"namespace":"y"},"spec":{"clusterIP":"None"}}"#,
            br#"{"metadata":{"name":"x"},"spec":{"clusterIP":"None"}}"#,
            br#"{"metadata":{"name":5}}"#,
            b"not json",
        ] {
            assert!(decode_service(json).is_err(), "{}", String::from_utf8_lossy(json));
        }
    }

    /// Every problem names the kind, the object as far as it can be read,
    /// and the reason.
    /// The problem decoding `json` as `kind` reports; the object must fail.
    fn problem(kind: Kind, json: &[u8]) -> String {
        let decoded = match kind {
            Kind::Service => decode_service(json).map(|_| ()),
            Kind::Namespace => parse::<api::Namespace>(kind, json).map(|_| ()),
            Kind::Pod => decode_pod(json).map(|_| ()),
            Kind::EndpointSlice => decode_slice(json, false, false).map(|_| ()),
            Kind::ServiceImport => decode_service_import(json).map(|_| ()),
        };
        let Problem(text) = decoded.unwrap_err();
        text
    }

    #[test]
    fn problems_name_the_object_and_the_reason() {
        let cases: &[(Kind, &str, &str)] = &[
            (
                Kind::Service,
                r#"{"metadata":{"name":"web","namespace":"shop"},"spec":{"clusterIP":7}}"#,
                "service shop/web: cannot decode: invalid type",
            ),
            (
                Kind::Service,
                r#"{"metadata":{"name":"web","namespace":"shop"},"spec":{"clusterIP":"banana"}}"#,
                "service shop/web: cluster IPs",
            ),
            (
                Kind::Service,
                r#"{"metadata":{"namespace":"shop"},"spec":{"clusterIP":"None"}}"#,
                "service in namespace shop without a name",
            ),
            (Kind::Service, r#"{"metadata":{"name":"web"}}"#, "service web without a namespace"),
            (Kind::Service, r#"{"metadata":{"name":5}}"#, "service: cannot decode"),
            (Kind::Service, "not json", "service: cannot decode"),
            (Kind::Namespace, r#"{"metadata":{"name":"shop","labels":[]}}"#, "namespace shop: cannot decode"),
            (
                Kind::Pod,
                r#"{"metadata":{"name":"p","namespace":"shop"},"status":{"podIPs":[{"ip":"x"}]}}"#,
                "pod shop/p: pod IP \"x\"",
            ),
            (
                Kind::EndpointSlice,
                r#"{"metadata":{"name":"s","namespace":"shop"},"addressType":"IPv4"}"#,
                "endpointslice shop/s: no kubernetes.io/service-name label",
            ),
            (
                Kind::ServiceImport,
                r#"{"metadata":{"name":"i","namespace":"shop"},"spec":{"ips":["x"]}}"#,
                "serviceimport shop/i: IP \"x\"",
            ),
        ];
        for (kind, json, want) in cases {
            let json = json.as_bytes();
            let text = problem(*kind, json);
            assert!(text.starts_with(want), "{kind:?} {}: {text}", String::from_utf8_lossy(json));
        }
    }

    #[test]
    fn endpoint_slices_keep_ready_addresses() {
        let name = |s: &Slice, i: usize, pod_names: bool| {
            s.addresses.get(i).unwrap().endpoint_name(pod_names).as_str().to_string()
        };
        let json = br#"{"metadata":{"name":"web-abc","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
            "addressType":"IPv4",
            "endpoints":[
              {"addresses":["10.0.0.1"],"conditions":{"ready":true},"hostname":"web-0","zone":"Zone-A",
               "targetRef":{"kind":"Pod","name":"web-0-pod"}},
              {"addresses":["10.0.0.2"],"conditions":{"ready":false}},
              {"addresses":["10.0.0.3"],"targetRef":{"kind":"Pod","name":"web-1-pod"}}],
            "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}"#;
        let s = decode_slice(json, true, false).unwrap();
        assert_eq!(&*s.service, "web");
        assert_eq!(s.addresses.len(), 2);
        assert_eq!(name(&s, 0, false), "web-0");
        assert_eq!(s.addresses.get(0).unwrap().topology(), Some("zone-a"));
        assert_eq!(name(&s, 1, false), "10-0-0-3");
        assert_eq!(name(&s, 1, true), "web-1-pod");
        assert_eq!(s.ports[0].port, 8080);
        assert_eq!(decode_slice(json, false, false).unwrap().addresses.get(0).unwrap().topology(), None);
        // Pod names are kept only for `endpoint_pod_names`.
        let (es, meta) = parse(Kind::EndpointSlice, json).unwrap();
        let lean = trim_slice(es, &meta, Keep::default(), false, &mut PortLists::new(Seeded::new(1))).unwrap();
        assert_eq!(name(&lean, 1, true), "10-0-0-3");
        assert!(lean.addresses.get(1).unwrap().names.is_none(), "nothing but its address is held");

        let no_label = br#"{"metadata":{"name":"x","namespace":"y"},"addressType":"IPv4","endpoints":[]}"#;
        assert!(decode_slice(no_label, false, false).is_err());
        let bad = br#"{"metadata":{"name":"x","namespace":"y","labels":{"kubernetes.io/service-name":"s"}},
            "addressType":"IPv4","endpoints":[{"addresses":["nope"]}]}"#;
        assert!(decode_slice(bad, false, false).is_err());
    }

    /// Objects as the host writes them (Go's encoding of the trimmed
    /// objects: empty lists and unset times as null, type fields gone).
    #[test]
    fn objects_as_the_host_writes_them() {
        let svc = decode_service(
            br#"{"metadata":{"name":"web","namespace":"shop","resourceVersion":"5","creationTimestamp":null},
                "spec":{"ports":[{"protocol":"TCP","port":80,"targetPort":8080}],"clusterIP":"10.0.0.1",
                "clusterIPs":["10.0.0.1"],"type":"ClusterIP","sessionAffinity":"None"},"status":{"loadBalancer":{}}}"#,
        )
        .unwrap();
        assert_eq!(*svc.ports, [Port { name: "".into(), port: 80, protocol: Protocol::Tcp }]);

        let slice = decode_slice(
            br#"{"metadata":{"name":"web-x","namespace":"shop","creationTimestamp":null,
                "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":null,"ports":null}"#,
            false,
            false,
        )
        .unwrap();
        assert!(slice.addresses.is_empty());
        assert_eq!(*slice.ports, [Port::sentinel()]);

        // An endpoint whose readiness is unknown is ready.
        let unknown = decode_slice(
            br#"{"metadata":{"name":"web-x","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
                "addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{}},
                {"addresses":["10.0.0.2"],"conditions":{"ready":null}},{"addresses":null}]}"#,
            false,
            false,
        )
        .unwrap();
        assert_eq!(unknown.addresses.len(), 2);

        let pod = decode_pod(
            br#"{"metadata":{"name":"p","namespace":"shop","creationTimestamp":null},"spec":{"containers":null},
                "status":{"phase":"Running","podIP":"10.1.0.5","podIPs":[{"ip":"10.1.0.5"}]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(pod.ips, Ips::new(&["10.1.0.5".parse().unwrap()]));
    }

    /// Problems name the kind and say what was wrong. The decoding cases
    /// themselves are `api`'s tests.
    #[test]
    fn unreadable_objects_are_problems() {
        let cases: &[(Kind, &str, &str)] = &[
            (
                Kind::Service,
                r#"{"metadata":{"name":"web","namespace":"shop"},"spec":{"ports":[{"port":"80"}]}}"#,
                r#": cannot decode: invalid type: string "80", expected i32"#,
            ),
            (Kind::Service, r#"{"metadata":{"name":"web","namespace":"shop"},"spec":[]}"#, "expected ServiceSpec"),
            (
                Kind::Pod,
                r#"{"apiVersion":"v2","kind":"Pod","metadata":{"name":"p","namespace":"shop"}}"#,
                r#": cannot decode: invalid value: string "v2", expected v1"#,
            ),
            (
                Kind::EndpointSlice,
                r#"{"kind":"Endpoints","metadata":{"name":"s","namespace":"shop"}}"#,
                r#"invalid value: string "Endpoints", expected EndpointSlice"#,
            ),
            (
                Kind::Namespace,
                r#"{"metadata":{"name":"shop","deletionTimestamp":1}}"#,
                "invalid type: integer `1`, expected a timestamp string",
            ),
            (
                Kind::ServiceImport,
                r#"{"metadata":{"name":"i","namespace":"shop"},"spec":{"ports":[{"name":"http"}]}}"#,
                ": cannot decode: missing field `port`",
            ),
            (Kind::Pod, r#"{"metadata":{"name":"p","namespace":"shop"},"status":{"podIPs":[{}]}}"#, r#"pod IP """#),
        ];
        for (kind, json, want) in cases {
            let json = json.as_bytes();
            let text = problem(*kind, json);
            assert!(text.starts_with(what(*kind)) && text.contains(want), "{kind:?}: {text}");
        }
    }

    #[test]
    fn dashed_addresses() {
        for (ip, want) in [
            ("10.0.0.1", "10-0-0-1"),
            ("fd00::1", "fd00--1"),
            ("fd00::", "fd00--0"),
            ("::1", "--1"),
            ("::ffff:10.0.0.1", "::ffff:10-0-0-1"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff-ffff-ffff-ffff-ffff-ffff-ffff-ffff"),
            ("0.0.0.0", "0-0-0-0"),
            ("255.250.109.10", "255-250-109-10"),
            ("1.20.199.9", "1-20-199-9"),
        ] {
            assert_eq!(dashed(ip), want);
            // Written canonically, the address gives the same name.
            assert_eq!(Dashed::of(ip.parse().unwrap()).as_str(), want);
        }
    }

    /// A label is read as the address it names when it is that address's
    /// dashed name exactly (in any case), and only then.
    #[test]
    fn labels_name_the_addresses_they_are_dashed_names_of() {
        for (label, want) in [
            ("10-1-16-242", Some("10.1.16.242")),
            ("0-0-0-0", Some("0.0.0.0")),
            ("255-255-255-255", Some("255.255.255.255")),
            ("fd00--1", Some("fd00::1")),
            ("FD00--1", Some("fd00::1")),
            ("fd00--0", Some("fd00::")),
            ("--1", Some("::1")),
            ("::ffff:10-0-0-1", Some("::ffff:10.0.0.1")),
            ("10-01-0-1", None),
            ("10-0-0-256", None),
            ("10-0-0", None),
            ("10-0-0-1-2", None),
            ("10-0-0-", None),
            ("fd00-0-0-0-0-0-0-1", None),
            ("fd00--", None),
            ("web-0", None),
            ("", None),
        ] {
            assert_eq!(Label::new(label.as_bytes()).ip, want.map(|w| w.parse().unwrap()), "{label}");
            if let Some(want) = want {
                let dashed = Dashed::of(want.parse().unwrap());
                assert!(dashed.as_str().eq_ignore_ascii_case(label), "{label} is {want}'s name");
            }
        }
    }

    /// A pod name names its endpoint only when it is one label; any
    /// other keeps the endpoint's dashed address, and is not held.
    #[test]
    fn pod_names_name_endpoints_only_as_one_label() {
        let long = "p".repeat(64);
        for (pod, want) in [
            ("web-0", "web-0"),
            (&long[..63], &long[..63]),
            (&long[..], "10-0-0-1"),
            ("web.0", "10-0-0-1"),
            ("web.", "10-0-0-1"),
            ("", "10-0-0-1"),
        ] {
            let json = format!(
                r#"{{"metadata":{{"name":"s","namespace":"y","labels":{{"kubernetes.io/service-name":"s"}}}},
                    "addressType":"IPv4","endpoints":[{{"addresses":["10.0.0.1"],"targetRef":{{"name":"{pod}"}}}}]}}"#
            );
            let s = decode_slice(json.as_bytes(), false, false).unwrap();
            let endpoint = s.addresses.get(0).unwrap();
            assert_eq!(endpoint.endpoint_name(true).as_str(), want, "{pod:?}");
            assert_eq!(endpoint.names.is_some(), pod == want, "{pod:?}: held only when it names the endpoint");
            assert!(endpoint.is_named(&Label::new(want.as_bytes()), true), "{pod:?}");
            // What a query for `web\.0.s.y.svc...` holds as its first label.
            assert!(!endpoint.is_named(&Label::new(b"web.0"), true), "{pod:?}");
        }
    }

    /// An endpoint is named by its address as written, which is kept only
    /// when it names it otherwise than its canonical text does.
    #[test]
    fn endpoints_written_otherwise_keep_their_dashed_name() {
        for (text, want, kept) in [
            ("10.0.0.1", "10-0-0-1", false),
            ("fd00::1", "fd00--1", false),
            ("FD00::1", "FD00--1", true),
            ("fd00:0:0:0:0:0:0:1", "fd00-0-0-0-0-0-0-1", true),
            ("::ffff:10.0.0.1", "::ffff:10-0-0-1", false),
        ] {
            let ip = text.parse().unwrap();
            let names = Names::of(ip, text, None, None, None);
            assert_eq!(names.is_some(), kept, "{text}");
            let endpoints = Endpoints::new(&[ip], vec![names]);
            let endpoint = endpoints.get(0).unwrap();
            assert_eq!(endpoint.endpoint_name(true).as_str(), want, "{text}");
            assert!(endpoint.is_named(&Label::new(want.to_uppercase().as_bytes()), true), "{text}");
            let other = if want.starts_with("10") { "10-0-0-2" } else { "fd00--2" };
            assert!(!endpoint.is_named(&Label::new(other.as_bytes()), true), "{text}");
            assert_eq!(endpoints.names.is_empty(), !kept, "{text}: no list of names when none has any");
        }
    }

    #[test]
    fn pods() {
        let pod = decode_pod(
            br#"{"metadata":{"name":"p","namespace":"shop","labels":{"b":"2","a":"1"}},
                "status":{"podIP":"10.1.0.5","podIPs":[{"ip":"10.1.0.5"},{"ip":"fd01::5"}]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(pod.ips.len(), 2);
        assert_eq!(pod.labels[0], ("a".into(), "1".into()));
        let gone =
            decode_pod(br#"{"metadata":{"name":"p","namespace":"shop","deletionTimestamp":"2026-01-01T00:00:00Z"}}"#);
        assert_eq!(gone, Ok(None));
    }

    #[test]
    fn service_imports() {
        let si = decode_service_import(
            br#"{"metadata":{"name":"web","namespace":"shop"},"spec":{"type":"ClusterSetIP","ips":["10.9.0.1"],
                "ports":[{"name":"http","port":80,"protocol":"TCP"}]}}"#,
        )
        .unwrap();
        assert!(!si.headless);
        assert_eq!(si.ports.len(), 1);
        let mc = decode_slice(
            br#"{"metadata":{"name":"web-x","namespace":"shop","labels":{"multicluster.kubernetes.io/service-name":"web",
                "multicluster.kubernetes.io/source-cluster":"east"}},"addressType":"IPv4","endpoints":[{"addresses":["10.2.0.1"]}]}"#,
            false,
            true,
        )
        .unwrap();
        assert_eq!((&*mc.service, &*mc.cluster_id), ("web", "east"));
    }
}
