//! The core at the sizes of issue 10: 100,000 services, a headless service
//! of 20,000 endpoints, and answers of 65,536 and 70,000 addresses. Every
//! query type and name form answers with a well-formed message of at most
//! 65,535 octets, and a whole zone transfer runs to its end in pages.
//! Nothing here is timed (see benches/size.rs for figures).

#[path = "fuzz/wire.rs"]
mod wire;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use kubernetai::Kubernetai;
use kubernetai::contract::{Change, Event, HostInfo, Kind, Outcome, Property, Stanza};

const SERVICES: usize = 100_000;
const NAMESPACES: usize = 100;
const ENDPOINTS: usize = 20_000;

fn upsert(kind: Kind, json: String) -> Event {
    Event { change: Change::Upsert, kind, object: json.into_bytes() }
}

/// The IPv4 address numbered `i` in `10.<net>.0.0/16` and up.
fn ip(net: usize, i: usize) -> String {
    format!("10.{}.{}.{}", net + i / 65_536, (i / 256) % 256, i % 256)
}

/// A headless service `name` in `shop` with `n` endpoints in slices of
/// 1000, each with a hostname, and ports `http` and `grpc`.
fn headless(name: &str, n: usize, net: usize) -> Vec<Event> {
    let ports = r#"[{"name":"http","port":80,"protocol":"TCP"},{"name":"grpc","port":9000,"protocol":"TCP"}]"#;
    let mut events = vec![upsert(
        Kind::Service,
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"shop"}},"spec":{{"clusterIP":"None","ports":{ports}}}}}"#
        ),
    )];
    for first in (0..n).step_by(1000) {
        let endpoints: Vec<String> = (first..n.min(first + 1000))
            .map(|i| format!(r#"{{"addresses":["{}"],"hostname":"{name}-{i}"}}"#, ip(net, i)))
            .collect();
        events.push(upsert(
            Kind::EndpointSlice,
            format!(
                r#"{{"metadata":{{"name":"{name}-{first}","namespace":"shop","labels":{{"kubernetes.io/service-name":"{name}"}}}},
                   "addressType":"IPv4","endpoints":[{}],"ports":{ports}}}"#,
                endpoints.join(",")
            ),
        ));
    }
    events
}

/// 100,000 ClusterIP services (`s<i>` in namespaces `ns<i % 100>`, at
/// 172.16.0.0/12) and the headless `big` in `shop`.
fn cluster() -> Vec<Event> {
    let mut events: Vec<Event> = (0..NAMESPACES)
        .map(|n| format!("ns{n}"))
        .chain(["shop".to_string()])
        .map(|n| upsert(Kind::Namespace, format!(r#"{{"metadata":{{"name":"{n}"}}}}"#)))
        .collect();
    events.extend((0..SERVICES).map(|i| {
        let ip = format!("172.{}.{}.{}", 16 + i / 65_536, (i / 256) % 256, i % 256);
        upsert(
            Kind::Service,
            format!(
                r#"{{"metadata":{{"name":"s{i}","namespace":"ns{}"}},
                   "spec":{{"clusterIP":"{ip}","ports":[{{"name":"http","port":80,"protocol":"TCP"}}]}}}}"#,
                i % NAMESPACES
            ),
        )
    }));
    events.extend(headless("big", ENDPOINTS, 1));
    events
}

fn core(events: &[Event]) -> Kubernetai {
    let property = |name: &str, args: &[&str]| Property {
        name: name.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        line: 2,
    };
    let stanza = Stanza {
        zones: vec!["cluster.local".into(), "in-addr.arpa".into()],
        properties: vec![property("pods", &["insecure"])],
        line: 1,
    };
    let (mut core, _) = Kubernetai::configure(&[stanza], 3).unwrap();
    // An address no endpoint holds: CoreDNS is `ns.dns.cluster.local`.
    core.set_host(&HostInfo { local_ips: vec!["192.0.2.53".into()], search: Vec::new() });
    for chunk in events.chunks(5000) {
        let report = core.apply(0, 1_700_000_000, chunk);
        assert_eq!(report.skipped, 0, "{:?}", report.problems);
    }
    core.set_synced(0, true);
    core
}

/// The core's answer to `name` `rtype` (with a 65,535-octet EDNS buffer),
/// checked and read.
fn ask(core: &Kubernetai, name: &str, rtype: RecordType) -> Message {
    let mut q = Message::new(7, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(u16::MAX);
    q.set_edns(edns);
    let Outcome::Answer(answer) = core.lookup(&q.to_vec().unwrap(), &[]) else {
        panic!("{name} {rtype}: not answered");
    };
    wire::check(&answer.message).unwrap_or_else(|e| panic!("{name} {rtype}: {e}"));
    Message::from_bytes(&answer.message).unwrap()
}

/// A whole transfer of `zone` in pages as the host runs it: every
/// message checked; the records' types counted.
fn transfer(core: &Kubernetai, zone: &str) -> std::collections::BTreeMap<RecordType, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut cursor = Vec::new();
    let mut soas = Vec::new();
    loop {
        let page = core.transfer(zone, 0, &cursor).unwrap().expect("transferred");
        for bytes in &page.messages {
            wire::check(bytes).unwrap_or_else(|e| panic!("transfer: {e}"));
            for r in Message::from_bytes(bytes).unwrap().answers {
                if r.record_type() == RecordType::SOA {
                    soas.push(r.data.to_string());
                }
                *counts.entry(r.record_type()).or_default() += 1;
            }
        }
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(soas.len(), 2, "one SOA first, one last");
    assert_eq!(soas[0], soas[1]);
    counts
}

#[test]
fn a_hundred_thousand_services_and_twenty_thousand_endpoints() {
    let core = core(&cluster());
    use RecordType::*;
    let big = "big.shop.svc.cluster.local.";
    // (name, type, answer records wanted; None: at least one, cut with TC)
    let cases: &[(&str, RecordType, Option<usize>)] = &[
        ("s0.ns0.svc.cluster.local.", A, Some(1)),
        ("s99999.ns99.svc.cluster.local.", A, Some(1)),
        ("S54321.NS21.svc.cluster.local.", A, Some(1)),
        ("s0.ns0.svc.cluster.local.", AAAA, Some(0)),
        ("s0.ns0.svc.cluster.local.", SRV, Some(1)),
        ("_http._tcp.s77.ns77.svc.cluster.local.", SRV, Some(1)),
        ("s0.ns0.svc.cluster.local.", TXT, Some(0)),
        ("s0.ns0.svc.cluster.local.", ANY, Some(0)),
        ("s0.ns0.svc.cluster.local.", MX, Some(0)),
        ("0.0.16.172.in-addr.arpa.", PTR, Some(1)),
        ("ns5.svc.cluster.local.", A, Some(0)),
        ("cluster.local.", SOA, Some(1)),
        ("cluster.local.", NS, Some(1)),
        ("dns-version.cluster.local.", TXT, Some(1)),
        ("10-0-0-1.ns3.pod.cluster.local.", A, Some(1)),
        (big, A, None),
        (big, AAAA, Some(0)),
        (big, SRV, None),
        (big, ANY, Some(0)),
        ("_http._tcp.big.shop.svc.cluster.local.", SRV, None),
        ("big-19999.big.shop.svc.cluster.local.", A, Some(1)),
        ("big-7.big.shop.svc.cluster.local.", SRV, Some(2)),
        ("5.0.1.10.in-addr.arpa.", PTR, Some(1)),
    ];
    for (name, rtype, want) in cases {
        let m = ask(&core, name, *rtype);
        let what = format!("{name} {rtype}");
        match want {
            Some(n) => {
                assert_eq!(m.answers.len(), *n, "{what}");
                assert!(!m.metadata.truncation, "{what}");
            }
            None => assert!(!m.answers.is_empty() && m.metadata.truncation, "{what}: {} records", m.answers.len()),
        }
    }
    // Missing names: NXDOMAIN with the SOA, at any size.
    for name in ["s100000.ns0.svc.cluster.local.", "nope.big.shop.svc.cluster.local."] {
        assert_eq!(ask(&core, name, A).metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    let counts = transfer(&core, "cluster.local.");
    // Per service an address and SRV at its name and at _http._tcp; per
    // endpoint an address at the service and at its own name, and SRV at
    // _http._tcp and _grpc._tcp.
    assert_eq!(counts[&A], SERVICES + 2 * ENDPOINTS + 1, "the NS glue is one more");
    assert_eq!(counts[&SRV], 2 * SERVICES + 2 * ENDPOINTS);
}

/// Answers of more addresses than a message's counts can hold: the counts
/// match the records present, at most 65,535 octets, TC set.
#[test]
fn answers_past_the_message_size_are_cut_with_tc() {
    for n in [65_536, 70_000] {
        let mut events = vec![upsert(Kind::Namespace, r#"{"metadata":{"name":"shop"}}"#.into())];
        events.extend(headless("wide", n, 1));
        let core = core(&events);
        for rtype in [RecordType::A, RecordType::SRV] {
            let m = ask(&core, "wide.shop.svc.cluster.local.", rtype);
            assert!(m.metadata.truncation, "{n} {rtype}");
            assert!(m.answers.len() > 1000, "{n} {rtype}: only {}", m.answers.len());
        }
    }
}
