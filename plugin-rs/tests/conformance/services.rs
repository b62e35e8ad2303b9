//! ClusterIP and ExternalName services: A, AAAA, CNAME, with CNAMEs
//! followed inside the zone and, through the host, outside it.

use hickory_proto::rr::RecordType::{A, AAAA, CNAME};

use super::{Case, Scenario, case, fixture};

pub fn alpha() -> Scenario {
    Scenario::new().stanza(&["cluster.local", "in-addr.arpa", "ip6.arpa"], &[], fixture::alpha())
}

/// ExternalName chains: `hop0` → `hop1` → ... → `hop10` → web (eleven
/// CNAMEs, the most the plugin follows), `far0` → ... → `far11` → web (one
/// too many), and loops.
fn chains() -> Scenario {
    let mut objects = vec![
        fixture::namespace("shop"),
        fixture::cluster_ip("shop", "web", &["10.96.0.10"], &["http:80/TCP"]),
        fixture::external("shop", "loop-a", "loop-b.shop.svc.cluster.local"),
        fixture::external("shop", "loop-b", "loop-a.shop.svc.cluster.local"),
        fixture::external("shop", "self", "self.shop.svc.cluster.local"),
        fixture::external("shop", "below", "x.below.shop.svc.cluster.local"),
    ];
    for (prefix, hops) in [("hop", 11), ("far", 12)] {
        for i in 0..hops {
            let next = if i + 1 == hops { "web".to_string() } else { format!("{prefix}{}", i + 1) };
            objects.push(fixture::external("shop", &format!("{prefix}{i}"), &format!("{next}.shop.svc.cluster.local")));
        }
    }
    Scenario::new().stanza(&["cluster.local"], &[], objects)
}

fn hop_chain() -> String {
    let mut lines = vec!["NOERROR aa".to_string()];
    for i in 0..11 {
        let next = if i == 10 { "web".to_string() } else { format!("hop{}", i + 1) };
        lines.push(format!("an hop{i}.shop.svc.cluster.local. 5 IN CNAME {next}.shop.svc.cluster.local."));
    }
    lines.push("an web.shop.svc.cluster.local. 5 IN A 10.96.0.10".into());
    lines.join("\n")
}

const SOA: &str =
    "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

pub fn cases() -> Vec<Case> {
    let nodata = format!("NOERROR aa\n{SOA}");
    let nxdomain = format!("NXDOMAIN aa\n{SOA}");
    vec![
        case(
            "services",
            alpha,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case(
            "services",
            alpha,
            "web.shop.svc.cluster.local.",
            AAAA,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN AAAA fd00::10",
        ),
        // An IPv4-only service has no AAAA: the name exists, NODATA.
        case("services", alpha, "kube-dns.kube-system.svc.cluster.local.", AAAA, nodata.clone()),
        case(
            "services",
            alpha,
            "kube-dns.kube-system.svc.cluster.local.",
            A,
            "NOERROR aa\nan kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.53",
        ),
        // A service whose namespace object does not exist is not served.
        case("services", alpha, "web.ghost.svc.cluster.local.", A, nxdomain.clone()),
        case(
            "services",
            alpha,
            "ext.shop.svc.cluster.local.",
            CNAME,
            "NOERROR aa\nan ext.shop.svc.cluster.local. 5 IN CNAME www.example.org.",
        ),
        // CNAME asked of an address-holding service: NODATA.
        case("services", alpha, "web.shop.svc.cluster.local.", CNAME, nodata.clone()),
        // An in-zone target is followed by the core itself.
        case(
            "services",
            alpha,
            "alias.shop.svc.cluster.local.",
            A,
            "NOERROR aa
             an alias.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local.
             an web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        // An ExternalName that is an IP address is not served.
        case("services", alpha, "ipext.shop.svc.cluster.local.", A, nxdomain.clone()),
        case("services", alpha, "ipext.shop.svc.cluster.local.", CNAME, nxdomain.clone()),
        // Out-of-zone targets are resolved by the host and appended.
        Case {
            family: "services",
            scenario: alpha,
            qname: "ext.shop.svc.cluster.local.",
            qtype: A,
            upstream: &[(
                "www.example.org.",
                "A",
                &[("www.example.org.", 60, "CNAME", "edge.example.org."), ("edge.example.org.", 30, "A", "192.0.2.80")],
            )],
            want: "upstream www.example.org. A
                   NOERROR aa
                   an ext.shop.svc.cluster.local. 5 IN CNAME www.example.org.
                   an www.example.org. 60 IN CNAME edge.example.org.
                   an edge.example.org. 30 IN A 192.0.2.80"
                .into(),
        },
        // When the upstream lookup fails the CNAME is dropped: NODATA.
        Case {
            family: "services",
            scenario: alpha,
            qname: "ext.shop.svc.cluster.local.",
            qtype: AAAA,
            upstream: &[],
            want: format!("upstream www.example.org. AAAA\n{nodata}"),
        },
        // CNAME chains: followed up to eleven records, never around a loop.
        case("services", chains, "hop0.shop.svc.cluster.local.", A, hop_chain()),
        case("services", chains, "far0.shop.svc.cluster.local.", A, nodata.clone()),
        case("services", chains, "loop-a.shop.svc.cluster.local.", A, nodata.clone()),
        case("services", chains, "self.shop.svc.cluster.local.", A, nodata.clone()),
        case("services", chains, "below.shop.svc.cluster.local.", A, nodata.clone()),
        // ExternalName services have no endpoints or ports.
        case("services", alpha, "x.ext.shop.svc.cluster.local.", A, nxdomain.clone()),
        case("services", alpha, "_http._tcp.ext.shop.svc.cluster.local.", A, nxdomain.clone()),
        // The question's case is kept in the answer.
        case(
            "services",
            alpha,
            "WEB.Shop.svc.CLUSTER.local.",
            A,
            "NOERROR aa\nan WEB.Shop.svc.CLUSTER.local. 5 IN A 10.96.0.10",
        ),
    ]
}
