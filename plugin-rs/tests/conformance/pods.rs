//! Pod names (`a-b-c-d.namespace.pod.zone`) per `pods` mode.

use hickory_proto::rr::RecordType::{A, AAAA, SRV};

use super::{Case, Scenario, case, fixture};

fn with_pods(mode: &'static str) -> Scenario {
    let args: &'static [&'static str] = match mode {
        "insecure" => &["insecure"],
        "verified" => &["verified"],
        _ => &["disabled"],
    };
    Scenario::new().stanza(&["cluster.local"], &[("pods", args)], fixture::alpha())
}

fn insecure() -> Scenario {
    with_pods("insecure")
}

fn verified() -> Scenario {
    with_pods("verified")
}

/// A pod with one address, an IPv6 one: only its spelling is at stake.
fn verified_v6() -> Scenario {
    let mut objects = fixture::alpha();
    objects.push(fixture::pod("shop", "v6-pod", &["fd01::20"]));
    Scenario::new().stanza(&["cluster.local"], &[("pods", &["verified"])], objects)
}

fn disabled() -> Scenario {
    with_pods("disabled")
}

const SOA: &str =
    "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

pub fn cases() -> Vec<Case> {
    let nx = format!("NXDOMAIN aa\n{SOA}");
    let nodata = format!("NOERROR aa\n{SOA}");
    vec![
        case(
            "pods",
            insecure,
            "10-1-0-99.shop.pod.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-0-99.shop.pod.cluster.local. 5 IN A 10.1.0.99",
        ),
        case(
            "pods",
            insecure,
            "fd00--99.shop.pod.cluster.local.",
            AAAA,
            "NOERROR aa\nan fd00--99.shop.pod.cluster.local. 5 IN AAAA fd00::99",
        ),
        case(
            "pods",
            insecure,
            "fd00-0-0-0-0-0-0-99.shop.pod.cluster.local.",
            AAAA,
            "NOERROR aa\nan fd00-0-0-0-0-0-0-99.shop.pod.cluster.local. 5 IN AAAA fd00::99",
        ),
        case("pods", insecure, "10-1-0-99.shop.pod.cluster.local.", AAAA, nodata.clone()),
        case("pods", insecure, "10-1-0-99.nowhere.pod.cluster.local.", A, nx.clone()),
        case("pods", insecure, "web.shop.pod.cluster.local.", A, nx.clone()),
        case("pods", insecure, "shop.pod.cluster.local.", A, nodata.clone()),
        // SRV on a pod name: port 0, the pod name as target.
        case(
            "pods",
            insecure,
            "10-1-0-99.shop.pod.cluster.local.",
            SRV,
            "NOERROR aa
             an 10-1-0-99.shop.pod.cluster.local. 5 IN SRV 0 100 0 10-1-0-99.shop.pod.cluster.local.
             ar 10-1-0-99.shop.pod.cluster.local. 5 IN A 10.1.0.99",
        ),
        case(
            "pods",
            verified,
            "10-1-0-10.shop.pod.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-0-10.shop.pod.cluster.local. 5 IN A 10.1.0.10",
        ),
        case("pods", verified, "10-1-0-99.shop.pod.cluster.local.", A, nx.clone()),
        case(
            "pods",
            verified_v6,
            "fd01--20.shop.pod.cluster.local.",
            AAAA,
            "NOERROR aa\nan fd01--20.shop.pod.cluster.local. 5 IN AAAA fd01::20",
        ),
        // The address however the name spells it, as `pods insecure`
        // answers it (README, Differences: the plugin compares the name's
        // text with the pod's address as written, so NXDOMAIN here).
        case(
            "pods",
            verified_v6,
            "fd01-0-0-0-0-0-0-20.shop.pod.cluster.local.",
            AAAA,
            "NOERROR aa\nan fd01-0-0-0-0-0-0-20.shop.pod.cluster.local. 5 IN AAAA fd01::20",
        ),
        case(
            "pods",
            verified_v6,
            "fd01-0000--0020.shop.pod.cluster.local.",
            AAAA,
            "NOERROR aa\nan fd01-0000--0020.shop.pod.cluster.local. 5 IN AAAA fd01::20",
        ),
        // An IPv4-mapped spelling names the IPv4 address (10.1.0.10).
        case(
            "pods",
            verified,
            "0-0-0-0-0-ffff-a01-a.shop.pod.cluster.local.",
            A,
            "NOERROR aa\nan 0-0-0-0-0-ffff-a01-a.shop.pod.cluster.local. 5 IN A 10.1.0.10",
        ),
        case("pods", verified_v6, "fd01--21.shop.pod.cluster.local.", AAAA, nx.clone()),
        case("pods", verified_v6, "fd01--20.quiet.pod.cluster.local.", AAAA, nx.clone()),
        case("pods", verified, "10-1-0-10.quiet.pod.cluster.local.", A, nx.clone()),
        case("pods", disabled, "10-1-0-10.shop.pod.cluster.local.", A, nx.clone()),
        case("pods", disabled, "shop.pod.cluster.local.", A, nx),
    ]
}
