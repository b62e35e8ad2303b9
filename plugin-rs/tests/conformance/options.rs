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

/// A pod name one octet too long for a label, and one that just fits.
const POD_64: &str = "pod-012345678901234567890123456789012345678901234567890123456789";
const POD_63: &str = "pod-01234567890123456789012345678901234567890123456789012345678";

/// Pod names that do not fit one label (too long, dotted) and one that
/// just fits.
fn long_pod_names() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local", "in-addr.arpa"],
        &[("endpoint_pod_names", &[])],
        vec![
            fixture::namespace("shop"),
            fixture::headless("shop", "long", &["pg:5432/TCP"]),
            fixture::slice(
                "shop",
                "long-a",
                "long",
                &[
                    fixture::ep(&["10.1.3.1"]).pod(POD_64),
                    fixture::ep(&["10.1.3.2"]).pod(POD_63),
                    fixture::ep(&["10.1.3.3"]).pod("dotted.pod-name"),
                ],
                &["pg:5432/TCP"],
            ),
        ],
    )
}

/// Endpoint hostnames: empty (no hostname), dotted (only a snapshot can
/// hold one; the API allows one label) and one that fits.
fn odd_hostnames() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local", "in-addr.arpa"],
        &[],
        vec![
            fixture::namespace("shop"),
            fixture::headless("shop", "odd", &["pg:5432/TCP"]),
            fixture::slice(
                "shop",
                "odd-a",
                "odd",
                &[
                    fixture::ep(&["10.1.4.1"]).host(""),
                    fixture::ep(&["10.1.4.2"]).host("web.0"),
                    fixture::ep(&["10.1.4.3"]).host("web-1"),
                ],
                &["pg:5432/TCP"],
            ),
        ],
    )
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
        // A pod name too long for a label does not name the endpoint: the
        // dashed address does. (The plugin keeps target names shorter than
        // 64 octets.)
        case(
            "options",
            long_pod_names,
            "10-1-3-1.long.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-3-1.long.shop.svc.cluster.local. 5 IN A 10.1.3.1",
        ),
        case(
            "options",
            long_pod_names,
            "pod-01234567890123456789012345678901234567890123456789012345678.long.shop.svc.cluster.local.",
            A,
            "NOERROR aa
             an pod-01234567890123456789012345678901234567890123456789012345678.long.shop.svc.cluster.local. 5 IN A 10.1.3.2",
        ),
        case("options", long_pod_names, "10-1-3-2.long.shop.svc.cluster.local.", A, nx.clone()),
        // A dotted pod name is not one label either (README, Differences):
        // the dashed address names the endpoint, not the pod name as one
        // label holding an escaped dot, nor as two labels (the plugin's
        // SRV target, which it answers NXDOMAIN for).
        case(
            "options",
            long_pod_names,
            "10-1-3-3.long.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-3-3.long.shop.svc.cluster.local. 5 IN A 10.1.3.3",
        ),
        case("options", long_pod_names, "dotted\\.pod-name.long.shop.svc.cluster.local.", A, nx.clone()),
        // So is an endpoint hostname that is not one label; an empty one
        // is none.
        case(
            "options",
            odd_hostnames,
            "10-1-4-1.odd.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-4-1.odd.shop.svc.cluster.local. 5 IN A 10.1.4.1",
        ),
        case(
            "options",
            odd_hostnames,
            "10-1-4-2.odd.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-4-2.odd.shop.svc.cluster.local. 5 IN A 10.1.4.2",
        ),
        case("options", odd_hostnames, "web\\.0.odd.shop.svc.cluster.local.", A, nx.clone()),
        case(
            "options",
            odd_hostnames,
            "_pg._tcp.odd.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.odd.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-4-1.odd.shop.svc.cluster.local.
             an _pg._tcp.odd.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-4-2.odd.shop.svc.cluster.local.
             an _pg._tcp.odd.shop.svc.cluster.local. 5 IN SRV 0 33 5432 web-1.odd.shop.svc.cluster.local.
             ar 10-1-4-1.odd.shop.svc.cluster.local. 5 IN A 10.1.4.1
             ar 10-1-4-2.odd.shop.svc.cluster.local. 5 IN A 10.1.4.2
             ar web-1.odd.shop.svc.cluster.local. 5 IN A 10.1.4.3",
        ),
        case(
            "options",
            odd_hostnames,
            "2.4.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 2.4.1.10.in-addr.arpa. 5 IN PTR 10-1-4-2.odd.shop.svc.cluster.local.",
        ),
        case("options", long_pod_names, "dotted.pod-name.long.shop.svc.cluster.local.", A, nx.clone()),
        case(
            "options",
            long_pod_names,
            "_pg._tcp.long.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.long.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-3-1.long.shop.svc.cluster.local.
             an _pg._tcp.long.shop.svc.cluster.local. 5 IN SRV 0 33 5432 pod-01234567890123456789012345678901234567890123456789012345678.long.shop.svc.cluster.local.
             an _pg._tcp.long.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-3-3.long.shop.svc.cluster.local.
             ar 10-1-3-1.long.shop.svc.cluster.local. 5 IN A 10.1.3.1
             ar pod-01234567890123456789012345678901234567890123456789012345678.long.shop.svc.cluster.local. 5 IN A 10.1.3.2
             ar 10-1-3-3.long.shop.svc.cluster.local. 5 IN A 10.1.3.3",
        ),
        case(
            "options",
            long_pod_names,
            "1.3.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 1.3.1.10.in-addr.arpa. 5 IN PTR 10-1-3-1.long.shop.svc.cluster.local.",
        ),
        case(
            "options",
            long_pod_names,
            "3.3.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 3.3.1.10.in-addr.arpa. 5 IN PTR 10-1-3-3.long.shop.svc.cluster.local.",
        ),
        case("options", no_endpoints, "db.shop.svc.cluster.local.", A, nx.clone()),
        // Without endpoints, no endpoint names, under headless or ClusterIP
        // services, and no endpoint PTRs.
        case("options", no_endpoints, "db-0.db.shop.svc.cluster.local.", A, nx.clone()),
        case("options", no_endpoints, "10-1-0-2.db.shop.svc.cluster.local.", A, nx.clone()),
        case("options", no_endpoints, "web-1.web.shop.svc.cluster.local.", A, nx.clone()),
        case("options", no_endpoints, "_pg._tcp.db.shop.svc.cluster.local.", SRV, nx.clone()),
        case(
            "options",
            no_endpoints,
            "1.0.1.10.in-addr.arpa.",
            PTR,
            "NXDOMAIN aa
             ns in-addr.arpa. 5 IN SOA ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. 1700000000 7200 1800 86400 5",
        ),
        case(
            "options",
            no_endpoints,
            "10.0.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 10.0.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local.",
        ),
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
