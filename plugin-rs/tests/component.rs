//! The conformance table against the built component, run by wasmtime's
//! Component Model implementation: proof that the artifact the Go plugin
//! embeds is a valid component that answers like the native core.
//!
//! The component is built by `make component`; its path can be overridden
//! with KUBERNETAI_COMPONENT.

mod conformance;

use std::path::PathBuf;

use conformance::Core;
use kubernetai::contract::{
    ApplyReport, ConfigError, Configuration, Event, HostInfo, MetadataEntry, Outcome, Stanza, TransferPage,
    UpstreamReply,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

/// wasmtime's own types for the contract. Its `with` option can only map
/// an interface to types another `bindgen!` generated (they must implement
/// wasmtime's ComponentType, Lift and Lower), not to wit-bindgen's, so the
/// two sets of generated types meet through serde: both derive it, with the
/// same field and case names, and `to` below converts any of them.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "kubernetai",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

/// A value of one set of generated types as the other set's.
fn to<T: DeserializeOwned>(value: &impl Serialize) -> T {
    serde_json::to_value(value).and_then(serde_json::from_value).expect("both bindings follow the same WIT")
}

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

impl Core for Wasm {
    fn configure(&mut self, stanzas: &[Stanza], seed: u64) -> Result<Configuration, ConfigError> {
        let api = self.guest.coredns_kubernetai_core();
        to(&api.call_configure(&mut self.store, &to::<Vec<_>>(&stanzas), seed).expect("no trap"))
    }

    fn set_host(&mut self, info: &HostInfo) {
        let api = self.guest.coredns_kubernetai_core();
        api.call_set_host(&mut self.store, &to(info)).expect("no trap")
    }

    fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport {
        let api = self.guest.coredns_kubernetai_core();
        to(&api.call_apply(&mut self.store, stanza, now, &to::<Vec<_>>(&events)).expect("no trap"))
    }

    fn set_synced(&mut self, stanza: u32, synced: bool) {
        let api = self.guest.coredns_kubernetai_core();
        api.call_set_synced(&mut self.store, stanza, synced).expect("no trap")
    }

    fn transfer(&mut self, zone: &str, serial: u32, cursor: &[u8]) -> Result<Option<TransferPage>, String> {
        let api = self.guest.coredns_kubernetai_core();
        to(&api.call_transfer(&mut self.store, zone, serial, cursor).expect("no trap"))
    }

    fn autopath(&mut self, qname: &str, client: &str) -> Option<Vec<String>> {
        let api = self.guest.coredns_kubernetai_core();
        api.call_autopath(&mut self.store, qname, client).expect("no trap")
    }

    fn metadata(&mut self, qname: &str, client: &str) -> Vec<MetadataEntry> {
        let api = self.guest.coredns_kubernetai_core();
        to(&api.call_metadata(&mut self.store, qname, client).expect("no trap"))
    }

    fn lookup(&mut self, query: &[u8], replies: &[UpstreamReply]) -> Outcome {
        let api = self.guest.coredns_kubernetai_core();
        to(&api.call_lookup(&mut self.store, query, &to::<Vec<_>>(&replies)).expect("no trap"))
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
    let bad = Stanza {
        zones: vec!["cluster.local".into()],
        properties: vec![kubernetai::contract::Property { name: "ttl".into(), args: vec!["nine".into()], line: 7 }],
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
            Event {
                change: kubernetai::contract::Change::Upsert,
                kind: kubernetai::contract::Kind::Service,
                object: b"{not json".to_vec(),
            },
            Event {
                change: kubernetai::contract::Change::Upsert,
                kind: kubernetai::contract::Kind::Namespace,
                object: br#"{"metadata":{"name":"ok"}}"#.to_vec(),
            },
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
