//! The cluster the benchmarks and the memory ceiling measure, shaped as
//! the Go host's benchmarks shape it (host-go/internal/engine,
//! `realClusterOf`): `n` ClusterIP services with one port, each with an
//! EndpointSlice of two ready addresses, and a Namespace per 100 services.

use kubernetai::contract::{Change, Event, Kind};

const PER_NAMESPACE: usize = 100;

fn upsert(kind: Kind, json: String) -> Event {
    Event { change: Change::Upsert, kind, object: json.into_bytes() }
}

/// Namespaces first, then each service and its slice. Addresses run from
/// 10.96.0.0 on for services and 10.1 and 10.2 on for endpoints, 250 to
/// a /24, the next /16s past 64,000 services.
pub fn cluster(n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(2 * n + n / PER_NAMESPACE + 1);
    for ns in 0..n.div_ceil(PER_NAMESPACE) {
        events.push(upsert(Kind::Namespace, format!(r#"{{"metadata":{{"name":"ns{ns}"}}}}"#)));
    }
    for i in 0..n {
        let (ns, c, a, b) = (i / PER_NAMESPACE, i / 64_000, i / 250 % 256, i % 250);
        let (svc, ep1, ep2) = (96 + c, 1 + 2 * c, 2 + 2 * c);
        events.push(upsert(
            Kind::Service,
            format!(
                r#"{{"metadata":{{"name":"svc{i}","namespace":"ns{ns}","resourceVersion":"1"}},
                   "spec":{{"type":"ClusterIP","clusterIP":"10.{svc}.{a}.{b}","ports":[{{"name":"http","port":80,"protocol":"TCP"}}]}}}}"#
            ),
        ));
        events.push(upsert(
            Kind::EndpointSlice,
            format!(
                r#"{{"metadata":{{"name":"svc{i}-x","namespace":"ns{ns}","labels":{{"kubernetes.io/service-name":"svc{i}"}}}},
                   "addressType":"IPv4","endpoints":[{{"addresses":["10.{ep1}.{a}.{b}"]}},{{"addresses":["10.{ep2}.{a}.{b}"]}}],
                   "ports":[{{"name":"http","port":8080,"protocol":"TCP"}}]}}"#
            ),
        ));
    }
    events
}
