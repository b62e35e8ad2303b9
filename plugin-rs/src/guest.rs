//! The component's exports: the WIT interface, bound to [`Kubernetai`].
//!
//! A wasm instance runs one call at a time, so the state lives in a
//! thread-local cell; the host keeps one full replica per instance.

use std::cell::RefCell;

use crate::Kubernetai;
use crate::contract as c;

wit_bindgen::generate!({ path: "../wit", world: "kubernetai" });

use exports::coredns::kubernetai::core as w;

thread_local! {
    static STATE: RefCell<Option<Kubernetai>> = const { RefCell::new(None) };
}

struct Component;

export!(Component);

impl w::Guest for Component {
    fn configure(stanzas: Vec<w::Stanza>, hash_seed: u64) -> Result<Vec<w::StanzaPlan>, w::ConfigError> {
        let inputs: Vec<c::StanzaInput> = stanzas.into_iter().map(stanza_in).collect();
        match Kubernetai::configure(&inputs, hash_seed) {
            Ok((core, plans)) => {
                STATE.with(|s| *s.borrow_mut() = Some(core));
                Ok(plans
                    .into_iter()
                    .map(|p| w::StanzaPlan { zones: p.zones, kinds: p.kinds.into_iter().map(kind_out).collect() })
                    .collect())
            }
            Err(e) => Err(w::ConfigError { stanza: e.stanza, line: e.line, property: e.property, reason: e.reason }),
        }
    }

    fn set_host(info: w::HostInfo) {
        let info = c::HostInfo { local_ips: info.local_ips, search: info.search };
        with_core(|core| core.set_host(&info));
    }

    fn apply(stanza: u32, now: i64, events: Vec<w::Event>) -> w::ApplyReport {
        let events: Vec<c::Event> = events
            .into_iter()
            .map(|e| c::Event {
                change: match e.change {
                    w::Change::Upsert => c::Change::Upsert,
                    w::Change::Delete => c::Change::Delete,
                },
                kind: kind_in(e.kind),
                object: e.object,
            })
            .collect();
        let count = events.len() as u32;
        let report = with_core(|core| core.apply(stanza, now, &events)).unwrap_or_else(|| c::ApplyReport {
            skipped: count,
            problems: vec!["not configured".into()],
            ..c::ApplyReport::default()
        });
        w::ApplyReport {
            applied: report.applied,
            skipped: report.skipped,
            problems: report.problems,
            serials: report.serials.into_iter().map(|z| w::ZoneSerial { zone: z.zone, serial: z.serial }).collect(),
        }
    }

    fn set_synced(stanza: u32, synced: bool) {
        with_core(|core| core.set_synced(stanza, synced));
    }

    fn transfer(zone: String, serial: u32) -> Option<Vec<Vec<u8>>> {
        with_core(|core| core.transfer(&zone, serial)).flatten()
    }

    fn autopath(qname: String, client: String) -> Option<Vec<String>> {
        with_core(|core| core.autopath(&qname, &client)).flatten()
    }

    fn metadata(qname: String, client: String) -> Vec<w::MetadataEntry> {
        let entries = with_core(|core| core.metadata(&qname, &client)).unwrap_or_default();
        entries.into_iter().map(|e| w::MetadataEntry { key: e.key, value: e.value }).collect()
    }

    fn lookup(query: Vec<u8>, replies: Vec<w::UpstreamReply>) -> w::Outcome {
        let replies: Vec<c::UpstreamReply> = replies
            .into_iter()
            .map(|r| c::UpstreamReply { name: r.name, qtype: r.qtype, message: r.message })
            .collect();
        #[cfg(feature = "swap-probe")]
        if let Some(answer) = probe::answer(&query) {
            return answer;
        }
        // Unconfigured, the core knows no zones: the query is not its own.
        let outcome = with_core(|core| core.lookup(&query, &replies)).unwrap_or(c::Outcome::Fallthrough(0));
        match outcome {
            c::Outcome::Answer(a) => {
                w::Outcome::Answer(w::Answer { message: a.message, stanza: a.stanza, fell_through: a.fell_through })
            }
            c::Outcome::Fallthrough(passed) => w::Outcome::Fallthrough(passed),
            c::Outcome::Upstream(queries) => w::Outcome::Upstream(
                queries.into_iter().map(|q| w::UpstreamQuery { name: q.name, qtype: q.qtype }).collect(),
            ),
            c::Outcome::Rcode(rcode) => w::Outcome::Rcode(rcode),
        }
    }
}

fn with_core<T>(f: impl FnOnce(&mut Kubernetai) -> T) -> Option<T> {
    STATE.with(|s| s.borrow_mut().as_mut().map(f))
}

fn stanza_in(s: w::Stanza) -> c::StanzaInput {
    c::StanzaInput {
        zones: s.zones,
        properties: s
            .properties
            .into_iter()
            .map(|p| c::Property { name: p.name, args: p.args, line: p.line })
            .collect(),
        line: s.line,
    }
}

fn kind_in(k: w::Kind) -> c::Kind {
    match k {
        w::Kind::Namespace => c::Kind::Namespace,
        w::Kind::Service => c::Kind::Service,
        w::Kind::EndpointSlice => c::Kind::EndpointSlice,
        w::Kind::Pod => c::Kind::Pod,
        w::Kind::ServiceImport => c::Kind::ServiceImport,
        w::Kind::MulticlusterEndpointSlice => c::Kind::MulticlusterEndpointSlice,
    }
}

fn kind_out(k: c::Kind) -> w::Kind {
    match k {
        c::Kind::Namespace => w::Kind::Namespace,
        c::Kind::Service => w::Kind::Service,
        c::Kind::EndpointSlice => w::Kind::EndpointSlice,
        c::Kind::Pod => w::Kind::Pod,
        c::Kind::ServiceImport => w::Kind::ServiceImport,
        c::Kind::MulticlusterEndpointSlice => w::Kind::MulticlusterEndpointSlice,
    }
}

/// The `swap-probe` build's one difference from the real core, so that a
/// test can tell which build is serving: `build.kubernetai. TXT`, a name
/// outside every zone that the real core passes on, is answered with the
/// TXT record "swap-probe".
#[cfg(feature = "swap-probe")]
mod probe {
    use super::w;
    use crate::dns::{Name, Owner, RData, Record, RecordType, Response, message};

    pub const NAME: &str = "build.kubernetai.";
    pub const TEXT: &[u8] = b"swap-probe";

    pub fn answer(query: &[u8]) -> Option<w::Outcome> {
        let q = message::parse_query(query).ok()?;
        let probe = Name::parse(NAME).ok()?;
        if q.qtype != RecordType::Txt || !q.qname.eq_ignore_case(&probe) {
            return None;
        }
        let response = Response {
            authoritative: true,
            answer: vec![Record::new(Owner::Question, 0, RData::Txt(vec![TEXT.to_vec()]))],
            ..Response::default()
        };
        Some(w::Outcome::Answer(w::Answer { message: response.encode(&q), stanza: 0, fell_through: 0 }))
    }
}
