//! The conformance table against the built component, run by wasmtime's
//! Component Model implementation: proof that the artifact the Go plugin
//! embeds is a valid component that answers like the native core.
//!
//! The component is built by `make component`; its path can be overridden
//! with KUBERNETAI_COMPONENT.

mod conformance;

use std::path::PathBuf;

use conformance::Core;
use kubernetai::{
    Answer, ApplyReport, Change, ConfigError, Event, HostInfo, Kind, MetadataEntry, Outcome, Plan, StanzaInput,
    UpstreamQuery, UpstreamReply, ZoneSerial,
};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

mod bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "kubernetai" });
}

use bindings::exports::coredns::kubernetai::core as w;

fn component_path() -> PathBuf {
    match std::env::var_os("KUBERNETAI_COMPONENT") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/components/kubernetai.wasm"),
    }
}

/// Compiled once per test binary: compiling takes most of a second.
fn compiled() -> &'static (Engine, Component) {
    static COMPILED: std::sync::OnceLock<(Engine, Component)> = std::sync::OnceLock::new();
    COMPILED.get_or_init(|| {
        let path = component_path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("cannot read the component at {}: {e} (build it with `make component`)", path.display())
        });
        let engine = Engine::new(&Config::new()).expect("engine");
        let component = Component::new(&engine, &bytes).expect("the artifact is a valid component");
        (engine, component)
    })
}

struct Wasm {
    store: Store<()>,
    guest: bindings::Kubernetai,
}

impl Wasm {
    fn new() -> Wasm {
        let (engine, component) = compiled();
        let mut store = Store::new(engine, ());
        let linker = Linker::new(engine);
        let guest = bindings::Kubernetai::instantiate(&mut store, component, &linker).expect("instantiate");
        Wasm { store, guest }
    }
}

fn kind_out(k: Kind) -> w::Kind {
    match k {
        Kind::Namespace => w::Kind::Namespace,
        Kind::Service => w::Kind::Service,
        Kind::EndpointSlice => w::Kind::EndpointSlice,
        Kind::Pod => w::Kind::Pod,
        Kind::ServiceImport => w::Kind::ServiceImport,
        Kind::MulticlusterEndpointSlice => w::Kind::MulticlusterEndpointSlice,
    }
}

fn kind_in(k: w::Kind) -> Kind {
    match k {
        w::Kind::Namespace => Kind::Namespace,
        w::Kind::Service => Kind::Service,
        w::Kind::EndpointSlice => Kind::EndpointSlice,
        w::Kind::Pod => Kind::Pod,
        w::Kind::ServiceImport => Kind::ServiceImport,
        w::Kind::MulticlusterEndpointSlice => Kind::MulticlusterEndpointSlice,
    }
}

impl Core for Wasm {
    fn configure(&mut self, stanzas: &[StanzaInput], seed: u64) -> Result<Vec<Plan>, ConfigError> {
        let stanzas: Vec<w::Stanza> = stanzas
            .iter()
            .map(|s| w::Stanza {
                zones: s.zones.clone(),
                properties: s
                    .properties
                    .iter()
                    .map(|p| w::Property { name: p.name.clone(), args: p.args.clone(), line: p.line })
                    .collect(),
                line: s.line,
            })
            .collect();
        let api = self.guest.coredns_kubernetai_core();
        match api.call_configure(&mut self.store, &stanzas, seed).expect("no trap") {
            Ok(plans) => Ok(plans
                .into_iter()
                .map(|p| Plan { zones: p.zones, kinds: p.kinds.into_iter().map(kind_in).collect() })
                .collect()),
            Err(e) => Err(ConfigError { stanza: e.stanza, line: e.line, property: e.property, reason: e.reason }),
        }
    }

    fn set_host(&mut self, info: &HostInfo) {
        let api = self.guest.coredns_kubernetai_core();
        let info = w::HostInfo { local_ips: info.local_ips.clone(), search: info.search.clone() };
        api.call_set_host(&mut self.store, &info).expect("no trap")
    }

    fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport {
        let events: Vec<w::Event> = events
            .iter()
            .map(|e| w::Event {
                change: if e.change == Change::Upsert { w::Change::Upsert } else { w::Change::Delete },
                kind: kind_out(e.kind),
                object: e.object.clone(),
            })
            .collect();
        let api = self.guest.coredns_kubernetai_core();
        let r = api.call_apply(&mut self.store, stanza, now, &events).expect("no trap");
        let serials = r.serials.into_iter().map(|z| ZoneSerial { zone: z.zone, serial: z.serial }).collect();
        ApplyReport { applied: r.applied, skipped: r.skipped, problems: r.problems, serials }
    }

    fn set_synced(&mut self, stanza: u32, synced: bool) {
        let api = self.guest.coredns_kubernetai_core();
        api.call_set_synced(&mut self.store, stanza, synced).expect("no trap")
    }

    fn transfer(&mut self, zone: &str, serial: u32) -> Option<Vec<Vec<u8>>> {
        let api = self.guest.coredns_kubernetai_core();
        api.call_transfer(&mut self.store, zone, serial).expect("no trap")
    }

    fn autopath(&mut self, qname: &str, client: &str) -> Option<Vec<String>> {
        let api = self.guest.coredns_kubernetai_core();
        api.call_autopath(&mut self.store, qname, client).expect("no trap")
    }

    fn metadata(&mut self, qname: &str, client: &str) -> Vec<MetadataEntry> {
        let api = self.guest.coredns_kubernetai_core();
        let entries = api.call_metadata(&mut self.store, qname, client).expect("no trap");
        entries.into_iter().map(|e| MetadataEntry { key: e.key, value: e.value }).collect()
    }

    fn lookup(&mut self, query: &[u8], replies: &[UpstreamReply]) -> Outcome {
        let replies: Vec<w::UpstreamReply> = replies
            .iter()
            .map(|r| w::UpstreamReply { name: r.name.clone(), qtype: r.qtype, message: r.message.clone() })
            .collect();
        let api = self.guest.coredns_kubernetai_core();
        match api.call_lookup(&mut self.store, query, &replies).expect("no trap") {
            w::Outcome::Answer(a) => {
                Outcome::Answer(Answer { message: a.message, stanza: a.stanza, fell_through: a.fell_through })
            }
            w::Outcome::Fallthrough(passed) => Outcome::Fallthrough(passed),
            w::Outcome::Upstream(qs) => {
                Outcome::Upstream(qs.into_iter().map(|q| UpstreamQuery { name: q.name, qtype: q.qtype }).collect())
            }
            w::Outcome::Rcode(rcode) => Outcome::Rcode(rcode),
        }
    }
}

fn new_core() -> Box<dyn Core> {
    Box::new(Wasm::new())
}

#[test]
fn conformance_table() {
    let failures = conformance::run_table(&new_core);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn zone_transfers() {
    let failures = conformance::transfer_run(&new_core);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn autopath_and_metadata() {
    let failures = conformance::clients_run(&new_core);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn configuration_errors_cross_the_boundary() {
    let mut wasm = Wasm::new();
    let bad = StanzaInput {
        zones: vec!["cluster.local".into()],
        properties: vec![kubernetai::Property { name: "ttl".into(), args: vec!["nine".into()], line: 7 }],
        line: 6,
    };
    let err = wasm.configure(&[bad], 1).unwrap_err();
    assert_eq!((err.stanza, err.line, err.property.as_str()), (0, 7, "ttl"));
    assert!(err.reason.contains("not an integer"), "{}", err.reason);
}

#[test]
fn malformed_objects_and_queries_are_reported_not_fatal() {
    let mut wasm = Wasm::new();
    conformance::Scenario::new().stanza(&["cluster.local"], &[], vec![]).load(&mut wasm);
    let report = wasm.apply(
        0,
        1,
        &[
            Event { change: Change::Upsert, kind: Kind::Service, object: b"{not json".to_vec() },
            Event { change: Change::Upsert, kind: Kind::Namespace, object: br#"{"metadata":{"name":"ok"}}"#.to_vec() },
        ],
    );
    assert_eq!((report.applied, report.skipped), (1, 1));
    assert!(report.problems[0].contains("service"), "{:?}", report.problems);
    // A query too short for a header: the server answers FORMERR itself.
    assert_eq!(wasm.lookup(&[1, 2, 3], &[]), Outcome::Rcode(1));
    // A header with no question: FORMERR written by the core.
    let mut header = conformance::query("x.cluster.local.", hickory_proto::rr::RecordType::A);
    header.truncate(12);
    header[5] = 0;
    match wasm.lookup(&header, &[]) {
        Outcome::Answer(a) => assert_eq!(a.message[3] & 0x0F, 1, "FORMERR"),
        other => panic!("{other:?}"),
    }
    // The instance is still fine.
    let q = conformance::query("ok.svc.cluster.local.", hickory_proto::rr::RecordType::A);
    assert!(matches!(wasm.lookup(&q, &[]), Outcome::Answer(_)));
}
