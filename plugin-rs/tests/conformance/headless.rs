//! Headless services and endpoint names: ready addresses only, in slice
//! order, named by hostname, pod name or dashed address.

use hickory_proto::rr::RecordType::{A, AAAA, SRV};

use super::fixture::{self, ep};
use super::services::alpha;
use super::{Case, Scenario, case};

/// One address in two slices of a headless service, and one endpoint
/// listing its address twice.
fn duplicates() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local"],
        &[],
        vec![
            fixture::namespace("shop"),
            fixture::headless("shop", "dup", &["pg:5432/TCP"]),
            fixture::slice(
                "shop",
                "dup-a",
                "dup",
                &[ep(&["10.1.2.1"]), ep(&["10.1.2.2", "10.1.2.2"])],
                &["pg:5432/TCP"],
            ),
            fixture::slice("shop", "dup-b", "dup", &[ep(&["10.1.2.1"])], &["pg:5432/TCP"]),
        ],
    )
}

const NXDOMAIN: &str = "NXDOMAIN aa
    ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "headless",
            alpha,
            "db.shop.svc.cluster.local.",
            A,
            "NOERROR aa
             an db.shop.svc.cluster.local. 5 IN A 10.1.0.1
             an db.shop.svc.cluster.local. 5 IN A 10.1.0.2
             an db.shop.svc.cluster.local. 5 IN A 10.1.0.4",
        ),
        case(
            "headless",
            alpha,
            "db.shop.svc.cluster.local.",
            AAAA,
            "NOERROR aa\nan db.shop.svc.cluster.local. 5 IN AAAA fd01::1",
        ),
        case(
            "headless",
            alpha,
            "db-0.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1",
        ),
        case(
            "headless",
            alpha,
            "db-0.db.shop.svc.cluster.local.",
            AAAA,
            "NOERROR aa\nan db-0.db.shop.svc.cluster.local. 5 IN AAAA fd01::1",
        ),
        case(
            "headless",
            alpha,
            "10-1-0-2.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-0-2.db.shop.svc.cluster.local. 5 IN A 10.1.0.2",
        ),
        // Pod names name endpoints only with endpoint_pod_names.
        case("headless", alpha, "db-1-pod.db.shop.svc.cluster.local.", A, NXDOMAIN),
        // Not-ready endpoints are not served.
        case("headless", alpha, "10-1-0-5.db.shop.svc.cluster.local.", A, NXDOMAIN),
        // A headless service without endpoints does not exist.
        case("headless", alpha, "nobody.shop.svc.cluster.local.", A, NXDOMAIN),
        // Endpoint names work under ClusterIP services too.
        case(
            "headless",
            alpha,
            "web-1.web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web-1.web.shop.svc.cluster.local. 5 IN A 10.1.0.11",
        ),
        case(
            "headless",
            alpha,
            "10-1-0-10.web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-0-10.web.shop.svc.cluster.local. 5 IN A 10.1.0.10",
        ),
        case("headless", alpha, "10-1-0-11.web.shop.svc.cluster.local.", A, NXDOMAIN),
        // Duplicate addresses collapse: one A record each.
        case(
            "headless",
            duplicates,
            "dup.shop.svc.cluster.local.",
            A,
            "NOERROR aa
             an dup.shop.svc.cluster.local. 5 IN A 10.1.2.1
             an dup.shop.svc.cluster.local. 5 IN A 10.1.2.2",
        ),
        case(
            "headless",
            duplicates,
            "10-1-2-1.dup.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-2-1.dup.shop.svc.cluster.local. 5 IN A 10.1.2.1",
        ),
        // SRV: one record per target and port, one address per target. As
        // in the plugin, the weight is shared out before duplicates are
        // dropped: four entries found, 25 each, two records left.
        case(
            "headless",
            duplicates,
            "_pg._tcp.dup.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.dup.shop.svc.cluster.local. 5 IN SRV 0 25 5432 10-1-2-1.dup.shop.svc.cluster.local.
             an _pg._tcp.dup.shop.svc.cluster.local. 5 IN SRV 0 25 5432 10-1-2-2.dup.shop.svc.cluster.local.
             ar 10-1-2-1.dup.shop.svc.cluster.local. 5 IN A 10.1.2.1
             ar 10-1-2-2.dup.shop.svc.cluster.local. 5 IN A 10.1.2.2",
        ),
        case(
            "headless",
            duplicates,
            "dup.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an dup.shop.svc.cluster.local. 5 IN SRV 0 25 5432 10-1-2-1.dup.shop.svc.cluster.local.
             an dup.shop.svc.cluster.local. 5 IN SRV 0 25 5432 10-1-2-2.dup.shop.svc.cluster.local.
             ar 10-1-2-1.dup.shop.svc.cluster.local. 5 IN A 10.1.2.1
             ar 10-1-2-2.dup.shop.svc.cluster.local. 5 IN A 10.1.2.2",
        ),
    ]
}
