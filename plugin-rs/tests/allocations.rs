//! Heap allocations per lookup, and heap bytes held per object, counted
//! by a global allocator that wraps the system's: costs that do not
//! depend on the machine's load, so the tests can hold them where timings
//! cannot be held. Under wazero every allocation and free is a call into
//! the guest's allocator, a measurable part of a lookup (BENCHMARKS.md,
//! "The core under wazero"); and every pool instance holds a replica of
//! the index in its linear memory, so its bytes per object are multiplied
//! by the pool's size (README, "Planning memory").
//!
//! The ceilings are today's counts, a little above. A change that
//! allocates more on these paths, or holds more per object, must raise
//! them here, knowingly.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/query.rs"]
mod support;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use support::query;

use kubernetai::Kubernetai;
use kubernetai::contract::{Change, Event, Kind, Outcome, Property, Stanza};

struct Counting;

thread_local! {
    /// Allocations made by this thread: the test threads run side by side.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated by this thread and not yet freed (by any thread:
    /// the count may go below zero).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // try_with: the thread-locals may be gone while a thread exits.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        let _ = LIVE.try_with(|n| n.set(n.get() + layout.size() as isize));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|n| n.set(n.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn upsert(kind: Kind, json: &str) -> Event {
    Event { change: Change::Upsert, kind, object: json.as_bytes().to_vec() }
}

/// The stanza of the benchmarks (benches/core.rs).
fn configured() -> Kubernetai {
    let stanza = Stanza {
        zones: vec!["cluster.local".into(), "in-addr.arpa".into()],
        properties: vec![Property { name: "pods".into(), args: vec!["insecure".into()], line: 2 }],
        line: 1,
    };
    Kubernetai::configure(&[stanza], 7).unwrap().0
}

fn core() -> Kubernetai {
    let mut core = configured();
    let events = [
        upsert(Kind::Namespace, r#"{"metadata":{"name":"ns42"}}"#),
        upsert(
            Kind::Service,
            r#"{"metadata":{"name":"svc4242","namespace":"ns42"},
                "spec":{"type":"ClusterIP","clusterIP":"10.96.1.2","ports":[{"name":"http","port":80,"protocol":"TCP"}]}}"#,
        ),
        upsert(
            Kind::EndpointSlice,
            r#"{"metadata":{"name":"svc4242-x","namespace":"ns42","labels":{"kubernetes.io/service-name":"svc4242"}},
                "addressType":"IPv4","endpoints":[{"addresses":["10.1.16.242"]},{"addresses":["10.2.16.242"]}],
                "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}"#,
        ),
    ];
    assert_eq!(core.apply(0, 1, &events).skipped, 0);
    core.set_synced(0, true);
    core
}

#[test]
fn lookups_allocate_at_most_their_ceiling() {
    let core = core();
    let cases = [
        ("ClusterIP A", "svc4242.ns42.svc.cluster.local.", 1, 5),
        ("missing service (NXDOMAIN)", "nope.ns42.svc.cluster.local.", 1, 7),
        ("SRV", "_http._tcp.svc4242.ns42.svc.cluster.local.", 33, 11),
        ("name outside the zones", "example.org.", 1, 1),
    ];
    for (what, name, qtype, ceiling) in cases {
        let q = query(name, qtype);
        let warm = core.lookup(&q, &[]);
        assert!(matches!(warm, Outcome::Answer(_) | Outcome::Fallthrough(_)), "{what}: {warm:?}");
        let before = ALLOCATIONS.with(Cell::get);
        let out = core.lookup(&q, &[]);
        let made = ALLOCATIONS.with(Cell::get) - before;
        drop(out);
        assert!(made <= ceiling, "{what}: {made} allocations, ceiling {ceiling}");
        eprintln!("{what}: {made} allocations (ceiling {ceiling})");
    }
}

/// Heap bytes the index holds per object of the benchmarks' cluster at
/// 10,000 services (a service, its slice of two addresses, a namespace per
/// hundred), as requested from the allocator: the guest's allocator adds
/// its own overhead, and wasm32's pointers are half as wide (the host's
/// BenchmarkStateMemoryReal measures the linear memory itself).
#[test]
fn the_index_holds_at_most_its_ceiling_per_object() {
    const SERVICES: usize = 10_000;
    const CEILING: usize = 330;
    let events = cluster::cluster(SERVICES);
    let mut core = configured();
    let before = LIVE.with(Cell::get);
    let report = core.apply(0, 1, &events);
    let held = LIVE.with(Cell::get) - before;
    drop(report);
    let per_object = held as usize / events.len();
    assert!(per_object <= CEILING, "{per_object} bytes per object, ceiling {CEILING}");
    eprintln!("{} objects: {held} bytes held, {per_object} per object (ceiling {CEILING})", events.len());
    drop(core);
}
