//! SRV: service-level and per-port names, targets and weights as the
//! plugin makes them, addresses in the additional section.

use hickory_proto::rr::RecordType::SRV;

use hickory_proto::rr::RecordType::A;

use super::fixture::{self, ep};
use super::services::alpha;
use super::{Case, Scenario, case};

/// A headless service whose endpoints declare no ports.
fn portless() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local"],
        &[],
        vec![
            fixture::namespace("shop"),
            fixture::headless("shop", "bare", &[]),
            fixture::slice("shop", "bare-1", "bare", &[ep(&["10.5.0.1"]).host("bare-0")], &[]),
        ],
    )
}

pub fn cases() -> Vec<Case> {
    vec![
        // Two ports and two cluster IPs: four entries, weight 100/4.
        case(
            "srv",
            alpha,
            "web.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an web.shop.svc.cluster.local. 5 IN SRV 0 25 80 web.shop.svc.cluster.local.
             an web.shop.svc.cluster.local. 5 IN SRV 0 25 53 web.shop.svc.cluster.local.
             ar web.shop.svc.cluster.local. 5 IN A 10.96.0.10
             ar web.shop.svc.cluster.local. 5 IN AAAA fd00::10",
        ),
        case(
            "srv",
            alpha,
            "_http._tcp.web.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 50 80 web.shop.svc.cluster.local.
             ar web.shop.svc.cluster.local. 5 IN A 10.96.0.10
             ar web.shop.svc.cluster.local. 5 IN AAAA fd00::10",
        ),
        // Underscores are optional.
        case(
            "srv",
            alpha,
            "dns.udp.web.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an dns.udp.web.shop.svc.cluster.local. 5 IN SRV 0 50 53 web.shop.svc.cluster.local.
             ar web.shop.svc.cluster.local. 5 IN A 10.96.0.10
             ar web.shop.svc.cluster.local. 5 IN AAAA fd00::10",
        ),
        // Port and protocol must both match.
        case(
            "srv",
            alpha,
            "_dns._tcp.web.shop.svc.cluster.local.",
            SRV,
            "NXDOMAIN aa
             ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5",
        ),
        // Headless: one target per endpoint name.
        case(
            "srv",
            alpha,
            "_pg._tcp.db.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 25 5432 db-0.db.shop.svc.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 25 5432 10-1-0-2.db.shop.svc.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 25 5432 10-1-0-4.db.shop.svc.cluster.local.
             ar db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1
             ar 10-1-0-2.db.shop.svc.cluster.local. 5 IN A 10.1.0.2
             ar 10-1-0-4.db.shop.svc.cluster.local. 5 IN A 10.1.0.4
             ar db-0.db.shop.svc.cluster.local. 5 IN AAAA fd01::1",
        ),
        // Endpoints without ports have addresses but no SRV records.
        case(
            "srv",
            portless,
            "bare.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan bare.shop.svc.cluster.local. 5 IN A 10.5.0.1",
        ),
        case(
            "srv",
            portless,
            "bare.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5",
        ),
        // ExternalName services have no SRV records: NODATA.
        case(
            "srv",
            alpha,
            "ext.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5",
        ),
    ]
}
