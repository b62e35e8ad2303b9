//! Zone transfers: contents, order, and the IXFR "up to date" answer.

use super::fixture::ep;
use super::services::alpha;
use super::zonal::{multicluster, zonal};
use super::{Core, NOW, Scenario, fixture, render_message, transfer_all};

fn alpha_on_host() -> Scenario {
    alpha().local_ips(&["192.0.2.53"])
}

/// A stanza whose first zone is a reverse one.
fn reverse_first() -> Scenario {
    Scenario::new().stanza(&["10.in-addr.arpa", "cluster.local"], &[], fixture::alpha()).local_ips(&["192.0.2.53"])
}

/// Services in the bulk scenario: with an address and an SRV record each,
/// more records than one transfer message holds.
const BULK_SERVICES: usize = 300;

fn bulk() -> Scenario {
    let mut objects = vec![fixture::namespace("bulk")];
    for i in 0..BULK_SERVICES {
        let ip = format!("10.96.{}.{}", i / 200, i % 200 + 1);
        objects.push(fixture::cluster_ip("bulk", &format!("s{i:03}"), &[&ip], &["8080/TCP"]));
    }
    Scenario::new().stanza(&["cluster.local"], &[], objects).local_ips(&["192.0.2.53"])
}

/// The listing the bulk scenario transfers.
fn bulk_listing() -> String {
    let soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";
    let mut lines = vec![
        soa.to_string(),
        "cluster.local. 5 IN NS ns.dns.cluster.local.".to_string(),
        "ns.dns.cluster.local. 5 IN A 192.0.2.53".to_string(),
    ];
    for i in 0..BULK_SERVICES {
        let owner = format!("s{i:03}.bulk.svc.cluster.local.");
        lines.push(format!("{owner} 5 IN A 10.96.{}.{}", i / 200, i % 200 + 1));
        // Unnamed ports have an SRV record at the service name only.
        lines.push(format!("{owner} 5 IN SRV 0 100 8080 {owner}"));
    }
    lines.push(soa.to_string());
    lines.join("\n")
}

/// Records per transfer message, as the core batches them.
const BATCH: usize = 500;

/// Zonal names (`_zone`) are not transferred; the rest is as without
/// `zonal`.
const ZONAL: &str = "
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5
db.shop.svc.cluster.local. 5 IN A 10.1.0.1
10-1-0-1.db.shop.svc.cluster.local. 5 IN A 10.1.0.1
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-0-1.db.shop.svc.cluster.local.
db.shop.svc.cluster.local. 5 IN A 10.1.0.2
10-1-0-2.db.shop.svc.cluster.local. 5 IN A 10.1.0.2
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-0-2.db.shop.svc.cluster.local.
db.shop.svc.cluster.local. 5 IN A 10.1.0.3
10-1-0-3.db.shop.svc.cluster.local. 5 IN A 10.1.0.3
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 33 5432 10-1-0-3.db.shop.svc.cluster.local.
web.shop.svc.cluster.local. 5 IN A 10.96.0.10
web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.
_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5
";

const FULL: &str = "
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5
cluster.local. 5 IN NS ns.dns.cluster.local.
ns.dns.cluster.local. 5 IN A 192.0.2.53
kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.53
kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.
_dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.
kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.
_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.
alias.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local.
db.shop.svc.cluster.local. 5 IN A 10.1.0.1
db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 50 5432 db-0.db.shop.svc.cluster.local.
db.shop.svc.cluster.local. 5 IN A 10.1.0.2
10-1-0-2.db.shop.svc.cluster.local. 5 IN A 10.1.0.2
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 50 5432 10-1-0-2.db.shop.svc.cluster.local.
db.shop.svc.cluster.local. 5 IN A 10.1.0.4
10-1-0-4.db.shop.svc.cluster.local. 5 IN A 10.1.0.4
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 10-1-0-4.db.shop.svc.cluster.local.
db.shop.svc.cluster.local. 5 IN AAAA fd01::1
db-0.db.shop.svc.cluster.local. 5 IN AAAA fd01::1
_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 db-0.db.shop.svc.cluster.local.
empty.shop.svc.cluster.local. 5 IN A 10.96.0.20
empty.shop.svc.cluster.local. 5 IN SRV 0 100 80 empty.shop.svc.cluster.local.
_http._tcp.empty.shop.svc.cluster.local. 5 IN SRV 0 100 80 empty.shop.svc.cluster.local.
ext.shop.svc.cluster.local. 5 IN CNAME www.example.org.
web.shop.svc.cluster.local. 5 IN A 10.96.0.10
web.shop.svc.cluster.local. 5 IN AAAA fd00::10
web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.
_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.
web.shop.svc.cluster.local. 5 IN SRV 0 100 53 web.shop.svc.cluster.local.
_dns._udp.web.shop.svc.cluster.local. 5 IN SRV 0 100 53 web.shop.svc.cluster.local.
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5
";

const SOA_ONLY: &str = "
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5
";

/// The records of a transfer, one per line.
fn listing(messages: &[Vec<u8>]) -> String {
    let mut lines = Vec::new();
    for m in messages {
        for line in render_message(m).lines().skip(1) {
            lines.push(line.trim_start_matches("an ").to_string());
        }
    }
    lines.join("\n")
}

/// (scenario, zone, client serial, expected listing or None for not
/// authoritative)
type TransferCase = (fn() -> Scenario, &'static str, u32, Option<&'static str>);

const CASES: &[TransferCase] = &[
    (alpha_on_host, "cluster.local.", 0, Some(FULL)),
    (alpha_on_host, "Cluster.Local", 0, Some(FULL)),
    (alpha_on_host, "cluster.local.", NOW as u32, Some(SOA_ONLY)),
    // A cluster set's serial is its members' largest: up to date here.
    (super::sets::set, "cluster.local.", NOW as u32, Some(SOA_ONLY)),
    // Newer than ours (RFC 1982): up to date too.
    (alpha_on_host, "cluster.local.", NOW as u32 + 10, Some(SOA_ONLY)),
    (alpha_on_host, "cluster.local.", NOW as u32 - 10, Some(FULL)),
    (alpha_on_host, "remote.local.", 0, None),
    (alpha_on_host, "svc.cluster.local.", 0, None),
    (alpha_on_host, "in-addr.arpa.", 0, None),
    (zonal, "cluster.local.", 0, Some(ZONAL)),
    // A reverse zone listed first changes nothing for the forward zone,
    // and is not transferred itself.
    (reverse_first, "cluster.local.", 0, Some(FULL)),
    (reverse_first, "10.in-addr.arpa.", 0, None),
];

pub fn run(new_core: &dyn Fn() -> Box<dyn Core>) -> Vec<String> {
    let mut failures = Vec::new();
    for (scenario, zone, serial, want) in CASES {
        let mut core = new_core();
        scenario().load(core.as_mut());
        let got = transfer_all(core.as_mut(), zone, *serial).map(|messages| listing(&messages));
        let want = want.map(|w| w.trim().to_string());
        if got != want {
            failures.push(format!("[transfer] {zone} serial {serial}\n--- want\n{want:?}\n--- got\n{got:?}\n"));
        }
    }
    failures.extend(run_bulk(new_core));
    failures.extend(super::sets::transfer_agrees(new_core).into_iter().map(|f| format!("[sets transfer] {f}")));
    failures
}

/// Loads a scenario in a fresh core and transfers a zone (with a client
/// serial) in pages of a number of records: every page's messages.
pub type Paged = dyn Fn(&Scenario, &str, u32, usize) -> Option<Vec<Vec<u8>>>;

/// Page sizes the paged runs cut transfers in.
const BUDGETS: [usize; 8] = [1, 2, 3, 4, 5, 8, 13, 40];

/// A multicluster zone with headless imports of several slices, and more
/// than one namespace.
fn imports() -> Scenario {
    let mut objects = multicluster().objects.remove(0);
    objects.extend([
        fixture::namespace("tools"),
        fixture::service_import("tools", "cache", true, &[], &["redis:6379/TCP"]),
        fixture::mc_slice(
            "tools",
            "cache-east",
            "cache",
            "east",
            &[ep(&["10.5.0.1"]), ep(&["10.5.0.2"]).host("c-1"), ep(&["10.5.0.3"])],
            &["redis:6379/TCP"],
        ),
        fixture::mc_slice("tools", "cache-west", "cache", "west", &[ep(&["10.6.0.1"])], &["redis:6379/TCP"]),
        fixture::service_import("tools", "api", false, &["10.9.0.9"], &["http:80/TCP"]),
    ]);
    let mut scenario = multicluster();
    scenario.objects[0] = objects;
    scenario
}

/// Transfers cut in pages of any size: the pages' records, concatenated,
/// are the whole transfer's (the table's listing, where it has one).
pub fn paged_run(new_core: &dyn Fn() -> Box<dyn Core>, paged: &Paged) -> Vec<String> {
    let mut runs: Vec<TransferCase> = CASES.to_vec();
    runs.extend([
        (imports as fn() -> Scenario, "clusterset.local.", 0, None),
        (imports, "cluster.local.", 0, None),
        (bulk, "cluster.local.", 0, None),
        (super::sets::set, "cluster.local.", 0, None),
        (super::chain::same_zone_fallthrough, "cluster.local.", 0, None),
        (super::sets::plain_first, "cluster.local.", 0, None),
    ]);
    let mut failures = Vec::new();
    for (scenario, zone, serial, want) in runs {
        let mut core = new_core();
        scenario().load(core.as_mut());
        let whole = transfer_all(core.as_mut(), zone, serial).map(|m| listing(&m));
        if let Some(want) = want
            && whole.as_deref() != Some(want.trim())
        {
            failures.push(format!("[transfer pages] {zone}: the whole transfer is not the table's"));
        }
        for budget in BUDGETS {
            let got = paged(&scenario(), zone, serial, budget).map(|m| listing(&m));
            if got != whole {
                failures.push(format!(
                    "[transfer pages] {zone} in pages of {budget}\n--- want\n{whole:?}\n--- got\n{got:?}\n"
                ));
            }
        }
    }
    failures
}

/// A transfer of more records than one message holds: full messages then
/// the rest, every record once, in order, between the two SOAs.
fn run_bulk(new_core: &dyn Fn() -> Box<dyn Core>) -> Vec<String> {
    let mut core = new_core();
    bulk().load(core.as_mut());
    let Some(messages) = transfer_all(core.as_mut(), "cluster.local.", 0) else {
        return vec!["[transfer] bulk: not authoritative".into()];
    };
    let mut failures = Vec::new();
    let total = 2 * BULK_SERVICES + 4;
    let sizes: Vec<usize> = messages.iter().map(|m| render_message(m).lines().count() - 1).collect();
    let want_sizes = vec![BATCH, total - BATCH];
    if sizes != want_sizes {
        failures.push(format!("[transfer] bulk: records per message {sizes:?}, want {want_sizes:?}"));
    }
    let (got, want) = (listing(&messages), bulk_listing());
    if got != want {
        let diverge = got.lines().zip(want.lines()).position(|(g, w)| g != w);
        failures.push(format!(
            "[transfer] bulk: {} records, want {}; first difference at record {diverge:?}",
            got.lines().count(),
            want.lines().count()
        ));
    }
    failures
}
