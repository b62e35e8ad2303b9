//! Cost of a big headless service, natively: SRV and A for the service
//! name, and a whole zone transfer in pages as the host runs one, at
//! 1,000 to 20,000 endpoints (and the transfer at 100,000). Issue 10
//! measured SRV at 20,000 endpoints at 3.6 s before its de-duplication
//! became linear. `set_*`: the same service in both members of a cluster
//! set (`clusterset`), each with its own addresses: the merged SRV and A,
//! the transfer, and its slowest page.
//!
//!     cargo bench -p kubernetai --bench headless

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubernetai::Kubernetai;
use kubernetai::contract::{Change, Event, Kind, Outcome, Property, Stanza};

const SIZES: [usize; 4] = [1_000, 5_000, 10_000, 20_000];
const TRANSFER_ONLY: usize = 100_000;

/// A core holding the headless service `big` in `shop` with `n` endpoints
/// in slices of 1000, each with a hostname and two ports.
fn core(n: usize) -> Kubernetai {
    let stanza = Stanza { zones: vec!["cluster.local".into()], properties: Vec::new(), line: 1 };
    let (mut core, _) = Kubernetai::configure(&[stanza], 7).unwrap();
    fill(&mut core, 0, n, 10);
    core
}

/// Two members of a cluster set, each holding `big` with `n` endpoints
/// (the second's addresses in 101.0.0.0/8, the first's in 10.0.0.0/8).
fn set_core(n: usize) -> Kubernetai {
    let member = |name: &str, line| Stanza {
        zones: vec!["cluster.local".into()],
        properties: vec![
            Property { name: "cluster".into(), args: vec![name.into()], line: line + 1 },
            Property { name: "clusterset".into(), args: Vec::new(), line: line + 2 },
        ],
        line,
    };
    let (mut core, _) = Kubernetai::configure(&[member("east", 1), member("west", 10)], 7).unwrap();
    fill(&mut core, 0, n, 10);
    fill(&mut core, 1, n, 101);
    core
}

/// Gives stanza `stanza` the service `big`, its addresses from `first_octet`.
fn fill(core: &mut Kubernetai, stanza: u32, n: usize, first_octet: usize) {
    let ports = r#"[{"name":"http","port":80,"protocol":"TCP"},{"name":"grpc","port":9000,"protocol":"TCP"}]"#;
    let upsert = |kind, json: String| Event { change: Change::Upsert, kind, object: json.into_bytes() };
    let mut events = vec![
        upsert(Kind::Namespace, r#"{"metadata":{"name":"shop"}}"#.into()),
        upsert(
            Kind::Service,
            format!(
                r#"{{"metadata":{{"name":"big","namespace":"shop"}},"spec":{{"clusterIP":"None","ports":{ports}}}}}"#
            ),
        ),
    ];
    for first in (0..n).step_by(1000) {
        let endpoints: Vec<String> = (first..n.min(first + 1000))
            .map(|i| {
                format!(
                    r#"{{"addresses":["{first_octet}.{}.{}.{}"],"hostname":"big-{i}"}}"#,
                    1 + i / 65_536,
                    (i / 256) % 256,
                    i % 256
                )
            })
            .collect();
        events.push(upsert(
            Kind::EndpointSlice,
            format!(
                r#"{{"metadata":{{"name":"big-{first}","namespace":"shop","labels":{{"kubernetes.io/service-name":"big"}}}},
                   "addressType":"IPv4","endpoints":[{}],"ports":{ports}}}"#,
                endpoints.join(",")
            ),
        ));
    }
    let report = core.apply(stanza, 1, &events);
    assert_eq!(report.skipped, 0, "{:?}", report.problems);
    core.set_synced(stanza, true);
}

fn query(qtype: u16) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["big", "shop", "svc", "cluster", "local"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// The cursor of the transfer's middle page.
fn middle_cursor(core: &Kubernetai) -> Vec<u8> {
    let mut cursors = Vec::new();
    let mut cursor = Vec::new();
    while let Some(next) = core.transfer("cluster.local.", 0, &cursor).unwrap().unwrap().next {
        cursors.push(next.clone());
        cursor = next;
    }
    cursors.get(cursors.len() / 2).cloned().unwrap_or_default()
}

/// A whole transfer, page after page; the number of messages.
fn transfer(core: &Kubernetai) -> usize {
    let mut messages = 0;
    let mut cursor = Vec::new();
    loop {
        let page = core.transfer("cluster.local.", 0, &cursor).unwrap().expect("the zone is served");
        messages += page.messages.len();
        match page.next {
            Some(next) => cursor = next,
            None => return messages,
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("headless");
    group.sample_size(10);
    for n in SIZES {
        let core = core(n);
        group.throughput(Throughput::Elements(n as u64));
        for (name, qtype) in [("srv", 33), ("a", 1)] {
            let q = query(qtype);
            assert!(matches!(core.lookup(&q, &[]), Outcome::Answer(_)), "{name} {n}");
            group.bench_function(format!("{name}/{n}"), |b| b.iter(|| core.lookup(black_box(&q), &[])));
        }
        group.bench_function(format!("axfr/{n}"), |b| b.iter(|| transfer(black_box(&core))));
    }
    for n in SIZES {
        let core = set_core(n);
        group.throughput(Throughput::Elements(2 * n as u64));
        for (name, qtype) in [("set_srv", 33), ("set_a", 1)] {
            let q = query(qtype);
            assert!(matches!(core.lookup(&q, &[]), Outcome::Answer(_)), "{name} {n}");
            group.bench_function(format!("{name}/{n}"), |b| b.iter(|| core.lookup(black_box(&q), &[])));
        }
        group.bench_function(format!("set_axfr/{n}"), |b| b.iter(|| transfer(black_box(&core))));
        let middle = middle_cursor(&core);
        group.bench_function(format!("set_axfr_page/{n}"), |b| {
            b.iter(|| core.transfer("cluster.local.", 0, black_box(&middle)).unwrap())
        });
    }
    let core = core(TRANSFER_ONLY);
    group.throughput(Throughput::Elements(TRANSFER_ONLY as u64));
    group.bench_function(format!("axfr/{TRANSFER_ONLY}"), |b| b.iter(|| transfer(black_box(&core))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
