//! Several stanzas in Corefile order: first match wins, misses go on only
//! with `fallthrough`, after the last stanza to the next plugin.

use hickory_proto::rr::RecordType::{A, AAAA, SRV};

use super::{Case, Scenario, case, fixture};

const SOA: &str =
    "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

pub fn same_zone_fallthrough() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("fallthrough", &[])], fixture::alpha()).stanza(
        &["cluster.local"],
        &[],
        fixture::beta(),
    )
}

pub fn same_zone_no_fallthrough() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[], fixture::alpha()).stanza(&["cluster.local"], &[], fixture::beta())
}

fn different_zones() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[], fixture::alpha()).stanza(&["remote.local"], &[], fixture::beta())
}

fn all_fall_through() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("fallthrough", &[])], fixture::alpha()).stanza(
        &["cluster.local"],
        &[("fallthrough", &[])],
        fixture::beta(),
    )
}

fn all_fall_through_first_unsynced() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("fallthrough", &[])], fixture::alpha()).unsynced().stanza(
        &["cluster.local"],
        &[("fallthrough", &[])],
        fixture::beta(),
    )
}

fn first_unsynced() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("fallthrough", &[])], fixture::alpha()).unsynced().stanza(
        &["cluster.local"],
        &[],
        fixture::beta(),
    )
}

/// A second cluster where `empty` has a ready endpoint.
fn empty_served_elsewhere() -> Vec<kubernetai::contract::Event> {
    vec![
        fixture::namespace("shop"),
        fixture::cluster_ip("shop", "empty", &["10.97.0.20"], &["http:80/TCP"]),
        fixture::slice("shop", "empty-x", "empty", &[fixture::ep(&["10.2.0.20"])], &["http:80/TCP"]),
    ]
}

pub fn ignore_empty_fallthrough() -> Scenario {
    Scenario::new()
        .stanza(&["cluster.local"], &[("ignore", &["empty_service"]), ("fallthrough", &[])], fixture::alpha())
        .stanza(&["cluster.local"], &[], empty_served_elsewhere())
}

/// The same without `ignore empty_service`: the first cluster answers.
fn keep_empty_fallthrough() -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &[("fallthrough", &[])], fixture::alpha()).stanza(
        &["cluster.local"],
        &[],
        empty_served_elsewhere(),
    )
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "chain",
            same_zone_fallthrough,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case(
            "chain",
            same_zone_fallthrough,
            "only-beta.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan only-beta.shop.svc.cluster.local. 5 IN A 10.97.0.5\nvia stanza 2, passed by 1",
        ),
        case(
            "chain",
            same_zone_fallthrough,
            "nope.shop.svc.cluster.local.",
            A,
            format!("NXDOMAIN aa\n{SOA}\nvia stanza 2, passed by 1"),
        ),
        // NODATA in the first stanza does not fall through.
        case(
            "chain",
            same_zone_fallthrough,
            "kube-dns.kube-system.svc.cluster.local.",
            AAAA,
            format!("NOERROR aa\n{SOA}"),
        ),
        case("chain", same_zone_no_fallthrough, "only-beta.shop.svc.cluster.local.", A, format!("NXDOMAIN aa\n{SOA}")),
        case(
            "chain",
            different_zones,
            "web.shop.svc.remote.local.",
            A,
            "NOERROR aa\nan web.shop.svc.remote.local. 5 IN A 10.97.0.10\nvia stanza 2",
        ),
        case(
            "chain",
            different_zones,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case("chain", different_zones, "www.example.org.", A, "FALLTHROUGH"),
        case("chain", all_fall_through, "nope.shop.svc.cluster.local.", A, "FALLTHROUGH\nvia passed by 1,2"),
        // As in the plugin, fallthrough is decided before sync state...
        case(
            "chain",
            first_unsynced,
            "only-beta.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan only-beta.shop.svc.cluster.local. 5 IN A 10.97.0.5\nvia stanza 2, passed by 1",
        ),
        // ...but a name missing everywhere while a stanza on the way has not
        // synced is SERVFAIL, not a negative answer clients would cache (the
        // plugin chain would answer NXDOMAIN or ask the next plugin).
        case(
            "chain",
            first_unsynced,
            "nope.shop.svc.cluster.local.",
            A,
            format!("SERVFAIL aa\n{SOA}\nvia stanza 2, passed by 1"),
        ),
        // `ignore empty_service` makes a service without ready endpoints a
        // miss, and a miss falls through to the cluster that has some.
        case(
            "chain",
            ignore_empty_fallthrough,
            "empty.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan empty.shop.svc.cluster.local. 5 IN A 10.97.0.20\nvia stanza 2, passed by 1",
        ),
        case(
            "chain",
            ignore_empty_fallthrough,
            "_http._tcp.empty.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _http._tcp.empty.shop.svc.cluster.local. 5 IN SRV 0 100 80 empty.shop.svc.cluster.local.
             ar empty.shop.svc.cluster.local. 5 IN A 10.97.0.20
             via stanza 2, passed by 1",
        ),
        case(
            "chain",
            ignore_empty_fallthrough,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case(
            "chain",
            keep_empty_fallthrough,
            "empty.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan empty.shop.svc.cluster.local. 5 IN A 10.96.0.20",
        ),
        case(
            "chain",
            all_fall_through_first_unsynced,
            "nope.shop.svc.cluster.local.",
            A,
            format!("SERVFAIL aa\n{SOA}\nvia stanza 1, passed by 1,2"),
        ),
    ]
}
