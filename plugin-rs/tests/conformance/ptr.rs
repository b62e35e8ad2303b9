//! PTR records in the reverse zones a stanza serves.

use hickory_proto::rr::RecordType::PTR;

use super::fixture::ep;
use super::services::alpha;
use super::{Case, Scenario, case, fixture};

/// One address behind two services: a PTR for each.
fn shared_endpoint() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local", "in-addr.arpa"],
        &[],
        vec![
            fixture::namespace("shop"),
            fixture::headless("shop", "db", &["pg:5432/TCP"]),
            fixture::headless("shop", "db-read", &["pg:5432/TCP"]),
            fixture::slice("shop", "db-1", "db", &[ep(&["10.1.0.1"]).host("db-0")], &["pg:5432/TCP"]),
            fixture::slice("shop", "db-read-1", "db-read", &[ep(&["10.1.0.1"])], &["pg:5432/TCP"]),
        ],
    )
}

const V4_SOA: &str =
    "ns in-addr.arpa. 5 IN SOA ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. 1700000000 7200 1800 86400 5";

fn only_kube_system() -> Scenario {
    Scenario::new().stanza(&["cluster.local", "in-addr.arpa"], &[("namespaces", &["kube-system"])], fixture::alpha())
}

fn forward_only() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[], fixture::alpha())
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "ptr",
            alpha,
            "10.0.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 10.0.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            alpha,
            "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
            PTR,
            "NOERROR aa\nan 0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 5 IN PTR web.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            alpha,
            "1.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 1.0.1.10.in-addr.arpa. 5 IN PTR db-0.db.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            alpha,
            "2.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 2.0.1.10.in-addr.arpa. 5 IN PTR 10-1-0-2.db.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            alpha,
            "10.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 10.0.1.10.in-addr.arpa. 5 IN PTR 10-1-0-10.web.shop.svc.cluster.local.",
        ),
        case("ptr", alpha, "9.9.9.10.in-addr.arpa.", PTR, format!("NXDOMAIN aa\n{V4_SOA}")),
        // Not a whole address.
        case("ptr", alpha, "96.10.in-addr.arpa.", PTR, format!("NXDOMAIN aa\n{V4_SOA}")),
        // As in the plugin, only `namespaces` filters reverse answers: a
        // service whose namespace object is missing still has its PTR.
        case(
            "ptr",
            alpha,
            "9.9.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 9.9.96.10.in-addr.arpa. 5 IN PTR web.ghost.svc.cluster.local.",
        ),
        case("ptr", only_kube_system, "10.0.96.10.in-addr.arpa.", PTR, format!("NXDOMAIN aa\n{V4_SOA}")),
        case(
            "ptr",
            only_kube_system,
            "53.0.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 53.0.96.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local.",
        ),
        case(
            "ptr",
            shared_endpoint,
            "1.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa
             an 1.0.1.10.in-addr.arpa. 5 IN PTR db-0.db.shop.svc.cluster.local.
             an 1.0.1.10.in-addr.arpa. 5 IN PTR 10-1-0-1.db-read.shop.svc.cluster.local.",
        ),
        // A forward name asked for PTR: NODATA where it exists.
        case(
            "ptr",
            alpha,
            "web.shop.svc.cluster.local.",
            PTR,
            "NOERROR aa\nns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5",
        ),
        // Without the reverse zone, reverse names are not the stanza's.
        case("ptr", forward_only, "10.0.96.10.in-addr.arpa.", PTR, "FALLTHROUGH"),
    ]
}
