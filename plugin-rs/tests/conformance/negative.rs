//! Names that do not exist (NXDOMAIN) versus names that exist without the
//! asked type (NODATA), the apex (SOA, NS), other types, and sync state.

use hickory_proto::rr::RecordType::{self, A, AAAA, ANY, AXFR, HTTPS, IXFR, MX, NS, SOA, SRV, TXT};

use super::services::alpha;
use super::{Case, Scenario, case};

const ZONE_SOA: &str =
    "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";

fn nodata() -> String {
    format!("NOERROR aa\nns {ZONE_SOA}")
}

fn nxdomain() -> String {
    format!("NXDOMAIN aa\nns {ZONE_SOA}")
}

fn alpha_unsynced() -> Scenario {
    alpha().unsynced()
}

fn alpha_behind_service() -> Scenario {
    alpha().local_ips(&["10.1.1.53", "127.0.0.1"])
}

fn alpha_on_host() -> Scenario {
    alpha().local_ips(&["192.0.2.53", "2001:db8::53"])
}

/// CoreDNS behind a headless service: its NS names are its endpoints'.
fn behind_headless() -> Scenario {
    Scenario::new()
        .stanza(
            &["cluster.local"],
            &[],
            vec![
                super::fixture::namespace("kube-system"),
                super::fixture::headless("kube-system", "coredns", &["dns:53/UDP"]),
                super::fixture::slice(
                    "kube-system",
                    "coredns-1",
                    "coredns",
                    &[super::fixture::ep(&["10.1.1.7"]).host("dns-a"), super::fixture::ep(&["10.1.1.8"])],
                    &["dns:53/UDP"],
                ),
            ],
        )
        .local_ips(&["10.1.1.7"])
}

fn exists(family: &'static str, name: &'static str, qtype: RecordType) -> Case {
    case(family, alpha, name, qtype, nodata())
}

fn missing(family: &'static str, name: &'static str, qtype: RecordType) -> Case {
    case(family, alpha, name, qtype, nxdomain())
}

pub fn cases() -> Vec<Case> {
    vec![
        missing("negative", "nope.shop.svc.cluster.local.", A),
        exists("negative", "shop.svc.cluster.local.", A),
        exists("negative", "quiet.svc.cluster.local.", AAAA),
        missing("negative", "nowhere.svc.cluster.local.", A),
        exists("negative", "svc.cluster.local.", A),
        exists("negative", "pod.cluster.local.", A),
        exists("negative", "cluster.local.", A),
        exists("negative", "cluster.local.", AAAA),
        missing("negative", "a.b.c.d.web.shop.svc.cluster.local.", A),
        missing("negative", "web.shop.nope.cluster.local.", A),
        missing("negative", "web.cluster.local.", A),
        // TXT: the schema version; NODATA where a name exists.
        case(
            "negative",
            alpha,
            "dns-version.cluster.local.",
            TXT,
            "NOERROR aa\nan dns-version.cluster.local. 28800 IN TXT 1.1.0",
        ),
        exists("negative", "web.shop.svc.cluster.local.", TXT),
        missing("negative", "nope.shop.svc.cluster.local.", TXT),
        // Deliberate difference: the plugin answers NXDOMAIN here, which
        // RFC 8020 resolvers read as "nothing below exists".
        exists("negative", "cluster.local.", TXT),
        exists("negative", "shop.svc.cluster.local.", TXT),
        // MX and other types: NODATA or NXDOMAIN as the name exists.
        exists("negative", "web.shop.svc.cluster.local.", MX),
        missing("negative", "nope.shop.svc.cluster.local.", MX),
        exists("negative", "web.shop.svc.cluster.local.", HTTPS),
        exists("negative", "db.shop.svc.cluster.local.", HTTPS),
        missing("negative", "nope.shop.svc.cluster.local.", HTTPS),
        // Wildcards were removed from the plugin (CoreDNS 1.9.0): `*` and
        // `any` are labels like any other, naming nothing here.
        missing("negative", "*.shop.svc.cluster.local.", A),
        missing("negative", "any.shop.svc.cluster.local.", A),
        missing("negative", "web.*.svc.cluster.local.", A),
        missing("negative", "*.svc.cluster.local.", A),
        missing("negative", "*.cluster.local.", A),
        missing("negative", "*.web.shop.svc.cluster.local.", A),
        missing("negative", "*.db.shop.svc.cluster.local.", A),
        missing("negative", "*._tcp.web.shop.svc.cluster.local.", SRV),
        missing("negative", "_http.*.web.shop.svc.cluster.local.", SRV),
        missing("negative", "*.shop.svc.cluster.local.", ANY),
        // ANY is one more type answered by a fake A lookup: NODATA where the
        // name exists, never the records themselves.
        exists("negative", "web.shop.svc.cluster.local.", ANY),
        exists("negative", "db.shop.svc.cluster.local.", ANY),
        exists("negative", "ext.shop.svc.cluster.local.", ANY),
        exists("negative", "shop.svc.cluster.local.", ANY),
        exists("negative", "cluster.local.", ANY),
        missing("negative", "nope.shop.svc.cluster.local.", ANY),
        // SOA only at the apex; below it NODATA, even for missing names.
        case("negative", alpha, "cluster.local.", SOA, format!("NOERROR aa\nan {ZONE_SOA}")),
        exists("negative", "web.shop.svc.cluster.local.", SOA),
        exists("negative", "nope.shop.svc.cluster.local.", SOA),
        // NS: at the apex, CoreDNS's names; below it like any other type.
        case(
            "negative",
            alpha_behind_service,
            "cluster.local.",
            NS,
            "NOERROR aa
             an cluster.local. 5 IN NS kube-dns.kube-system.svc.cluster.local.
             ar kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.53",
        ),
        case(
            "negative",
            behind_headless,
            "cluster.local.",
            NS,
            "NOERROR aa
             an cluster.local. 5 IN NS dns-a.coredns.kube-system.svc.cluster.local.
             an cluster.local. 5 IN NS 10-1-1-8.coredns.kube-system.svc.cluster.local.
             ar dns-a.coredns.kube-system.svc.cluster.local. 5 IN A 10.1.1.7
             ar 10-1-1-8.coredns.kube-system.svc.cluster.local. 5 IN A 10.1.1.8",
        ),
        // Deliberate difference: the plugin misses the NS records when the
        // zone is asked in upper case.
        case(
            "negative",
            alpha_on_host,
            "CLUSTER.LOCAL.",
            NS,
            "NOERROR aa
             an CLUSTER.LOCAL. 5 IN NS ns.dns.CLUSTER.LOCAL.
             ar ns.dns.CLUSTER.LOCAL. 5 IN A 192.0.2.53
             ar ns.dns.CLUSTER.LOCAL. 5 IN AAAA 2001:db8::53",
        ),
        case(
            "negative",
            alpha_on_host,
            "cluster.local.",
            NS,
            "NOERROR aa
             an cluster.local. 5 IN NS ns.dns.cluster.local.
             ar ns.dns.cluster.local. 5 IN A 192.0.2.53
             ar ns.dns.cluster.local. 5 IN AAAA 2001:db8::53",
        ),
        case(
            "negative",
            alpha_on_host,
            "ns.dns.cluster.local.",
            A,
            "NOERROR aa\nan ns.dns.cluster.local. 5 IN A 192.0.2.53",
        ),
        case(
            "negative",
            alpha_on_host,
            "ns.dns.cluster.local.",
            AAAA,
            "NOERROR aa\nan ns.dns.cluster.local. 5 IN AAAA 2001:db8::53",
        ),
        // Without a non-loopback listening address there is no NS record.
        exists("negative", "cluster.local.", NS),
        exists("negative", "web.shop.svc.cluster.local.", NS),
        missing("negative", "nope.shop.svc.cluster.local.", NS),
        // Zone transfers are for the transfer plugin, not the query path.
        case("negative", alpha, "cluster.local.", AXFR, "RCODE REFUSED"),
        case("negative", alpha, "cluster.local.", IXFR, "RCODE REFUSED"),
        // Outside every zone: the next plugin's.
        case("negative", alpha, "www.example.org.", A, "FALLTHROUGH"),
        // Negative answers carry the zone as the client wrote it.
        case(
            "negative",
            alpha,
            "NOPE.shop.svc.Cluster.Local.",
            A,
            "NXDOMAIN aa
             ns Cluster.Local. 5 IN SOA ns.dns.Cluster.Local. hostmaster.Cluster.Local. 1700000000 7200 1800 86400 5",
        ),
        // Before the first sync a miss is SERVFAIL; hits still answer.
        case("negative", alpha_unsynced, "nope.shop.svc.cluster.local.", A, format!("SERVFAIL aa\nns {ZONE_SOA}")),
        case(
            "negative",
            alpha_unsynced,
            "web.shop.svc.cluster.local.",
            A,
            "NOERROR aa\nan web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
        ),
        case("negative", alpha_unsynced, "shop.svc.cluster.local.", A, nodata()),
    ]
}
