//! The conformance table against the core compiled natively.

mod conformance;

use conformance::Core;
use kubernetai::Kubernetai;
use kubernetai::contract::{
    ApplyReport, ConfigError, Configuration, Event, HostInfo, MetadataEntry, Outcome, Stanza, TransferPage,
    UpstreamReply,
};

#[derive(Default)]
struct Native(Option<Kubernetai>);

impl Native {
    fn core(&mut self) -> &mut Kubernetai {
        self.0.as_mut().expect("configured")
    }
}

impl Core for Native {
    fn configure(&mut self, stanzas: &[Stanza], seed: u64) -> Result<Configuration, ConfigError> {
        let (core, configuration) = Kubernetai::configure(stanzas, seed)?;
        self.0 = Some(core);
        Ok(configuration)
    }
    fn set_host(&mut self, info: &HostInfo) {
        self.core().set_host(info)
    }
    fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport {
        self.core().apply(stanza, now, events)
    }
    fn set_synced(&mut self, stanza: u32, synced: bool) {
        self.core().set_synced(stanza, synced)
    }
    fn transfer(&mut self, zone: &str, serial: u32, cursor: &[u8]) -> Result<Option<TransferPage>, String> {
        self.core().transfer(zone, serial, cursor)
    }
    fn autopath(&mut self, qname: &str, client: &str) -> Option<Vec<String>> {
        self.core().autopath(qname, client)
    }
    fn metadata(&mut self, qname: &str, client: &str) -> Vec<MetadataEntry> {
        self.core().metadata(qname, client)
    }
    fn lookup(&mut self, query: &[u8], replies: &[UpstreamReply]) -> Outcome {
        self.core().lookup(query, replies)
    }
}

fn new_core() -> Box<dyn Core> {
    Box::new(Native::default())
}

#[test]
fn conformance_table() {
    let failures = conformance::run_table(&new_core);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn zone_transfers() {
    let failures = conformance::transfer_run(&new_core);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn autopath_and_metadata() {
    let failures = conformance::clients_run(&new_core);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// The core loaded with a scenario, transferring `zone` in pages of
/// `records` records: every page's messages, in order.
fn transfer_in_pages(
    scenario: &conformance::Scenario,
    zone: &str,
    serial: u32,
    records: usize,
) -> Option<Vec<Vec<u8>>> {
    let mut native = Native::default();
    scenario.load(&mut native);
    let core = native.core();
    conformance::follow_pages(|cursor| core.transfer_in_pages_of(zone, serial, cursor, records))
}

#[test]
fn zone_transfers_in_pages_of_any_size() {
    let failures = conformance::transfer::paged_run(&new_core, &transfer_in_pages);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// A cluster over three namespaces, with a headless service of several
/// slices, for transfers that change between pages.
fn changing_cluster() -> conformance::Scenario {
    use conformance::fixture::{cluster_ip, ep, headless, namespace, slice};
    let mut objects = vec![namespace("a"), namespace("b"), namespace("c")];
    for (ns, names) in [("a", ["a1", "a3", "a5"]), ("b", ["b1", "mid", "b5"]), ("c", ["c1", "c3", "c5"])] {
        for (i, name) in names.iter().enumerate() {
            objects.push(cluster_ip(ns, name, &[&format!("10.96.{}.{}", ns.len() + i, i + 1)], &["http:80/TCP"]));
        }
    }
    objects.push(headless("b", "db", &["pg:5432/TCP"]));
    for (name, first) in [("db-a", 1), ("db-b", 4), ("db-c", 7)] {
        let ips: Vec<String> = (first..first + 3).map(|i| format!("10.1.0.{i}")).collect();
        let ips: Vec<[&str; 1]> = ips.iter().map(|ip| [ip.as_str()]).collect();
        let eps: Vec<_> = ips.iter().map(|ip| ep(ip)).collect();
        objects.push(slice("b", name, "db", &eps, &["pg:5432/TCP"]));
    }
    conformance::Scenario::new().stanza(&["cluster.local"], &[], objects).local_ips(&["192.0.2.53"])
}

/// The records of transfer messages, one line each.
fn records(messages: &[Vec<u8>]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| conformance::render_message(m).lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn pages_stay_right_when_objects_change_between_them() {
    use conformance::fixture::{cluster_ip, upsert};
    use kubernetai::contract::{Change, Event, Kind};

    let gone = r#"{"metadata":{"name":"mid","namespace":"b"}}"#;
    let changes = vec![
        // Before most cursors, after most, and one deleted.
        cluster_ip("a", "a0", &["10.97.0.1"], &["http:80/TCP"]),
        cluster_ip("c", "c9", &["10.97.0.2"], &["http:80/TCP"]),
        Event { change: Change::Delete, kind: Kind::Service, object: gone.as_bytes().to_vec() },
        upsert(Kind::Namespace, r#"{"metadata":{"name":"bb"}}"#.into()),
        cluster_ip("bb", "x", &["10.97.0.3"], &["http:80/TCP"]),
    ];
    let touched = |line: &str| ["a0.a.svc.", "c9.c.svc.", "mid.b.svc.", "x.bb.svc."].iter().any(|t| line.contains(t));
    let count = |lines: &[String], line: &str| lines.iter().filter(|l| *l == line).count();

    let whole = |apply: bool| {
        let mut native = Native::default();
        changing_cluster().load(&mut native);
        if apply {
            native.core().apply(0, conformance::NOW + 100, &changes);
        }
        records(&conformance::transfer_all(&mut native, "cluster.local.", 0).unwrap())
    };
    let (before, after) = (whole(false), whole(true));
    for budget in [1, 2, 3, 5, 8] {
        for change_after in 1..8 {
            let mut native = Native::default();
            changing_cluster().load(&mut native);
            let core = native.core();
            let (mut got, mut cursor, mut pages) = (Vec::new(), Vec::new(), 0);
            loop {
                let page = core.transfer_in_pages_of("cluster.local.", 0, &cursor, budget).unwrap().unwrap();
                got.extend(records(&page.messages));
                pages += 1;
                if pages == change_after {
                    assert_eq!(core.apply(0, conformance::NOW + 100, &changes).skipped, 0);
                }
                match page.next {
                    Some(next) => cursor = next,
                    None => break,
                }
            }
            let case = format!("pages of {budget}, changed after page {change_after}");
            // The last SOA is the first one: the serial the transfer began with.
            assert_eq!(got.first(), got.last(), "{case}");
            assert_eq!(got.first(), before.first(), "{case}");
            for line in before.iter().chain(&after) {
                let n = count(&got, line);
                if touched(line) {
                    assert!(n <= count(&before, line).max(count(&after, line)), "{case}: {line} {n} times");
                } else {
                    assert_eq!(n, count(&before, line), "{case}: {line}");
                }
            }
            assert!(got.iter().all(|l| before.contains(l) || after.contains(l)), "{case}");
        }
    }
}

#[test]
fn bad_cursors_are_errors() {
    let mut native = Native::default();
    changing_cluster().load(&mut native);
    let core = native.core();
    let first = core.transfer_in_pages_of("cluster.local.", 0, &[], 3).unwrap().unwrap();
    let cursor = first.next.expect("more than one page");
    assert!(core.transfer("cluster.local.", 0, &cursor).unwrap().is_some());
    for bad in [b"garbage".to_vec(), cursor[..cursor.len() - 1].to_vec(), [cursor.clone(), vec![0]].concat()] {
        let err = core.transfer("cluster.local.", 0, &bad).unwrap_err();
        assert!(err.contains("not a cursor this core gave"), "{err}");
    }
    // A zone no stanza serves has no transfer, cursor or not.
    assert_eq!(core.transfer("other.local.", 0, &cursor), Ok(None));
}

/// A cluster set's SOA serial is the largest of its members': a change in
/// any member moves it, in answers, transfers and the serials Apply
/// reports (which the host turns into NOTIFY), whichever member changed.
#[test]
fn set_serial_is_the_members_largest() {
    use conformance::fixture::namespace;

    let mut core = new_core();
    conformance::sets::set().load(core.as_mut());
    let now = conformance::NOW;
    let report = core.apply(1, now + 100, &[namespace("late")]);
    let zone =
        |r: &kubernetai::contract::ApplyReport| r.serials.iter().find(|z| z.zone == "cluster.local.").map(|z| z.serial);
    assert_eq!(zone(&report), Some((now + 100) as u32), "the changed member reports the set's serial");
    let report = core.apply(0, now + 50, &[namespace("later")]);
    assert_eq!(zone(&report), Some((now + 100) as u32), "an older change elsewhere leaves the set's serial");
    let soa = conformance::resolve(
        core.as_mut(),
        &conformance::case("sets", conformance::sets::set, "cluster.local.", hickory_proto::rr::RecordType::SOA, ""),
    );
    assert!(soa.contains(&format!(" {} 7200 ", now + 100)), "{soa}");
    let messages = conformance::transfer_all(core.as_mut(), "cluster.local.", 0).unwrap();
    let listing = records(&messages);
    assert!(listing.first().unwrap().contains(&format!(" {} 7200 ", now + 100)), "{listing:?}");
    assert_eq!(listing.first(), listing.last());
}

/// A zone a fallthrough chain serves has the largest of its stanzas'
/// serials too: a change in the second stanza reaches the SOA of answers
/// and the serials both stanzas report.
#[test]
fn chain_serial_is_the_stanzas_largest() {
    use conformance::fixture::namespace;

    let mut core = new_core();
    conformance::chain::same_zone_fallthrough().load(core.as_mut());
    let now = conformance::NOW;
    let zone =
        |r: &kubernetai::contract::ApplyReport| r.serials.iter().find(|z| z.zone == "cluster.local.").map(|z| z.serial);
    let report = core.apply(1, now + 100, &[namespace("late")]);
    assert_eq!(zone(&report), Some((now + 100) as u32), "the second stanza reports the zone's serial");
    let report = core.apply(0, now + 50, &[namespace("later")]);
    assert_eq!(zone(&report), Some((now + 100) as u32), "so does the first");
    let nx = conformance::resolve(
        core.as_mut(),
        &conformance::case(
            "chain",
            conformance::chain::same_zone_fallthrough,
            "nope.shop.svc.cluster.local.",
            hickory_proto::rr::RecordType::A,
            "",
        ),
    );
    assert!(nx.contains(&format!(" {} 7200 ", now + 100)), "{nx}");
}
