//! `zonal` names (`<zone>.pin|prefer._zone.<service>...`) and multicluster
//! zones (ServiceImports, cluster-scoped endpoint names).

use hickory_proto::rr::RecordType::{A, AAAA, CNAME, HTTPS, MX, SRV, TXT};

use super::fixture::{self, ep};
use super::{Case, Scenario, case};

fn zoned_objects() -> Vec<kubernetai::contract::Event> {
    vec![
        fixture::namespace("shop"),
        fixture::headless("shop", "db", &["pg:5432/TCP"]),
        fixture::slice(
            "shop",
            "db-a",
            "db",
            &[ep(&["10.1.0.1"]).zone("Zone-A"), ep(&["10.1.0.2"]).zone("zone-b"), ep(&["10.1.0.3"])],
            &["pg:5432/TCP"],
        ),
        fixture::cluster_ip("shop", "web", &["10.96.0.10"], &["http:80/TCP"]),
    ]
}

pub fn zonal() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("zonal", &[])], zoned_objects())
}

fn not_zonal() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[], zoned_objects())
}

pub fn multicluster() -> Scenario {
    Scenario::new().stanza(
        &["cluster.local", "clusterset.local"],
        &[("multicluster", &["clusterset.local"])],
        vec![
            fixture::namespace("shop"),
            fixture::service_import("shop", "web", false, &["10.9.0.1"], &["http:80/TCP"]),
            fixture::service_import("shop", "db", true, &[], &["pg:5432/TCP"]),
            fixture::mc_slice("shop", "db-east", "db", "east", &[ep(&["10.3.0.1"]).host("db-0")], &["pg:5432/TCP"]),
            fixture::mc_slice("shop", "db-west", "db", "west", &[ep(&["10.4.0.1"]).host("db-0")], &["pg:5432/TCP"]),
            fixture::cluster_ip("shop", "local", &["10.96.0.7"], &["http:80/TCP"]),
        ],
    )
}

const SOA: &str =
    "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";
const MC_SOA: &str =
    "ns clusterset.local. 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1700000000 7200 1800 86400 5";

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "zonal",
            zonal,
            "zone-a.pin._zone.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan zone-a.pin._zone.db.shop.svc.cluster.local. 5 IN A 10.1.0.1",
        ),
        // Zones match in any case.
        case(
            "zonal",
            zonal,
            "ZONE-B.pin._zone.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan ZONE-B.pin._zone.db.shop.svc.cluster.local. 5 IN A 10.1.0.2",
        ),
        // A zone nobody is in: pin answers NODATA, prefer everything.
        case("zonal", zonal, "zone-c.pin._zone.db.shop.svc.cluster.local.", A, format!("NOERROR aa\n{SOA}")),
        case("zonal", zonal, "zone-c.pin._zone.db.shop.svc.cluster.local.", TXT, format!("NOERROR aa\n{SOA}")),
        case(
            "zonal",
            zonal,
            "zone-c.prefer._zone.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa
             an zone-c.prefer._zone.db.shop.svc.cluster.local. 5 IN A 10.1.0.1
             an zone-c.prefer._zone.db.shop.svc.cluster.local. 5 IN A 10.1.0.2
             an zone-c.prefer._zone.db.shop.svc.cluster.local. 5 IN A 10.1.0.3",
        ),
        case(
            "zonal",
            zonal,
            "zone-a.pin._zone.db.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an zone-a.pin._zone.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 10-1-0-1.db.shop.svc.cluster.local.
             ar 10-1-0-1.db.shop.svc.cluster.local. 5 IN A 10.1.0.1",
        ),
        // prefer with endpoints in the zone: only those, like pin.
        case(
            "zonal",
            zonal,
            "zone-a.prefer._zone.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan zone-a.prefer._zone.db.shop.svc.cluster.local. 5 IN A 10.1.0.1",
        ),
        case(
            "zonal",
            zonal,
            "zone-b.prefer._zone.db.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an zone-b.prefer._zone.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 10-1-0-2.db.shop.svc.cluster.local.
             ar 10-1-0-2.db.shop.svc.cluster.local. 5 IN A 10.1.0.2",
        ),
        // Zonal names answer A, AAAA and SRV only: other types are NODATA
        // where the name has endpoints, as where it has none.
        case("zonal", zonal, "zone-a.pin._zone.db.shop.svc.cluster.local.", TXT, format!("NOERROR aa\n{SOA}")),
        case("zonal", zonal, "zone-a.pin._zone.db.shop.svc.cluster.local.", MX, format!("NOERROR aa\n{SOA}")),
        case("zonal", zonal, "zone-a.pin._zone.db.shop.svc.cluster.local.", CNAME, format!("NOERROR aa\n{SOA}")),
        case("zonal", zonal, "zone-a.pin._zone.db.shop.svc.cluster.local.", HTTPS, format!("NOERROR aa\n{SOA}")),
        case("zonal", zonal, "zone-a.prefer._zone.db.shop.svc.cluster.local.", TXT, format!("NOERROR aa\n{SOA}")),
        case("zonal", zonal, "zone-c.prefer._zone.db.shop.svc.cluster.local.", MX, format!("NOERROR aa\n{SOA}")),
        // The zone's only endpoint is IPv4: no AAAA.
        case("zonal", zonal, "zone-a.pin._zone.db.shop.svc.cluster.local.", AAAA, format!("NOERROR aa\n{SOA}")),
        // Only headless services have zonal names.
        case("zonal", zonal, "zone-a.pin._zone.web.shop.svc.cluster.local.", A, format!("NXDOMAIN aa\n{SOA}")),
        case("zonal", zonal, "zone-a.pin._zone.web.shop.svc.cluster.local.", TXT, format!("NXDOMAIN aa\n{SOA}")),
        case("zonal", zonal, "zone-a.keep._zone.db.shop.svc.cluster.local.", A, format!("NXDOMAIN aa\n{SOA}")),
        case("zonal", not_zonal, "zone-a.pin._zone.db.shop.svc.cluster.local.", A, format!("NXDOMAIN aa\n{SOA}")),
        case(
            "multicluster",
            multicluster,
            "web.shop.svc.clusterset.local.",
            A,
            "NOERROR aa\nan web.shop.svc.clusterset.local. 5 IN A 10.9.0.1",
        ),
        case(
            "multicluster",
            multicluster,
            "db.shop.svc.clusterset.local.",
            A,
            "NOERROR aa
             an db.shop.svc.clusterset.local. 5 IN A 10.3.0.1
             an db.shop.svc.clusterset.local. 5 IN A 10.4.0.1",
        ),
        case(
            "multicluster",
            multicluster,
            "db-0.west.db.shop.svc.clusterset.local.",
            A,
            "NOERROR aa\nan db-0.west.db.shop.svc.clusterset.local. 5 IN A 10.4.0.1",
        ),
        case(
            "multicluster",
            multicluster,
            "_pg._tcp.db.shop.svc.clusterset.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 db-0.east.db.shop.svc.clusterset.local.
             an _pg._tcp.db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 db-0.west.db.shop.svc.clusterset.local.
             ar db-0.east.db.shop.svc.clusterset.local. 5 IN A 10.3.0.1
             ar db-0.west.db.shop.svc.clusterset.local. 5 IN A 10.4.0.1",
        ),
        // Services are not imports: not in the multicluster zone.
        case("multicluster", multicluster, "local.shop.svc.clusterset.local.", A, format!("NXDOMAIN aa\n{MC_SOA}")),
        case(
            "multicluster",
            multicluster,
            "local.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan local.shop.svc.cluster.local. 5 IN A 10.96.0.7",
        ),
    ]
}
