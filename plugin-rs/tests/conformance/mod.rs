//! The conformance table: what each stanza answers, written from the
//! kubernetes plugin's behaviour, run against any implementation of the
//! contract (the native core, and the component under wasmtime).
//!
//! Each family of behaviour has its own file returning its cases. A case
//! names a scenario (stanzas, their objects, sync state), a query, the
//! replies an upstream lookup would give, and the expected outcome in a
//! compact text form (see [`render`]).

#![allow(dead_code)]

pub mod fixture;

pub mod chain;
mod clients;
mod headless;
mod negative;
mod options;
mod pods;
mod ptr;
mod services;
pub mod sets;
mod srv;
pub mod transfer;
mod zonal;

pub use clients::run as clients_run;
pub use transfer::run as transfer_run;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata};
use hickory_proto::serialize::binary::BinDecodable;
use kubernetai::contract::{
    ApplyReport, ConfigError, Configuration, Event, HostInfo, MetadataEntry, Outcome, Property, Stanza as StanzaInput,
    TransferPage, UpstreamQuery, UpstreamReply,
};

/// Unix time the scenarios' objects arrive at: the SOA serial.
pub const NOW: i64 = 1_700_000_000;

/// Anything that implements the contract.
pub trait Core {
    fn configure(&mut self, stanzas: &[StanzaInput], seed: u64) -> Result<Configuration, ConfigError>;
    fn set_host(&mut self, info: &HostInfo);
    fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport;
    fn set_synced(&mut self, stanza: u32, synced: bool);
    fn transfer(&mut self, zone: &str, serial: u32, cursor: &[u8]) -> Result<Option<TransferPage>, String>;
    fn autopath(&mut self, qname: &str, client: &str) -> Option<Vec<String>>;
    fn metadata(&mut self, qname: &str, client: &str) -> Vec<MetadataEntry>;
    fn lookup(&mut self, query: &[u8], replies: &[UpstreamReply]) -> Outcome;
}

/// A whole zone transfer: the messages of every page, in order, following
/// the cursors; None when no stanza is authoritative.
pub fn transfer_all(core: &mut dyn Core, zone: &str, serial: u32) -> Option<Vec<Vec<u8>>> {
    follow_pages(|cursor| core.transfer(zone, serial, cursor))
}

/// The messages of every page `page` gives, from the empty cursor on.
pub fn follow_pages(mut page: impl FnMut(&[u8]) -> Result<Option<TransferPage>, String>) -> Option<Vec<Vec<u8>>> {
    let mut messages = Vec::new();
    let mut cursor = Vec::new();
    loop {
        let page = page(&cursor).expect("the core's own cursors are good")?;
        messages.extend(page.messages);
        match page.next {
            Some(next) => cursor = next,
            None => return Some(messages),
        }
    }
}

/// A server block: its stanzas, each with its objects.
pub struct Scenario {
    pub stanzas: Vec<StanzaInput>,
    pub objects: Vec<Vec<Event>>,
    pub synced: Vec<bool>,
    pub host: HostInfo,
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario {
            stanzas: Vec::new(),
            objects: Vec::new(),
            synced: Vec::new(),
            host: HostInfo { local_ips: Vec::new(), search: Vec::new() },
        }
    }

    /// Adds a synced stanza.
    pub fn stanza(mut self, zones: &[&str], props: &[(&str, &[&str])], objects: Vec<Event>) -> Scenario {
        let line = 10 * (self.stanzas.len() as u32 + 1);
        self.stanzas.push(StanzaInput {
            zones: zones.iter().map(|z| z.to_string()).collect(),
            properties: props
                .iter()
                .enumerate()
                .map(|(i, (name, args))| Property {
                    name: name.to_string(),
                    args: args.iter().map(|a| a.to_string()).collect(),
                    line: line + 1 + i as u32,
                })
                .collect(),
            line,
        });
        self.objects.push(objects);
        self.synced.push(true);
        self
    }

    /// Marks the last stanza as not yet synced.
    pub fn unsynced(mut self) -> Scenario {
        *self.synced.last_mut().unwrap() = false;
        self
    }

    pub fn local_ips(mut self, ips: &[&str]) -> Scenario {
        self.host.local_ips = ips.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn search(mut self, domains: &[&str]) -> Scenario {
        self.host.search = domains.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Loads the scenario into a fresh core.
    pub fn load(&self, core: &mut dyn Core) {
        core.configure(&self.stanzas, 42).expect("scenario configuration is valid");
        core.set_host(&self.host);
        for (i, objects) in self.objects.iter().enumerate() {
            let report = core.apply(i as u32, NOW, objects);
            assert_eq!(report.skipped, 0, "fixture objects must all apply: {:?}", report.problems);
            core.set_synced(i as u32, self.synced[i]);
        }
    }
}

/// An upstream answer record: (owner, ttl, type, data), for A, AAAA and
/// CNAME.
pub type Upstream = (&'static str, u32, &'static str, &'static str);

pub struct Case {
    /// Where the case comes from, for failure messages.
    pub family: &'static str,
    pub scenario: fn() -> Scenario,
    pub qname: &'static str,
    pub qtype: RecordType,
    /// Replies to upstream lookups, by (name, type).
    pub upstream: &'static [(&'static str, &'static str, &'static [Upstream])],
    pub want: String,
}

/// A case with no upstream replies.
pub fn case(
    family: &'static str,
    scenario: fn() -> Scenario,
    qname: &'static str,
    qtype: RecordType,
    want: impl Into<String>,
) -> Case {
    Case { family, scenario, qname, qtype, upstream: &[], want: want.into() }
}

/// Every case of every family.
pub fn all_cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(services::cases());
    all.extend(headless::cases());
    all.extend(negative::cases());
    all.extend(srv::cases());
    all.extend(ptr::cases());
    all.extend(pods::cases());
    all.extend(options::cases());
    all.extend(chain::cases());
    all.extend(zonal::cases());
    all.extend(sets::cases());
    all
}

pub fn query(qname: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(0x4B1D, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), qtype));
    m.to_vec().unwrap()
}

fn upstream_message(name: &str, qtype: &str, records: &[Upstream]) -> Vec<u8> {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    let rtype: RecordType = qtype.parse().unwrap();
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    for (owner, ttl, rtype, data) in records {
        let rdata = match *rtype {
            "A" => RData::A(rdata::A(data.parse().unwrap())),
            "AAAA" => RData::AAAA(rdata::AAAA(data.parse().unwrap())),
            "CNAME" => RData::CNAME(rdata::CNAME(Name::from_ascii(data).unwrap())),
            other => panic!("unsupported upstream type {other}"),
        };
        m.add_answer(Record::from_rdata(Name::from_ascii(owner).unwrap(), *ttl, rdata));
    }
    m.to_vec().unwrap()
}

/// Runs one query, going through the upstream round when the core asks
/// for one (at most once, as the host does).
pub fn resolve(core: &mut dyn Core, c: &Case) -> String {
    let q = query(c.qname, c.qtype);
    let mut out = String::new();
    let mut outcome = core.lookup(&q, &[]);
    if let Outcome::Upstream(needed) = &outcome {
        let replies = replies_for(needed, c);
        for r in &replies {
            out.push_str(&format!("upstream {} {}\n", r.name, RecordType::from(r.qtype)));
        }
        outcome = core.lookup(&q, &replies);
    }
    out.push_str(&render(&outcome));
    out
}

fn replies_for(needed: &[UpstreamQuery], c: &Case) -> Vec<UpstreamReply> {
    needed
        .iter()
        .map(|n| {
            let qtype = RecordType::from(n.qtype).to_string();
            let found = c.upstream.iter().find(|(name, t, _)| name.eq_ignore_ascii_case(&n.name) && *t == qtype);
            UpstreamReply {
                name: n.name.clone(),
                qtype: n.qtype,
                message: found.map(|(name, t, records)| upstream_message(name, t, records)).unwrap_or_default(),
            }
        })
        .collect()
}

/// The outcome as text: a header line (`NOERROR aa`), then one line per
/// record prefixed by its section (`an`, `ns`, `ar`).
pub fn render(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Fallthrough(0) => "FALLTHROUGH".into(),
        Outcome::Fallthrough(passed) => format!("FALLTHROUGH\n{}", provenance(None, *passed)),
        Outcome::Rcode(rcode) => format!("RCODE {}", rcode_name(u16::from(*rcode))),
        Outcome::Upstream(needed) => {
            let names: Vec<String> =
                needed.iter().map(|n| format!("{} {}", n.name, RecordType::from(n.qtype))).collect();
            format!("UPSTREAM {}", names.join(", "))
        }
        Outcome::Answer(a) if a.stanza == 0 && a.fell_through == 0 && a.clusters == 0 => render_message(&a.message),
        Outcome::Answer(a) => {
            let mut via = provenance(Some(a.stanza), a.fell_through);
            if a.clusters != 0 {
                via.push_str(&format!(", merged {}", numbered(a.clusters)));
            }
            format!("{}\n{via}", render_message(&a.message))
        }
    }
}

/// The stanzas of a bit set, numbered from 1.
fn numbered(bits: u64) -> String {
    let numbers: Vec<String> = (0..64).filter(|i| bits & (1 << i) != 0).map(|i| (i + 1).to_string()).collect();
    numbers.join(",")
}

/// Which stanza answered and which passed the name on, numbered from 1.
fn provenance(stanza: Option<u32>, passed: u64) -> String {
    let passed: Vec<String> = (0..64).filter(|i| passed & (1 << i) != 0).map(|i| (i + 1).to_string()).collect();
    let mut parts = Vec::new();
    if let Some(s) = stanza {
        parts.push(format!("stanza {}", s + 1));
    }
    if !passed.is_empty() {
        parts.push(format!("passed by {}", passed.join(",")));
    }
    format!("via {}", parts.join(", "))
}

/// The mnemonic dig prints.
fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "OTHER",
    }
}

pub fn render_message(bytes: &[u8]) -> String {
    let m = Message::from_bytes(bytes).expect("the core writes valid messages");
    let mut head = vec![rcode_name(u16::from(m.metadata.response_code)).to_string()];
    if m.metadata.authoritative {
        head.push("aa".into());
    }
    if m.metadata.truncation {
        head.push("tc".into());
    }
    let mut lines = vec![head.join(" ")];
    for (section, records) in [("an", &m.answers), ("ns", &m.authorities), ("ar", &m.additionals)] {
        for r in records.iter() {
            lines.push(format!("{section} {r}"));
        }
    }
    lines.join("\n")
}

/// Runs the whole table, returning every mismatch.
pub fn run_table(new_core: &dyn Fn() -> Box<dyn Core>) -> Vec<String> {
    let mut failures = Vec::new();
    for c in all_cases() {
        let mut core = new_core();
        (c.scenario)().load(core.as_mut());
        let got = resolve(core.as_mut(), &c);
        let want = c.want.trim().lines().map(str::trim).collect::<Vec<_>>().join("\n");
        if got.trim() != want {
            failures.push(format!(
                "[{}] {} {}\n--- want\n{}\n--- got\n{}\n",
                c.family,
                c.qname,
                c.qtype,
                want,
                got.trim()
            ));
        }
    }
    failures
}
