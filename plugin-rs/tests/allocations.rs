//! Heap allocations per lookup, counted by a global allocator that wraps
//! the system's: a cost that does not depend on the machine's load, so
//! the test can hold it where timings cannot be held. Under wazero every
//! allocation and free is a call into the guest's allocator, a measurable
//! part of a lookup (BENCHMARKS.md, "The core under wazero").
//!
//! The ceilings are today's counts. A change that allocates more on these
//! paths must raise them here, knowingly.

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
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // try_with: the thread-local may be gone while a thread exits.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn upsert(kind: Kind, json: &str) -> Event {
    Event { change: Change::Upsert, kind, object: json.as_bytes().to_vec() }
}

fn core() -> Kubernetai {
    let stanza = Stanza {
        zones: vec!["cluster.local".into(), "in-addr.arpa".into()],
        properties: vec![Property { name: "pods".into(), args: vec!["insecure".into()], line: 2 }],
        line: 1,
    };
    let (mut core, _) = Kubernetai::configure(&[stanza], 7).unwrap();
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
        ("ClusterIP A", "svc4242.ns42.svc.cluster.local.", 1, 7),
        ("missing service (NXDOMAIN)", "nope.ns42.svc.cluster.local.", 1, 8),
        ("SRV", "_http._tcp.svc4242.ns42.svc.cluster.local.", 33, 14),
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
