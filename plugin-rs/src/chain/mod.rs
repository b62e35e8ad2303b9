//! The stanza chain: every cluster of a server block, in Corefile order.
//!
//! A query goes to the first stanza whose zones hold its name. A name that
//! does not exist there goes on to the next stanza only when that stanza's
//! `fallthrough` covers it; after the last stanza, to the next CoreDNS
//! plugin. Otherwise the miss is NXDOMAIN — or SERVFAIL when a stanza on
//! the way has not synced yet: its objects may hold the name, and a
//! negative answer would be cached by clients for the SOA's minimum TTL.
//!
//! The chain runs over the [`Cluster`] trait so that tests can give it
//! stanzas with chosen behaviour; [`Stanza`] is the real one.

use std::net::IpAddr;

mod core;
mod joint;
mod set;

pub use self::core::Kubernetai;
use self::set::SetServed;

use crate::cluster::seeded::Seeded;
use crate::contract::{Answer, HostInfo, MetadataEntry, Outcome, TransferPage, UpstreamReply};
use crate::dns::{Name, Query, Rcode, Record, Response, message};
use crate::stanza::{Page, Served, ServicePage, Shape, Stanza, Style, Upstream};

/// Records per message of a zone transfer handed to the host.
const TRANSFER_BATCH: usize = 500;

/// What the host knows of its machine, parsed.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// Non-loopback addresses CoreDNS listens on.
    pub local_ips: Vec<IpAddr>,
    /// The resolv.conf search list, fully qualified.
    pub search: Vec<String>,
}

impl Host {
    pub(crate) fn from_info(info: &HostInfo) -> Host {
        let local_ips = info
            .local_ips
            .iter()
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .filter(|ip| !ip.is_loopback())
            .collect();
        let search =
            info.search.iter().filter_map(|s| Name::parse(s).ok()).map(|n| n.to_lowercase().to_string()).collect();
        Host { local_ips, search }
    }
}

/// One stanza as the chain sees it.
pub trait Cluster {
    /// Answers `query` if its name is in the stanza's zones.
    fn serve(&self, query: &Query, up: &mut Upstream, host: &Host) -> Served;
    /// Whether a miss for `name` goes on down the chain.
    fn falls_through(&self, name: &Name) -> bool;
    /// Whether the stanza's source has delivered its initial state.
    fn synced(&self) -> bool;
    /// A negative answer from the stanza for `zone` (as the client wrote
    /// it), with the zone's SOA.
    fn negative(&self, zone: &Name, rcode: Rcode) -> Response;
    /// Whether the stanza answers transfers of `zone`.
    fn transfers(&self, zone: &Name) -> bool;
    /// A page of the transfer of `zone`: the first for an empty `cursor`,
    /// else the one it names; about `budget` records.
    fn transfer(&self, zone: &Name, serial: u32, cursor: &[u8], budget: usize, host: &Host) -> Result<Page, String>;
    /// The start of an autopath search list, when the stanza's zones hold
    /// `qname` and it knows a pod at `client`.
    fn autopath(&self, qname: &Name, client: &IpAddr) -> Option<Vec<String>>;
    /// Metadata about the pod at `client`, when the stanza knows one.
    fn client_metadata(&self, client: &IpAddr) -> Option<Vec<MetadataEntry>>;
    /// Metadata about `qname`, when the stanza's zones hold it.
    fn name_metadata(&self, qname: &Name) -> Option<Vec<MetadataEntry>>;

    // Cluster sets (see `set`): the defaults are a stanza in none.

    /// The `clusterset` zone that `name` (lower case) is answered in.
    fn set_zone(&self, _name: &Name) -> Option<Name> {
        None
    }
    /// Whether the stanza is a member of the set of `zone` (lower case).
    fn in_set(&self, _zone: &Name) -> bool {
        false
    }
    /// The stanza's `cluster` name.
    fn cluster(&self) -> Option<&str> {
        None
    }
    /// How `name` (lower case) merges; None where the stanza lacks it.
    fn shape(&self, _name: &Name) -> Option<Shape> {
        None
    }
    /// The SOA serial of `zone` (lower case).
    fn serial(&self, _zone: &Name) -> u32 {
        0
    }
    /// The SOA, NS and NS addresses a transfer of `zone` starts with.
    fn transfer_head(&self, _zone: &Name, _serial: u32, _host: &Host) -> Vec<Record> {
        Vec::new()
    }
    /// The first service a transfer lists at or after (namespace, service).
    fn listed_from(&self, _from: (&str, &str)) -> Option<(String, String)> {
        None
    }
    /// A service's records in a transfer, as `how` says (see
    /// `Stanza::list_service`).
    fn list_service(
        &self,
        _how: &Style,
        _namespace: &str,
        _service: &str,
        _from: (&str, u32),
        _budget: usize,
    ) -> Option<ServicePage> {
        None
    }
    /// Whether the service has a ready endpoint at `ip` (named `endpoint`).
    fn holds(&self, _namespace: &str, _service: &str, _ip: IpAddr, _endpoint: Option<&str>) -> bool {
        false
    }
}

/// Stanzas in Corefile order, and the host's facts.
#[derive(Debug)]
pub struct Chain<C> {
    pub stanzas: Vec<C>,
    pub host: Host,
    /// Keys the hash sets that merge cluster set members' records.
    pub seed: Seeded,
    /// Whether any stanza is in a cluster set, and the forward zones two
    /// stanzas or more serve (lower case): set by the configuration, so
    /// that a lookup without either pays for neither (callgrind: 386
    /// instructions an NXDOMAIN for the shared-serial check alone).
    pub sets: bool,
    pub shared_zones: Vec<Name>,
}

impl<C: Cluster> Chain<C> {
    pub fn new(stanzas: Vec<C>) -> Chain<C> {
        Chain { stanzas, host: Host::default(), seed: Seeded::new(0), sets: false, shared_zones: Vec::new() }
    }

    /// Answers one query through the chain.
    pub fn lookup(&self, message: &[u8], replies: &[UpstreamReply]) -> Outcome {
        let query = match message::parse_query(message) {
            Ok(q) => q,
            Err((Some(header), _)) => {
                let message = message::encode_error(&header, Rcode::FormErr);
                return Outcome::Answer(Answer { message, stanza: 0, fell_through: 0, clusters: 0 });
            }
            Err((None, _)) => return Outcome::Rcode(Rcode::FormErr.into()),
        };
        let mut up = Upstream::new(replies);
        let mut passed = 0u64;
        // The first stanza that missed the name before its first sync.
        let mut unsynced: Option<(usize, Name)> = None;
        // Members of a cluster set already asked, as a whole set.
        let mut asked = 0u64;
        let lower = if self.sets { Some(query.qname.lowercased()) } else { None };
        for (i, stanza) in self.stanzas.iter().enumerate() {
            if asked & (1 << i) != 0 {
                continue;
            }
            let answer = |response: Response, stanza: usize, clusters: u64| {
                let message = response.encode(&query);
                Outcome::Answer(Answer { message, stanza: stanza as u32, fell_through: passed, clusters })
            };
            if let Some((lower, zone)) = lower.as_ref().and_then(|lower| Some((lower, stanza.set_zone(lower)?))) {
                let members = self.members(&zone);
                let bits = members.iter().fold(0u64, |b, &m| b | 1 << m);
                asked |= bits;
                match self.serve_set(&zone, &members, &query, lower, &mut up) {
                    SetServed::Respond(response, clusters) => {
                        return answer(response, clusters.trailing_zeros() as usize, clusters);
                    }
                    SetServed::NameError { zone: written, unsynced: behind } => {
                        if unsynced.is_none() && behind {
                            unsynced = Some((i, written.clone()));
                        }
                        if members.iter().all(|&m| self.stanzas[m].falls_through(&query.qname)) {
                            passed |= bits;
                            continue;
                        }
                        let rcode = if unsynced.is_some() { Rcode::ServFail } else { Rcode::NxDomain };
                        return answer(self.set_negative(&zone, &members, &written, rcode), i, 0);
                    }
                    SetServed::Rcode(rcode) => return Outcome::Rcode(rcode.into()),
                    SetServed::Upstream(needed) => return Outcome::Upstream(needed),
                }
            }
            match stanza.serve(&query, &mut up, &self.host) {
                Served::NotInZone => {}
                Served::NameError(zone) => {
                    if unsynced.is_none() && !stanza.synced() {
                        unsynced = Some((i, zone.clone()));
                    }
                    if stanza.falls_through(&query.qname) {
                        passed |= 1 << i;
                        continue;
                    }
                    let rcode = if unsynced.is_some() { Rcode::ServFail } else { Rcode::NxDomain };
                    let mut response = stanza.negative(&zone, rcode);
                    self.share_serials(&mut response);
                    return answer(response, i, 0);
                }
                Served::Respond(mut response) => {
                    self.share_serials(&mut response);
                    return answer(response, i, 0);
                }
                Served::Rcode(rcode) => return Outcome::Rcode(rcode.into()),
                Served::Upstream(needed) => return Outcome::Upstream(needed),
            }
        }
        match unsynced {
            Some((i, zone)) => {
                let mut response = self.stanzas[i].negative(&zone, Rcode::ServFail);
                self.share_serials(&mut response);
                let message = response.encode(&query);
                Outcome::Answer(Answer { message, stanza: i as u32, fell_through: passed, clusters: 0 })
            }
            None => Outcome::Fallthrough(passed),
        }
    }

    /// A page of the transfer of `zone`: by the stanza serving it (see
    /// `Cluster::transfer`), or when several do, as they answer it together
    /// (see `joint`), in messages of at most a few hundred records each.
    /// None when no stanza serves the zone.
    pub fn transfer(
        &self,
        zone: &str,
        serial: u32,
        cursor: &[u8],
        budget: usize,
    ) -> Result<Option<TransferPage>, String> {
        let Ok(zone) = Name::parse(zone) else { return Ok(None) };
        let zone = zone.to_lowercase();
        let Some(stanza) = self.stanzas.iter().find(|s| s.transfers(&zone)) else { return Ok(None) };
        if let Some(page) = self.joint_transfer(&zone, serial, cursor, budget) {
            return page.map(Some);
        }
        let page = stanza.transfer(&zone, serial, cursor, budget, &self.host)?;
        let messages = Response::encode_records(&page.records, TRANSFER_BATCH);
        Ok(Some(TransferPage { messages, next: page.next }))
    }

    /// The autopath search list for a query for `qname` from `client`:
    /// the first stanza that holds the name and knows the client's pod,
    /// then the host's search list, then the empty name.
    pub fn autopath(&self, qname: &str, client: &str) -> Option<Vec<String>> {
        let name = Name::parse(qname).ok()?.to_lowercase();
        let client = client.parse::<IpAddr>().ok()?.to_canonical();
        let mut search = self.stanzas.iter().find_map(|s| s.autopath(&name, &client))?;
        search.extend(self.host.search.iter().cloned());
        search.push(String::new());
        Some(search)
    }

    /// The `kubernetes/*` metadata of a query, and `kubernetai/stanza`.
    pub fn metadata(&self, qname: &str, client: &str) -> Vec<MetadataEntry> {
        let mut out = Vec::new();
        if let Ok(ip) = client.parse::<IpAddr>() {
            let ip = ip.to_canonical();
            out.extend(self.stanzas.iter().find_map(|s| s.client_metadata(&ip)).unwrap_or_default());
        }
        let Ok(name) = Name::parse(qname) else { return out };
        let name = name.to_lowercase();
        let found = self.stanzas.iter().enumerate().find_map(|(i, s)| s.name_metadata(&name).map(|m| (i, m)));
        if let Some((i, entries)) = found {
            out.push(MetadataEntry { key: "kubernetai/stanza".into(), value: (i + 1).to_string() });
            out.extend(entries);
        }
        out
    }
}

impl Cluster for Stanza {
    fn serve(&self, query: &Query, up: &mut Upstream, host: &Host) -> Served {
        self.answer(query, up, &host.local_ips)
    }

    fn falls_through(&self, name: &Name) -> bool {
        self.config.falls_through(name)
    }

    fn synced(&self) -> bool {
        self.synced
    }

    fn negative(&self, zone: &Name, rcode: Rcode) -> Response {
        Stanza::negative(self, zone, rcode)
    }

    fn transfers(&self, zone: &Name) -> bool {
        Stanza::transfers(self, zone)
    }

    fn transfer(&self, zone: &Name, serial: u32, cursor: &[u8], budget: usize, host: &Host) -> Result<Page, String> {
        Stanza::transfer(self, zone, serial, cursor, budget, &host.local_ips)
    }

    fn autopath(&self, qname: &Name, client: &IpAddr) -> Option<Vec<String>> {
        self.search_path(qname, client)
    }

    fn client_metadata(&self, client: &IpAddr) -> Option<Vec<MetadataEntry>> {
        self.client_entries(client)
    }

    fn name_metadata(&self, qname: &Name) -> Option<Vec<MetadataEntry>> {
        self.name_entries(qname)
    }

    fn set_zone(&self, name: &Name) -> Option<Name> {
        Stanza::set_zone(self, name).cloned()
    }

    fn in_set(&self, zone: &Name) -> bool {
        self.config.clusterset.contains(zone)
    }

    fn cluster(&self) -> Option<&str> {
        self.config.cluster.as_deref()
    }

    fn shape(&self, name: &Name) -> Option<Shape> {
        Stanza::shape(self, name)
    }

    fn serial(&self, zone: &Name) -> u32 {
        self.serial_of(zone)
    }

    fn transfer_head(&self, zone: &Name, serial: u32, host: &Host) -> Vec<Record> {
        Stanza::transfer_head(self, zone, serial, &host.local_ips)
    }

    fn listed_from(&self, from: (&str, &str)) -> Option<(String, String)> {
        Stanza::listed_from(self, from)
    }

    fn list_service(
        &self,
        how: &Style,
        namespace: &str,
        service: &str,
        from: (&str, u32),
        budget: usize,
    ) -> Option<ServicePage> {
        Stanza::list_service(self, how, namespace, service, from, budget)
    }

    fn holds(&self, namespace: &str, service: &str, ip: IpAddr, endpoint: Option<&str>) -> bool {
        Stanza::holds(self, namespace, service, ip, endpoint)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::dns::{Owner, RData, Record, RecordType};
    use crate::stanza::PAGE_RECORDS;

    /// What a mock stanza does with a name in its zone.
    #[derive(Clone, Copy)]
    enum Does {
        Hit(Ipv4Addr),
        NoData,
        Miss,
        Refuse,
        /// The stanza fails the query (the plugin's non-name errors, which
        /// CoreDNS turns into SERVFAIL).
        Fail,
    }

    struct Mock {
        zone: Name,
        does: Does,
        /// Zones whose misses fall through, as `fallthrough [ZONES...]`.
        fall: Vec<Name>,
        synced: bool,
        transfers: bool,
        /// Address records a transfer holds between its two SOAs.
        transfer_size: usize,
        pod_namespace: Option<&'static str>,
    }

    fn mock(zone: &str, does: Does) -> Mock {
        Mock {
            zone: Name::parse(zone).unwrap(),
            does,
            fall: Vec::new(),
            synced: true,
            transfers: true,
            transfer_size: 1,
            pod_namespace: None,
        }
    }

    impl Mock {
        /// `fallthrough` with no zones: every miss goes on.
        fn fall(mut self) -> Mock {
            self.fall = vec![Name::root()];
            self
        }
        /// `fallthrough ZONES...`: only misses under these go on.
        fn fall_in(mut self, zones: &[&str]) -> Mock {
            self.fall = zones.iter().map(|z| Name::parse(z).unwrap()).collect();
            self
        }
        fn transfer_size(mut self, records: usize) -> Mock {
            self.transfer_size = records;
            self
        }
        fn unsynced(mut self) -> Mock {
            self.synced = false;
            self
        }
        fn no_transfer(mut self) -> Mock {
            self.transfers = false;
            self
        }
        fn knows_pod(mut self, namespace: &'static str) -> Mock {
            self.pod_namespace = Some(namespace);
            self
        }
    }

    impl Cluster for Mock {
        fn serve(&self, query: &Query, _: &mut Upstream, _: &Host) -> Served {
            let Some(start) = query.qname.suffix_start(&self.zone) else { return Served::NotInZone };
            let zone = query.qname.suffix_from(start);
            match self.does {
                Does::Hit(ip) => Served::Respond(Response {
                    authoritative: true,
                    answer: vec![Record::new(Owner::Question, 5, RData::A(ip))],
                    ..Response::default()
                }),
                Does::NoData => Served::Respond(self.negative(&zone, Rcode::NoError)),
                Does::Miss => Served::NameError(zone),
                Does::Refuse => Served::Rcode(Rcode::Refused),
                Does::Fail => Served::Rcode(Rcode::ServFail),
            }
        }
        fn falls_through(&self, name: &Name) -> bool {
            self.fall.iter().any(|z| name.is_subdomain_of(z))
        }
        fn synced(&self) -> bool {
            self.synced
        }
        fn negative(&self, _: &Name, rcode: Rcode) -> Response {
            Response { rcode, authoritative: true, ..Response::default() }
        }
        fn transfers(&self, zone: &Name) -> bool {
            self.transfers && zone.eq_ignore_case(&self.zone)
        }
        /// An SOA, `transfer_size` A records numbered in their addresses,
        /// and the SOA again; cut in pages of `budget` records, the cursor
        /// holding the next record's index.
        fn transfer(&self, zone: &Name, serial: u32, cursor: &[u8], budget: usize, _: &Host) -> Result<Page, String> {
            let soa = Record::new(
                Owner::Name(zone.clone()),
                1,
                RData::Soa {
                    mname: zone.clone(),
                    rname: zone.clone(),
                    serial,
                    refresh: 1,
                    retry: 1,
                    expire: 1,
                    minimum: 1,
                },
            );
            let numbered = (0..self.transfer_size as u32)
                .map(|i| Record::new(Owner::Name(zone.clone()), 1, RData::A(Ipv4Addr::from(0x0A00_0000 + i))));
            let all: Vec<Record> = std::iter::once(soa.clone()).chain(numbered).chain(std::iter::once(soa)).collect();
            let start = if cursor.is_empty() {
                0
            } else {
                std::str::from_utf8(cursor).ok().and_then(|c| c.parse().ok()).ok_or("bad cursor")?
            };
            let end = (start + budget).min(all.len());
            let next = (end < all.len()).then(|| end.to_string().into_bytes());
            Ok(Page { records: all[start..end].to_vec(), next })
        }
        fn autopath(&self, qname: &Name, _: &IpAddr) -> Option<Vec<String>> {
            let ns = self.pod_namespace.filter(|_| qname.is_subdomain_of(&self.zone))?;
            Some(vec![format!("{ns}.svc.{}", self.zone)])
        }
        fn client_metadata(&self, _: &IpAddr) -> Option<Vec<MetadataEntry>> {
            let ns = self.pod_namespace?;
            Some(vec![MetadataEntry { key: "kubernetes/client-namespace".into(), value: ns.into() }])
        }
        fn name_metadata(&self, qname: &Name) -> Option<Vec<MetadataEntry>> {
            qname.is_subdomain_of(&self.zone).then(Vec::new)
        }
    }

    fn query(name: &str) -> Vec<u8> {
        let q = Query {
            id: 1,
            opcode: 0,
            recursion_desired: false,
            checking_disabled: false,
            qname: Name::parse(name).unwrap(),
            qtype: RecordType::A,
            qclass: 1,
        };
        // Any response encoding carries the question; strip it to a query.
        let mut bytes = Response::default().encode(&q);
        bytes[2] &= 0x7F;
        bytes
    }

    /// rcode, answering stanza and passed set, or "fallthrough".
    fn run(stanzas: Vec<Mock>, name: &str) -> String {
        match Chain::new(stanzas).lookup(&query(name), &[]) {
            Outcome::Answer(a) => {
                let rcode = a.message[3] & 0x0F;
                let answers = u16::from_be_bytes([a.message[6], a.message[7]]);
                format!("rcode {rcode} answers {answers} from {} passed {:#b}", a.stanza, a.fell_through)
            }
            Outcome::Fallthrough(passed) => format!("fallthrough passed {passed:#b}"),
            Outcome::Rcode(rcode) => format!("rcode {rcode} unwritten"),
            Outcome::Upstream(_) => "upstream".into(),
        }
    }

    const HIT: Does = Does::Hit(Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn chain_order_fallthrough_and_sync() {
        let cases: Vec<(&str, Vec<Mock>, &str)> = vec![
            (
                "first match wins",
                vec![mock("a.local", HIT), mock("a.local", Does::Miss)],
                "rcode 0 answers 1 from 0 passed 0b0",
            ),
            (
                "other zones are skipped",
                vec![mock("b.local", HIT), mock("a.local", HIT)],
                "rcode 0 answers 1 from 1 passed 0b0",
            ),
            (
                "a miss is NXDOMAIN",
                vec![mock("a.local", Does::Miss), mock("a.local", HIT)],
                "rcode 3 answers 0 from 0 passed 0b0",
            ),
            (
                "fallthrough passes a miss on",
                vec![mock("a.local", Does::Miss).fall(), mock("a.local", HIT)],
                "rcode 0 answers 1 from 1 passed 0b1",
            ),
            (
                "NODATA does not fall through",
                vec![mock("a.local", Does::NoData).fall(), mock("a.local", HIT)],
                "rcode 0 answers 0 from 0 passed 0b0",
            ),
            (
                "after the last stanza, the next plugin",
                vec![mock("a.local", Does::Miss).fall(), mock("a.local", Does::Miss).fall()],
                "fallthrough passed 0b11",
            ),
            ("no zone at all", vec![mock("b.local", HIT)], "fallthrough passed 0b0"),
            (
                "unsynced miss is SERVFAIL",
                vec![mock("a.local", Does::Miss).unsynced()],
                "rcode 2 answers 0 from 0 passed 0b0",
            ),
            ("unsynced hit answers", vec![mock("a.local", HIT).unsynced()], "rcode 0 answers 1 from 0 passed 0b0"),
            (
                "unsynced on the way, miss at the end: SERVFAIL",
                vec![mock("a.local", Does::Miss).fall().unsynced(), mock("a.local", Does::Miss)],
                "rcode 2 answers 0 from 1 passed 0b1",
            ),
            (
                "unsynced on the way, found later: answer",
                vec![mock("a.local", Does::Miss).fall().unsynced(), mock("a.local", HIT)],
                "rcode 0 answers 1 from 1 passed 0b1",
            ),
            (
                "unsynced and everyone falls through: SERVFAIL, not the next plugin",
                vec![mock("a.local", Does::Miss).fall(), mock("a.local", Does::Miss).fall().unsynced()],
                "rcode 2 answers 0 from 1 passed 0b11",
            ),
            (
                "refusals are left to CoreDNS",
                vec![mock("a.local", Does::Refuse), mock("a.local", HIT)],
                "rcode 5 unwritten",
            ),
            // Only a name error falls through (the plugin's handler checks
            // `fallthrough` for name errors alone; any other error is
            // SERVFAIL on the spot, and upstream kubernetai chains stanzas
            // through that same handler).
            (
                "a failing stanza does not fall through",
                vec![mock("a.local", Does::Fail).fall(), mock("a.local", HIT)],
                "rcode 2 unwritten",
            ),
            (
                "a refusing stanza does not fall through",
                vec![mock("a.local", Does::Refuse).fall(), mock("a.local", HIT)],
                "rcode 5 unwritten",
            ),
            (
                "a failure after a fallthrough ends the chain",
                vec![mock("a.local", Does::Miss).fall(), mock("a.local", Does::Fail).fall(), mock("a.local", HIT)],
                "rcode 2 unwritten",
            ),
        ];
        for (what, stanzas, want) in cases {
            assert_eq!(run(stanzas, "x.a.local."), want, "{what}");
        }
    }

    #[test]
    fn fallthrough_zones_limit_which_misses_pass() {
        let stanzas = || vec![mock("local", Does::Miss).fall_in(&["a.local", "c.local"]), mock("local", HIT)];
        let passed = "rcode 0 answers 1 from 1 passed 0b1";
        let stopped = "rcode 3 answers 0 from 0 passed 0b0";
        for (name, want) in [
            ("x.a.local.", passed),
            ("X.A.LOCAL.", passed),
            ("a.local.", passed),
            ("y.x.c.local.", passed),
            ("x.b.local.", stopped),
            ("local.", stopped),
            // Zones end at label boundaries.
            ("x.xa.local.", stopped),
        ] {
            assert_eq!(run(stanzas(), name), want, "{name}");
        }
        // Restricted fallthrough in a later stanza: the last word on a
        // name it does not cover, though an earlier stanza passed it on.
        let later = vec![mock("local", Does::Miss).fall(), mock("local", Does::Miss).fall_in(&["a.local"])];
        assert_eq!(run(later, "x.b.local."), "rcode 3 answers 0 from 1 passed 0b1");
        let later = vec![mock("local", Does::Miss).fall(), mock("local", Does::Miss).fall_in(&["a.local"])];
        assert_eq!(run(later, "x.a.local."), "fallthrough passed 0b11");
    }

    /// Every page's messages, following the cursors.
    fn whole_transfer(chain: &Chain<Mock>, zone: &str, serial: u32, budget: usize) -> Option<Vec<Vec<u8>>> {
        let mut messages = Vec::new();
        let mut cursor = Vec::new();
        loop {
            let page = chain.transfer(zone, serial, &cursor, budget).unwrap()?;
            messages.extend(page.messages);
            match page.next {
                Some(next) => cursor = next,
                None => return Some(messages),
            }
        }
    }

    #[test]
    fn large_transfers_are_split_in_order() {
        use crate::dns::message::parse_reply;

        const SERIAL: u32 = 7;
        for size in [1, TRANSFER_BATCH - 2, TRANSFER_BATCH - 1, 2 * TRANSFER_BATCH + 201] {
            let total = size + 2;
            let chain = Chain::new(vec![mock("a.local", HIT).transfer_size(size)]);
            let messages = whole_transfer(&chain, "a.local.", SERIAL, PAGE_RECORDS).unwrap();
            let replies: Vec<crate::dns::Reply> = messages.iter().map(|m| parse_reply(m).unwrap()).collect();
            let mut want_sizes = vec![TRANSFER_BATCH; total / TRANSFER_BATCH];
            if total % TRANSFER_BATCH != 0 {
                want_sizes.push(total % TRANSFER_BATCH);
            }
            let sizes: Vec<usize> = replies.iter().map(|r| r.answers.len()).collect();
            assert_eq!(sizes, want_sizes, "{size} records");
            let records: Vec<&crate::dns::RawRecord> = replies.iter().flat_map(|r| &r.answers).collect();
            let (first, last) = (records[0], records[total - 1]);
            assert_eq!((first.rtype, last.rtype), (RecordType::Soa, RecordType::Soa), "{size} records");
            assert_eq!(first, last, "{size} records");
            // The serial sits 20 octets from the end of SOA data.
            let serial = &first.rdata[first.rdata.len() - 20..first.rdata.len() - 16];
            assert_eq!(serial, SERIAL.to_be_bytes(), "{size} records");
            // Between them, every A record once, in the stanza's order.
            let middle: Vec<u32> = records[1..total - 1]
                .iter()
                .map(|r| {
                    assert_eq!(r.rtype, RecordType::A, "{size} records");
                    u32::from_be_bytes(r.rdata[..4].try_into().unwrap())
                })
                .collect();
            let want: Vec<u32> = (0..size as u32).map(|i| 0x0A00_0000 + i).collect();
            assert_eq!(middle, want, "{size} records");
        }
    }

    #[test]
    fn transfer_goes_to_the_first_authoritative_stanza() {
        let chain = Chain::new(vec![mock("a.local", HIT).no_transfer(), mock("b.local", HIT), mock("a.local", HIT)]);
        let served = |chain: &Chain<Mock>, zone| whole_transfer(chain, zone, 0, PAGE_RECORDS).is_some();
        assert!(served(&chain, "a.local."));
        assert!(served(&chain, "b.local"));
        assert!(!served(&chain, "c.local."));
        assert!(!served(&chain, "not a..name"));
        let only_first = Chain::new(vec![mock("a.local", HIT).no_transfer()]);
        assert!(!served(&only_first, "a.local."));
    }

    #[test]
    fn pages_are_batched_on_their_own_and_cursors_pass_through() {
        use crate::dns::message::parse_reply;

        let chain = Chain::new(vec![mock("a.local", HIT).transfer_size(2 * TRANSFER_BATCH + 201)]);
        let mut sizes = Vec::new();
        let mut cursor = Vec::new();
        loop {
            let page = chain.transfer("a.local.", 0, &cursor, 700).unwrap().unwrap();
            sizes.push(page.messages.iter().map(|m| parse_reply(m).unwrap().answers.len()).collect::<Vec<_>>());
            match page.next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        // A message never holds records of two pages.
        assert_eq!(sizes, vec![vec![TRANSFER_BATCH, 200], vec![TRANSFER_BATCH, 3]]);
        let paged = whole_transfer(&chain, "a.local.", 0, 700).unwrap();
        let records = |messages: &[Vec<u8>]| -> Vec<crate::dns::RawRecord> {
            messages.iter().flat_map(|m| parse_reply(m).unwrap().answers).collect()
        };
        assert_eq!(records(&paged), records(&whole_transfer(&chain, "a.local.", 0, PAGE_RECORDS).unwrap()));
        assert_eq!(chain.transfer("a.local.", 0, b"x", 700), Err("bad cursor".into()));
    }

    #[test]
    fn autopath_uses_the_first_stanza_knowing_the_client() {
        let mut chain = Chain::new(vec![
            mock("a.local", HIT),
            mock("b.local", HIT).knows_pod("west"),
            mock("a.local", HIT).knows_pod("east"),
            mock("a.local", HIT).knows_pod("north"),
        ]);
        chain.host.search = vec!["corp.example.".into()];
        assert_eq!(
            chain.autopath("web.a.local.", "10.0.0.9"),
            Some(vec!["east.svc.a.local.".into(), "corp.example.".into(), String::new()])
        );
        assert_eq!(chain.autopath("web.b.local.", "10.0.0.9").unwrap()[0], "west.svc.b.local.");
        assert_eq!(chain.autopath("web.c.local.", "10.0.0.9"), None);
        assert_eq!(chain.autopath("web.a.local.", "not-an-ip"), None);
        // Unlike upstream kubernetai, one stanza knowing the pod is enough.
        let mixed = Chain::new(vec![mock("a.local", HIT), mock("a.local", HIT).knows_pod("east")]);
        assert!(mixed.autopath("web.a.local.", "10.0.0.9").is_some());
    }

    #[test]
    fn metadata_names_the_stanza_holding_the_name() {
        let chain = Chain::new(vec![mock("b.local", HIT).knows_pod("west"), mock("a.local", HIT)]);
        let keys: Vec<String> =
            chain.metadata("web.a.local.", "10.0.0.9").into_iter().map(|e| format!("{}={}", e.key, e.value)).collect();
        assert_eq!(keys, vec!["kubernetes/client-namespace=west", "kubernetai/stanza=2"]);
        assert!(chain.metadata("web.c.local.", "bad").is_empty());
    }
}
