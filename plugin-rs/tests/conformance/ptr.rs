//! PTR records in the reverse zones a stanza serves.

use hickory_proto::rr::RecordType::{A, NS, PTR, SOA};

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

/// Services sharing a cluster IP, as a snapshot can hold them. The
/// service each PTR should name is written last, so that neither arrival
/// order nor a last-writer-wins index would pick it.
fn shared_cluster_ip_objects() -> Vec<kubernetai::contract::Event> {
    vec![
        fixture::namespace("shop"),
        fixture::namespace("bazaar"),
        fixture::cluster_ip("shop", "web2", &["10.96.5.5"], &["http:80/TCP"]),
        fixture::cluster_ip("shop", "web1", &["10.96.5.5"], &["http:80/TCP"]),
        fixture::cluster_ip("shop", "aaa", &["10.96.6.6"], &["http:80/TCP"]),
        fixture::cluster_ip("bazaar", "zed", &["10.96.6.6"], &["http:80/TCP"]),
    ]
}

fn shared_cluster_ip() -> Scenario {
    Scenario::new().stanza(&["cluster.local", "in-addr.arpa"], &[], shared_cluster_ip_objects())
}

fn shared_cluster_ip_only_shop() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local", "in-addr.arpa"],
        &[("namespaces", &["shop"])],
        shared_cluster_ip_objects(),
    )
}

/// A pod whose address no Service or EndpointSlice holds.
fn lonely_pod() -> Scenario {
    let mut objects = fixture::alpha();
    objects.push(fixture::pod("shop", "lonely", &["10.1.0.77"]));
    Scenario::new().stanza(&["cluster.local", "in-addr.arpa"], &[("pods", &["verified"])], objects)
}

/// The reverse zone first: the primary zone is still the first forward
/// one.
fn reverse_first() -> Scenario {
    Scenario::new().stanza(&["10.in-addr.arpa", "cluster.local"], &[], fixture::alpha()).local_ips(&["192.0.2.53"])
}

const ZONE_SOA: &str =
    "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

const V4_SOA: &str =
    "ns in-addr.arpa. 5 IN SOA ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. 1700000000 7200 1800 86400 5";

const V6_SOA: &str = "ns ip6.arpa. 5 IN SOA ns.dns.ip6.arpa. hostmaster.ip6.arpa. 1700000000 7200 1800 86400 5";

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
        // An IPv4-mapped address under ip6.arpa (::ffff:10.96.0.10) is its
        // IPv4 address, as in the plugin: the service's and the endpoint's
        // names, or NXDOMAIN where the IPv4 address has none.
        case(
            "ptr",
            alpha,
            "a.0.0.0.0.6.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
            PTR,
            "NOERROR aa\nan a.0.0.0.0.6.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. 5 IN PTR web.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            alpha,
            "2.0.0.0.1.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
            PTR,
            "NOERROR aa\nan 2.0.0.0.1.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. 5 IN PTR 10-1-0-2.db.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            alpha,
            "9.0.9.0.9.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
            PTR,
            format!("NXDOMAIN aa\n{V6_SOA}"),
        ),
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
        // One cluster IP, several services: one PTR, for the first service
        // by namespace, then by name (the plugin takes whichever its index
        // yields first, which varies).
        case(
            "ptr",
            shared_cluster_ip,
            "5.5.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 5.5.96.10.in-addr.arpa. 5 IN PTR web1.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            shared_cluster_ip,
            "6.6.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 6.6.96.10.in-addr.arpa. 5 IN PTR zed.bazaar.svc.cluster.local.",
        ),
        // Among the namespaces the stanza exposes.
        case(
            "ptr",
            shared_cluster_ip_only_shop,
            "6.6.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 6.6.96.10.in-addr.arpa. 5 IN PTR aaa.shop.svc.cluster.local.",
        ),
        // Pods have no PTR records: the pod is known (its name answers), its
        // address is not a service's or an endpoint's.
        case(
            "ptr",
            lonely_pod,
            "10-1-0-77.shop.pod.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-0-77.shop.pod.cluster.local. 5 IN A 10.1.0.77",
        ),
        case("ptr", lonely_pod, "77.0.1.10.in-addr.arpa.", PTR, format!("NXDOMAIN aa\n{V4_SOA}")),
        // A reverse zone listed first: PTR targets are still under the
        // first forward zone, and that zone's apex is served as usual.
        case(
            "ptr",
            reverse_first,
            "10.0.96.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 10.0.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            reverse_first,
            "1.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa\nan 1.0.1.10.in-addr.arpa. 5 IN PTR db-0.db.shop.svc.cluster.local.",
        ),
        case(
            "ptr",
            reverse_first,
            "9.9.9.10.in-addr.arpa.",
            PTR,
            "NXDOMAIN aa
             ns 10.in-addr.arpa. 5 IN SOA ns.dns.10.in-addr.arpa. hostmaster.10.in-addr.arpa. 1700000000 7200 1800 86400 5",
        ),
        // Outside the reverse zone listed.
        case("ptr", reverse_first, "1.2.0.192.in-addr.arpa.", PTR, "FALLTHROUGH"),
        case("ptr", reverse_first, "cluster.local.", SOA, format!("NOERROR aa\nan {ZONE_SOA}")),
        case(
            "ptr",
            reverse_first,
            "cluster.local.",
            NS,
            "NOERROR aa
             an cluster.local. 5 IN NS ns.dns.cluster.local.
             ar ns.dns.cluster.local. 5 IN A 192.0.2.53",
        ),
    ]
}
