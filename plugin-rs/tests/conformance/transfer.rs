//! Zone transfers: contents, order, and the IXFR "up to date" answer.

use super::services::alpha;
use super::{Core, NOW, Scenario, render_message};

fn alpha_on_host() -> Scenario {
    alpha().local_ips(&["192.0.2.53"])
}

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

/// (zone, client serial, expected listing or None for not authoritative)
const CASES: &[(&str, u32, Option<&str>)] = &[
    ("cluster.local.", 0, Some(FULL)),
    ("Cluster.Local", 0, Some(FULL)),
    ("cluster.local.", NOW as u32, Some(SOA_ONLY)),
    // Newer than ours (RFC 1982): up to date too.
    ("cluster.local.", NOW as u32 + 10, Some(SOA_ONLY)),
    ("cluster.local.", NOW as u32 - 10, Some(FULL)),
    ("remote.local.", 0, None),
    ("svc.cluster.local.", 0, None),
    ("in-addr.arpa.", 0, None),
];

pub fn run(new_core: &dyn Fn() -> Box<dyn Core>) -> Vec<String> {
    let mut failures = Vec::new();
    for (zone, serial, want) in CASES {
        let mut core = new_core();
        alpha_on_host().load(core.as_mut());
        let got = core.transfer(zone, *serial).map(|messages| listing(&messages));
        let want = want.map(|w| w.trim().to_string());
        if got != want {
            failures.push(format!("[transfer] {zone} serial {serial}\n--- want\n{want:?}\n--- got\n{got:?}\n"));
        }
    }
    failures
}
