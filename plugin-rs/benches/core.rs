//! Lookup and apply costs of the core, natively and through the component
//! under wasmtime (the reference Component Model runtime). The Go host's
//! figures under wazero come from `go test -bench` in host-go/engine.
//!
//!     make bench      (or: cargo bench -p kubernetai)

#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "../tests/support/query.rs"]
mod support;
use std::hint::black_box;
use std::path::PathBuf;

use cluster::cluster;
use support::query;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kubernetai::Kubernetai;
use kubernetai::contract::{Event, Outcome, Property, Stanza};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

/// wasmtime's types for the contract, given values through serde (see
/// tests/component.rs).
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "kubernetai",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}
use bindings::exports::coredns::kubernetai::core as w;

fn to<T: serde::de::DeserializeOwned>(value: &impl serde::Serialize) -> T {
    serde_json::to_value(value).and_then(serde_json::from_value).expect("both bindings follow the same WIT")
}

const SERVICES: usize = 10_000;

fn stanza() -> Stanza {
    Stanza {
        zones: vec!["cluster.local".into(), "in-addr.arpa".into()],
        properties: vec![Property { name: "pods".into(), args: vec!["insecure".into()], line: 2 }],
        line: 1,
    }
}

/// The queries measured: a ClusterIP A, a headless-style endpoint name, a
/// miss (NXDOMAIN) and an SRV.
fn queries() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a_clusterip", query("svc4242.ns42.svc.cluster.local.", 1)),
        ("a_endpoint", query("10-1-16-242.svc4242.ns42.svc.cluster.local.", 1)),
        ("nxdomain", query("nope.ns42.svc.cluster.local.", 1)),
        ("srv", query("_http._tcp.svc4242.ns42.svc.cluster.local.", 33)),
    ]
}

fn native() -> Kubernetai {
    let (mut core, _) = Kubernetai::configure(&[stanza()], 7).unwrap();
    let report = core.apply(0, 1, &cluster(SERVICES));
    assert_eq!(report.skipped, 0, "{:?}", report.problems);
    core.set_synced(0, true);
    core
}

fn bench_native(c: &mut Criterion) {
    let core = native();
    let mut group = c.benchmark_group("lookup/native");
    for (name, q) in queries() {
        assert!(matches!(core.lookup(&q, &[]), Outcome::Answer(_)), "{name}");
        group.bench_function(name, |b| b.iter(|| core.lookup(black_box(&q), &[])));
    }
    group.finish();

    let events = cluster(SERVICES);
    let mut group = c.benchmark_group("apply/native");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.bench_function("10k_services", |b| {
        b.iter_batched(
            || Kubernetai::configure(&[stanza()], 7).unwrap().0,
            |mut core| core.apply(0, 1, black_box(&events)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

struct Wasm {
    store: Store<()>,
    guest: bindings::Kubernetai,
}

fn component_path() -> PathBuf {
    match std::env::var_os("KUBERNETAI_COMPONENT") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/components/kubernetai.wasm"),
    }
}

fn wasm_instance(engine: &Engine, component: &Component) -> Wasm {
    let mut store = Store::new(engine, ());
    let guest = bindings::Kubernetai::instantiate(&mut store, component, &Linker::new(engine)).unwrap();
    guest.coredns_kubernetai_core().call_configure(&mut store, &[to(&stanza())], 7).unwrap().unwrap();
    Wasm { store, guest }
}

fn wit_events(events: &[Event]) -> Vec<w::Event> {
    events.iter().map(to).collect()
}

fn bench_wasmtime(c: &mut Criterion) {
    let path = component_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make component`)", path.display()));
    let engine = Engine::new(&Config::new()).unwrap();
    let component = Component::new(&engine, &bytes).unwrap();
    let events = wit_events(&cluster(SERVICES));

    let mut wasm = wasm_instance(&engine, &component);
    let api = wasm.guest.coredns_kubernetai_core();
    let report = api.call_apply(&mut wasm.store, 0, 1, &events).unwrap();
    assert_eq!(report.skipped, 0);
    api.call_set_synced(&mut wasm.store, 0, true).unwrap();

    let mut group = c.benchmark_group("lookup/wasmtime");
    for (name, q) in queries() {
        group.bench_function(name, |b| b.iter(|| api.call_lookup(&mut wasm.store, black_box(&q), &[]).unwrap()));
    }
    group.finish();

    let mut group = c.benchmark_group("apply/wasmtime");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.bench_function("10k_services", |b| {
        b.iter_batched(
            || wasm_instance(&engine, &component),
            |mut fresh| {
                let api = fresh.guest.coredns_kubernetai_core();
                api.call_apply(&mut fresh.store, 0, 1, black_box(&events)).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_native, bench_wasmtime);
criterion_main!(benches);
