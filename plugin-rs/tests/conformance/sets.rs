//! Cluster sets (`clusterset`): two clusters answering one zone together.
//! Not the kubernetes plugin's behaviour (it has one cluster) but
//! kubernetai's own, as README's "Cluster sets" describes it.

use hickory_proto::rr::RecordType::{A, AAAA, NS, PTR, SOA, SRV, TXT};

use super::fixture::{self, ep};
use super::{Case, Core, Scenario, case, query, render_message, transfer_all};

const SOA_LINE: &str =
    "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

/// `db` from both members.
const DB_UNION: &str = "NOERROR aa
    an db.shop.svc.cluster.local. 5 IN A 10.1.0.1
    an db.shop.svc.cluster.local. 5 IN A 10.1.0.2
    an db.shop.svc.cluster.local. 5 IN A 10.2.0.1
    via stanza 1, merged 1,2";

/// East's objects: the first member.
fn east() -> Vec<kubernetai::contract::Event> {
    vec![
        fixture::namespace("shop"),
        // Headless in both; 10.1.0.2 is in both, db-0 names an endpoint in
        // each with its own address.
        fixture::headless("shop", "db", &["pg:5432/TCP"]),
        fixture::slice("shop", "db-e", "db", &[ep(&["10.1.0.1"]).host("db-0"), ep(&["10.1.0.2"])], &["pg:5432/TCP"]),
        // ClusterIP in both, ready in both; west has one more port.
        fixture::cluster_ip("shop", "web", &["10.96.0.10"], &["http:80/TCP"]),
        fixture::slice("shop", "web-e", "web", &[ep(&["10.1.1.1"])], &["http:80/TCP"]),
        // ClusterIP in both, ready only in west.
        fixture::cluster_ip("shop", "api", &["10.96.0.20"], &["http:80/TCP"]),
        fixture::slice("shop", "api-e", "api", &[ep(&["10.1.2.1"]).not_ready()], &["http:80/TCP"]),
        // ClusterIP in both, ready in neither.
        fixture::cluster_ip("shop", "idle", &["10.96.0.30"], &["http:80/TCP"]),
        // Headless here, ClusterIP in west.
        fixture::headless("shop", "mixed", &["http:80/TCP"]),
        fixture::slice("shop", "mixed-e", "mixed", &[ep(&["10.1.3.1"])], &["http:80/TCP"]),
        // Headless in both, endpoints not ready here.
        fixture::headless("shop", "partial", &["http:80/TCP"]),
        fixture::slice("shop", "partial-e", "partial", &[ep(&["10.1.4.1"]).not_ready()], &["http:80/TCP"]),
        fixture::pod("shop", "p", &["10.1.9.9"]),
    ]
}

/// West's objects: the second member.
fn west() -> Vec<kubernetai::contract::Event> {
    vec![
        fixture::namespace("shop"),
        fixture::headless("shop", "db", &["pg:5432/TCP"]),
        fixture::slice("shop", "db-w", "db", &[ep(&["10.2.0.1"]).host("db-0"), ep(&["10.1.0.2"])], &["pg:5432/TCP"]),
        fixture::cluster_ip("shop", "web", &["10.97.0.10"], &["http:80/TCP", "grpc:9090/TCP"]),
        fixture::slice("shop", "web-w", "web", &[ep(&["10.2.1.1"])], &["http:80/TCP", "grpc:9090/TCP"]),
        fixture::cluster_ip("shop", "api", &["10.97.0.20"], &["http:80/TCP"]),
        fixture::slice("shop", "api-w", "api", &[ep(&["10.2.2.1"])], &["http:80/TCP"]),
        fixture::cluster_ip("shop", "idle", &["10.97.0.30"], &["http:80/TCP"]),
        fixture::cluster_ip("shop", "mixed", &["10.97.0.40"], &["http:80/TCP"]),
        fixture::slice("shop", "mixed-w", "mixed", &[ep(&["10.2.3.1"])], &["http:80/TCP"]),
        fixture::headless("shop", "partial", &["http:80/TCP"]),
        fixture::slice("shop", "partial-w", "partial", &[ep(&["10.2.4.1"])], &["http:80/TCP"]),
        fixture::cluster_ip("shop", "only-west", &["10.97.0.50"], &["http:80/TCP"]),
    ]
}

type Props = &'static [(&'static str, &'static [&'static str])];

/// A member's options: its name, `clusterset`, and `more`.
fn member(name: &'static [&'static str], more: Props) -> Vec<(&'static str, &'static [&'static str])> {
    let mut props: Vec<(&str, &[&str])> = vec![("cluster", name), ("clusterset", &[])];
    props.extend_from_slice(more);
    props
}

pub fn set() -> Scenario {
    Scenario::new()
        .stanza(&["cluster.local", "in-addr.arpa"], &member(&["east"], &[("pods", &["insecure"])]), east())
        .stanza(&["cluster.local", "in-addr.arpa"], &member(&["west"], &[]), west())
}

/// West has not synced yet.
fn west_unsynced() -> Scenario {
    set_with(&[], &[]).unsynced()
}

fn set_with(east_more: Props, west_more: Props) -> Scenario {
    Scenario::new().stanza(&["cluster.local"], &member(&["east"], east_more), east()).stanza(
        &["cluster.local"],
        &member(&["west"], west_more),
        west(),
    )
}

fn both_fall_through() -> Scenario {
    set_with(&[("fallthrough", &[])], &[("fallthrough", &[])])
}

fn east_falls_through() -> Scenario {
    set_with(&[("fallthrough", &[])], &[])
}

/// A stanza without `clusterset` before the set: the chain as before.
pub fn plain_first() -> Scenario {
    Scenario::new()
        .stanza(&["cluster.local"], &[("fallthrough", &[])], fixture::alpha())
        .stanza(&["cluster.local"], &member(&["east"], &[]), east())
        .stanza(&["cluster.local"], &member(&["west"], &[]), west())
}

pub fn cases() -> Vec<Case> {
    vec![
        // Headless: every member's ready endpoints, repeats dropped.
        case("sets", set, "db.shop.svc.cluster.local.", A, DB_UNION),
        // SRV of a headless service: every member's records, each target
        // the member's own copy of the endpoint (db-0 is another pod in
        // each cluster), every weight 100.
        case(
            "sets",
            set,
            "_pg._tcp.db.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 db-0.db.shop.svc.east.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 10-1-0-2.db.shop.svc.east.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 db-0.db.shop.svc.west.cluster.local.
             an _pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 10-1-0-2.db.shop.svc.west.cluster.local.
             ar db-0.db.shop.svc.east.cluster.local. 5 IN A 10.1.0.1
             ar 10-1-0-2.db.shop.svc.east.cluster.local. 5 IN A 10.1.0.2
             ar db-0.db.shop.svc.west.cluster.local. 5 IN A 10.2.0.1
             ar 10-1-0-2.db.shop.svc.west.cluster.local. 5 IN A 10.1.0.2
             via stanza 1, merged 1,2",
        ),
        // An endpoint name present in both: both addresses.
        case(
            "sets",
            set,
            "db-0.db.shop.svc.cluster.local.",
            A,
            "NOERROR aa
             an db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1
             an db-0.db.shop.svc.cluster.local. 5 IN A 10.2.0.1
             via stanza 1, merged 1,2",
        ),
        // ClusterIP, ready in both: the first member's.
        case(
            "sets",
            set,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10\nvia stanza 1, merged 1",
        ),
        case(
            "sets",
            set,
            "web.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.
             ar web.shop.svc.cluster.local. 5 IN A 10.96.0.10
             via stanza 1, merged 1",
        ),
        // A port only west's copy has: west answers, and its target is
        // west's own copy, whose address is west's (the service name
        // itself gives east's, which does not serve that port).
        case(
            "sets",
            set,
            "_grpc._tcp.web.shop.svc.cluster.local.",
            SRV,
            "NOERROR aa
             an _grpc._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 9090 web.shop.svc.west.cluster.local.
             ar web.shop.svc.west.cluster.local. 5 IN A 10.97.0.10
             via stanza 2, merged 2",
        ),
        // Ready only in the second member: its address.
        case(
            "sets",
            set,
            "api.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan api.shop.svc.cluster.local. 5 IN A 10.97.0.20\nvia stanza 2, merged 2",
        ),
        // Ready nowhere: the first member's address.
        case(
            "sets",
            set,
            "idle.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan idle.shop.svc.cluster.local. 5 IN A 10.96.0.30\nvia stanza 1, merged 1",
        ),
        case(
            "sets",
            set,
            "only-west.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan only-west.shop.svc.cluster.local. 5 IN A 10.97.0.50\nvia stanza 2, merged 2",
        ),
        // Headless in the first member that has it: its kind decides, the
        // ClusterIP copy is left out.
        case(
            "sets",
            set,
            "mixed.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan mixed.shop.svc.cluster.local. 5 IN A 10.1.3.1\nvia stanza 1, merged 1",
        ),
        // Headless with no ready endpoint in east: a miss there, west's.
        case(
            "sets",
            set,
            "partial.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan partial.shop.svc.cluster.local. 5 IN A 10.2.4.1\nvia stanza 2, merged 2",
        ),
        // NODATA: the name exists, not the type.
        case(
            "sets",
            set,
            "web.shop.svc.cluster.local.",
            AAAA,
            format!("NOERROR aa\n{SOA_LINE}\nvia stanza 1, merged 1"),
        ),
        case(
            "sets",
            set,
            "only-west.shop.svc.cluster.local.",
            TXT,
            format!("NOERROR aa\n{SOA_LINE}\nvia stanza 2, merged 2"),
        ),
        // NXDOMAIN only when no member has the name.
        case("sets", set, "nope.shop.svc.cluster.local.", A, format!("NXDOMAIN aa\n{SOA_LINE}")),
        // Per-cluster names: one member's copy, its names under its label.
        case(
            "sets",
            set,
            "web.shop.svc.west.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.west.cluster.local. 5 IN A 10.97.0.10\nvia stanza 2, merged 2",
        ),
        case(
            "sets",
            set,
            "_pg._tcp.db.shop.svc.east.cluster.local.",
            SRV,
            "NOERROR aa
             an _pg._tcp.db.shop.svc.east.cluster.local. 5 IN SRV 0 100 5432 db-0.db.shop.svc.east.cluster.local.
             an _pg._tcp.db.shop.svc.east.cluster.local. 5 IN SRV 0 100 5432 10-1-0-2.db.shop.svc.east.cluster.local.
             ar db-0.db.shop.svc.east.cluster.local. 5 IN A 10.1.0.1
             ar 10-1-0-2.db.shop.svc.east.cluster.local. 5 IN A 10.1.0.2
             via stanza 1, merged 1",
        ),
        case(
            "sets",
            set,
            "db-0.db.shop.svc.west.cluster.local.",
            A,
            "NOERROR aa\nan db-0.db.shop.svc.west.cluster.local. 5 IN A 10.2.0.1\nvia stanza 2, merged 2",
        ),
        case("sets", set, "only-west.shop.svc.east.cluster.local.", A, format!("NXDOMAIN aa\n{SOA_LINE}")),
        case(
            "sets",
            set,
            "10-1-9-9.shop.pod.east.cluster.local.",
            A,
            "NOERROR aa\nan 10-1-9-9.shop.pod.east.cluster.local. 5 IN A 10.1.9.9\nvia stanza 1, merged 1",
        ),
        // The copy's apex and `svc` exist, hold nothing; the zone's SOA
        // and NS stay at the zone.
        case("sets", set, "west.cluster.local.", A, format!("NOERROR aa\n{SOA_LINE}\nvia stanza 2, merged 2")),
        case("sets", set, "svc.west.cluster.local.", A, format!("NOERROR aa\n{SOA_LINE}\nvia stanza 2, merged 2")),
        case("sets", set, "east.cluster.local.", SOA, format!("NOERROR aa\n{SOA_LINE}\nvia stanza 1, merged 1")),
        case("sets", set, "west.cluster.local.", NS, format!("NOERROR aa\n{SOA_LINE}\nvia stanza 2, merged 2")),
        // A label that is no member's cluster: the usual grammar (NXDOMAIN).
        case("sets", set, "web.shop.svc.north.cluster.local.", A, format!("NXDOMAIN aa\n{SOA_LINE}")),
        // PTR in a set reverse zone: every member's names.
        case(
            "sets",
            set,
            "2.0.1.10.in-addr.arpa.",
            PTR,
            "NOERROR aa
             an 2.0.1.10.in-addr.arpa. 5 IN PTR 10-1-0-2.db.shop.svc.cluster.local.
             via stanza 1, merged 1,2",
        ),
        case(
            "sets",
            set,
            "10.0.97.10.in-addr.arpa.",
            PTR,
            "NOERROR aa
             an 10.0.97.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local.
             via stanza 2, merged 2",
        ),
        // A member not synced yet: a miss is SERVFAIL, what others have is
        // answered.
        case("sets", west_unsynced, "nope.shop.svc.cluster.local.", A, format!("SERVFAIL aa\n{SOA_LINE}")),
        case("sets", west_unsynced, "db.shop.svc.cluster.local.", A, DB_UNION),
        // A miss leaves the set only when every member falls through.
        case("sets", both_fall_through, "nope.shop.svc.cluster.local.", A, "FALLTHROUGH\nvia passed by 1,2"),
        case("sets", east_falls_through, "nope.shop.svc.cluster.local.", A, format!("NXDOMAIN aa\n{SOA_LINE}")),
        // A stanza outside the set before it: the chain as before.
        case(
            "sets",
            plain_first,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case(
            "sets",
            plain_first,
            "only-west.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan only-west.shop.svc.cluster.local. 5 IN A 10.97.0.50\nvia stanza 3, passed by 1, merged 3",
        ),
    ]
}

/// A zone several stanzas serve: what it is, its scenario, and whether
/// it is a cluster set's alone, whose transfer holds every record queries
/// give. In a fallthrough chain a service's records come from the first
/// stanza that has the service (names under it only a later stanza has
/// are answered but not listed), with the plugin's transfer contents: SRV
/// weights split per EndpointSlice, no SRV at a headless service's name.
type Joint = (&'static str, fn() -> Scenario, bool);

/// Zones several stanzas serve: a cluster set, fallthrough chains, a plain
/// stanza before a set.
pub fn joint_zones() -> Vec<Joint> {
    vec![
        ("cluster set", set, true),
        ("fallthrough chain", super::chain::same_zone_fallthrough, false),
        ("chain without fallthrough", super::chain::same_zone_no_fallthrough, false),
        ("chain with ignore empty_service", super::chain::ignore_empty_fallthrough, false),
        ("plain stanza before a set", plain_first, false),
    ]
}

/// The transfer of a zone several stanzas serve and its queries agree:
/// every A, AAAA and SRV record of the transfer is what a query for its
/// owner and type returns; in a set's zone, nothing a query returns is
/// missing either, and in a chain's, no address of a service's name.
/// Records are compared as sets (a transfer may repeat one a query gives
/// once; a secondary keeps it once). Returns the mismatches.
pub fn transfer_agrees(new_core: &dyn Fn() -> Box<dyn Core>) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, scenario, exact) in joint_zones() {
        for f in agrees(new_core, scenario, exact) {
            failures.push(format!("{what}: {f}"));
        }
    }
    failures
}

fn agrees(new_core: &dyn Fn() -> Box<dyn Core>, scenario: fn() -> Scenario, exact: bool) -> Vec<String> {
    use std::collections::BTreeMap;

    let mut core = new_core();
    scenario().load(core.as_mut());
    let messages = transfer_all(core.as_mut(), "cluster.local.", 0).expect("the zone is transferred");
    // SRV weight is the fifth field: `owner ttl IN SRV priority weight ...`.
    let comparable = |record: &str| -> String {
        let mut fields: Vec<&str> = record.split_whitespace().collect();
        if !exact && fields.get(3) == Some(&"SRV") {
            fields[5] = "*";
        }
        fields.join(" ")
    };
    let mut transferred: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for m in &messages {
        for line in render_message(m).lines().skip(1) {
            let record = line.trim_start_matches("an ");
            let fields: Vec<&str> = record.split_whitespace().collect();
            if matches!(fields[3], "A" | "AAAA" | "SRV") {
                transferred.entry((fields[0].to_string(), fields[3].to_string())).or_default().push(comparable(record));
            }
        }
    }
    let mut failures = Vec::new();
    if transferred.is_empty() {
        failures.push("the transfer holds no records".to_string());
    }
    // Names the cases ask, so that a record a query gives and the transfer
    // lacks shows too.
    let services = ["db", "web", "api", "idle", "mixed", "partial", "only-west", "only-beta", "empty", "nobody"];
    let asked = services
        .iter()
        .flat_map(|s| {
            [
                format!("{s}.shop.svc.cluster.local."),
                format!("{s}.shop.svc.east.cluster.local."),
                format!("{s}.shop.svc.west.cluster.local."),
                format!("_http._tcp.{s}.shop.svc.cluster.local."),
            ]
        })
        .chain(["_pg._tcp.db.shop.svc.cluster.local.".into(), "_grpc._tcp.web.shop.svc.cluster.local.".into()]);
    let mut names: Vec<(String, String)> = transferred.keys().cloned().collect();
    for name in asked {
        // Port names answer A queries too (the plugin's grammar), which
        // no transfer lists: only their SRV records are compared.
        let types: &[&str] = match (exact, name.starts_with('_')) {
            (true, true) => &["SRV"],
            (true, false) => &["A", "AAAA", "SRV"],
            (false, true) => &[],
            (false, false) => &["A", "AAAA"],
        };
        for t in types {
            names.push((name.clone(), t.to_string()));
        }
    }
    names.sort();
    names.dedup();
    for (owner, rtype) in names {
        let qtype = rtype.parse().unwrap();
        let outcome = core.lookup(&query(&owner, qtype), &[]);
        let mut got: Vec<String> = match &outcome {
            kubernetai::contract::Outcome::Answer(a) => render_message(&a.message)
                .lines()
                .filter(|l| l.starts_with("an "))
                .map(|l| comparable(l.trim_start_matches("an ")))
                .collect(),
            kubernetai::contract::Outcome::Fallthrough(_) => Vec::new(),
            other => vec![format!("{other:?}")],
        };
        let mut want = transferred.get(&(owner.clone(), rtype.clone())).cloned().unwrap_or_default();
        got.sort();
        got.dedup();
        want.sort();
        want.dedup();
        if got != want {
            failures.push(format!(
                "{owner} {rtype}\n--- transfer\n{}\n--- query\n{}\n",
                want.join("\n"),
                got.join("\n")
            ));
        }
    }
    failures
}
