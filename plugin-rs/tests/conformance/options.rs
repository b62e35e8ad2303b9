//! Options that change answers: ttl, namespaces, endpoint_pod_names,
//! noendpoints, ignore empty_service, fallthrough.

use hickory_proto::rr::RecordType::{A, CNAME, PTR, SOA, SRV};

use super::{Case, Scenario, case, fixture};

fn with(props: &'static [(&'static str, &'static [&'static str])]) -> Scenario {
    Scenario::new().stanza(&["cluster.local", "in-addr.arpa"], props, fixture::alpha())
}

fn ttl30() -> Scenario {
    with(&[("ttl", &["30"])])
}
fn ttl0() -> Scenario {
    with(&[("ttl", &["0"])])
}
fn ttl3600() -> Scenario {
    with(&[("ttl", &["3600"])])
}
fn only_shop() -> Scenario {
    with(&[("namespaces", &["shop"])])
}
fn pod_names() -> Scenario {
    with(&[("endpoint_pod_names", &[])])
}
fn no_endpoints() -> Scenario {
    with(&[("noendpoints", &[])])
}
fn ignore_empty() -> Scenario {
    with(&[("ignore", &["empty_service"])])
}
fn fall_all() -> Scenario {
    with(&[("fallthrough", &[])])
}
fn fall_reverse() -> Scenario {
    with(&[("fallthrough", &["in-addr.arpa"])])
}

fn soa(ttl: u32, min: u32) -> String {
    format!("{ttl} IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 {min}")
}

pub fn cases() -> Vec<Case> {
    let nx = format!("NXDOMAIN aa\nns cluster.local. {}", soa(5, 5));
    vec![
        case(
            "options",
            ttl30,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 30 IN A 10.96.0.10",
        ),
        case(
            "options",
            ttl30,
            "nope.shop.svc.cluster.local.",
            A,
            format!("NXDOMAIN aa\nns cluster.local. {}", soa(30, 30)),
        ),
        case(
            "options",
            ttl0,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 0 IN A 10.96.0.10",
        ),
        // The SOA's own TTL is capped at 300; its minimum is the ttl.
        case("options", ttl3600, "cluster.local.", SOA, format!("NOERROR aa\nan cluster.local. {}", soa(300, 3600))),
        case("options", only_shop, "kube-dns.kube-system.svc.cluster.local.", A, nx.clone()),
        case(
            "options",
            only_shop,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case(
            "options",
            pod_names,
            "db-1-pod.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan db-1-pod.db.shop.svc.cluster.local. 5 IN A 10.1.0.2",
        ),
        // A hostname still wins over the pod name.
        case(
            "options",
            pod_names,
            "db-0.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1",
        ),
        case(
            "options",
            pod_names,
            "_pg._tcp.db.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 25 5432 db-0.db.shop.svc.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 25 5432 db-1-pod.db.shop.svc.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 25 5432 db-2-pod.db.shop.svc.cluster.local.
             ar db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1
             ar db-1-pod.db.shop.svc.cluster.local. 5 IN A 10.1.0.2
             ar db-2-pod.db.shop.svc.cluster.local. 5 IN A 10.1.0.4
             ar db-0.db.shop.svc.cluster.local. 5 IN AAAA fd01::1",
        ),
        case(
            "options",
            pod_names,
            "2.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 2.0.1.10.in-addr.arpa. 5 IN PTR db-1-pod.db.shop.svc.cluster.local.",
        ),
        case("options", no_endpoints, "db.shop.svc.cluster.local.", A, nx.clone()),
        case(
            "options",
            no_endpoints,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case("options", ignore_empty, "empty.shop.svc.cluster.local.", A, nx.clone()),
        case(
            "options",
            ignore_empty,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case(
            "options",
            ignore_empty,
            "ext.shop.svc.cluster.local.",
            CNAME,
            "NOERROR aa\nan ext.shop.svc.cluster.local. 5 IN CNAME www.example.org.",
        ),
        case("options", fall_all, "nope.shop.svc.cluster.local.", A, "FALLTHROUGH\nvia passed by 1"),
        // Only misses fall through; hits and NODATA answer.
        case(
            "options",
            fall_all,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case("options", fall_reverse, "nope.shop.svc.cluster.local.", A, nx),
        case("options", fall_reverse, "9.9.9.10.in-addr.arpa.", PTR, "FALLTHROUGH\nvia passed by 1"),
    ]
}
