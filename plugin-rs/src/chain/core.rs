//! The whole core: the chain of real stanzas, configured from the
//! Corefile and fed with objects.

use super::{Chain, Host};
use crate::cluster::seeded::Seeded;
use crate::contract::{
    ApplyReport, Change, ConfigError, Configuration, Event, HostInfo, MetadataEntry, Outcome, Stanza as StanzaInput,
    TransferPage, UpstreamReply, ZoneSerial,
};
use crate::dns::Name;
use crate::options;
use crate::stanza::{PAGE_RECORDS, Stanza};

/// The whole core: the chain of real stanzas.
#[derive(Debug)]
pub struct Kubernetai {
    chain: Chain<Stanza>,
}

impl Kubernetai {
    /// Validates the stanzas and starts each with no objects, unsynced;
    /// returns what the host must do to feed them, and the runtime options.
    pub fn configure(inputs: &[StanzaInput], hash_seed: u64) -> Result<(Kubernetai, Configuration), ConfigError> {
        let options = options::parse(inputs)?;
        let seed = Seeded::new(hash_seed);
        let stanzas: Vec<Stanza> = options.stanzas.into_iter().map(|c| Stanza::new(c, seed)).collect();
        let configuration =
            Configuration { stanzas: stanzas.iter().map(Stanza::plan).collect(), runtime: options.runtime };
        let mut chain = Chain::new(stanzas);
        chain.seed = seed;
        chain.sets = chain.stanzas.iter().any(|s| !s.config.clusterset.is_empty());
        let zones = chain.stanzas.iter().flat_map(|s| s.config.zones.iter());
        chain.shared_zones =
            zones.filter(|z| chain.stanzas.iter().filter(|s| s.transfers(z)).count() > 1).cloned().collect();
        chain.shared_zones.sort();
        chain.shared_zones.dedup();
        Ok((Kubernetai { chain }, configuration))
    }

    /// Sets what the host knows of its machine. Unparsable and loopback
    /// addresses are ignored, as the kubernetes plugin ignores them.
    pub fn set_host(&mut self, info: &HostInfo) {
        self.chain.host = Host::from_info(info);
    }

    pub fn set_synced(&mut self, stanza: u32, synced: bool) {
        if let Some(s) = self.chain.stanzas.get_mut(stanza as usize) {
            s.synced = synced;
        }
    }

    /// Applies events to one stanza, in order (see `Index::apply`: objects
    /// its selection leaves out are removed, kinds it does not read are
    /// ignored); objects that cannot be read are reported and skipped.
    pub fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport {
        let mut report = ApplyReport { applied: 0, skipped: 0, problems: Vec::new(), serials: Vec::new() };
        let Some(s) = self.chain.stanzas.get_mut(stanza as usize) else {
            report.skipped = events.len() as u32;
            // Numbered from 1, as every message for a person numbers them.
            let configured = self.chain.stanzas.len();
            report.problems.push(format!("no stanza {} ({configured} configured)", u64::from(stanza) + 1));
            return report;
        };
        for event in events {
            match s.index.apply(now, event) {
                Ok(()) => report.applied += 1,
                Err(problem) => {
                    report.skipped += 1;
                    // An unreadable version never becomes a deletion: the
                    // index keeps what it held (see `Index::apply`).
                    let skipped = match event.change {
                        Change::Delete => "delete skipped, nothing removed",
                        Change::Upsert => "upsert skipped, any version held before still answers",
                    };
                    report.problems.push(format!("{skipped}: {}", problem.0));
                }
            }
        }
        report.serials = self.serials_of(stanza as usize);
        report
    }

    /// The serials a stanza's changes speak for: of each zone it
    /// transfers, the serial answers and transfers give (a zone several
    /// stanzas serve has the largest of theirs, so the value moves
    /// whichever of them changed, and every one of them reports the same
    /// value). The host sends NOTIFY when one changes.
    fn serials_of(&self, i: usize) -> Vec<ZoneSerial> {
        let stanza = &self.chain.stanzas[i];
        let mut serials = stanza.serials();
        for z in &mut serials {
            let Ok(zone) = Name::parse(&z.zone) else { continue };
            if stanza.config.clusterset.contains(&zone) {
                z.serial = self.chain.set_serial(&zone, &self.chain.members(&zone));
            } else if let Some(shared) = self.chain.shared_serial(&zone) {
                z.serial = shared;
            }
        }
        serials
    }

    /// A page of a zone transfer, of at most about `PAGE_RECORDS` records.
    pub fn transfer(&self, zone: &str, serial: u32, cursor: &[u8]) -> Result<Option<TransferPage>, String> {
        self.chain.transfer(zone, serial, cursor, PAGE_RECORDS)
    }

    /// A page of a zone transfer of about `records` records: the same
    /// transfer as `transfer`'s, cut elsewhere (for tests of the cuts).
    pub fn transfer_in_pages_of(
        &self,
        zone: &str,
        serial: u32,
        cursor: &[u8],
        records: usize,
    ) -> Result<Option<TransferPage>, String> {
        self.chain.transfer(zone, serial, cursor, records)
    }

    pub fn autopath(&self, qname: &str, client: &str) -> Option<Vec<String>> {
        self.chain.autopath(qname, client)
    }

    pub fn metadata(&self, qname: &str, client: &str) -> Vec<MetadataEntry> {
        self.chain.metadata(qname, client)
    }

    pub fn lookup(&self, message: &[u8], replies: &[UpstreamReply]) -> Outcome {
        self.chain.lookup(message, replies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Change, Kind, Property};

    fn upsert(kind: Kind, json: &str) -> Event {
        Event { change: Change::Upsert, kind, object: json.as_bytes().to_vec() }
    }

    /// The addresses `name` answers with, from the core's own bytes.
    fn addresses(core: &Kubernetai, name: &str) -> Vec<String> {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::rr::{Name, RecordType};
        use hickory_proto::serialize::binary::BinDecodable;
        let mut q = Message::query();
        q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        match core.lookup(&q.to_vec().unwrap(), &[]) {
            Outcome::Answer(a) => {
                Message::from_bytes(&a.message).unwrap().answers.iter().map(|r| r.data.to_string()).collect()
            }
            other => panic!("{name}: {other:?}"),
        }
    }

    /// A new version the core cannot read, or that lacks what DNS needs,
    /// is skipped and reported, naming the object and the reason, each
    /// time it comes; the version held before goes on answering.
    #[test]
    fn unreadable_versions_keep_the_held_one() {
        let stanza = crate::options::stanza(&["cluster.local"], &[("pods", &["verified"])]);
        let (mut core, _) = Kubernetai::configure(&[stanza], 1).unwrap();
        let svc = |spec: &str| format!(r#"{{"metadata":{{"name":"web","namespace":"shop"}},"spec":{spec}}}"#);
        let slice = |labels: &str, ip: &str| {
            format!(
                r#"{{"metadata":{{"name":"db-a","namespace":"shop","labels":{{{labels}}}}},
                   "addressType":"IPv4","endpoints":[{{"addresses":["{ip}"]}}]}}"#
            )
        };
        let own = r#""kubernetes.io/service-name":"db""#;
        let pod = |ip: &str| {
            format!(r#"{{"metadata":{{"name":"p","namespace":"shop"}},"status":{{"podIPs":[{{"ip":"{ip}"}}]}}}}"#)
        };
        let good = [
            upsert(Kind::Namespace, r#"{"metadata":{"name":"shop"}}"#),
            upsert(Kind::Service, &svc(r#"{"clusterIP":"10.0.0.1"}"#)),
            upsert(Kind::Service, r#"{"metadata":{"name":"db","namespace":"shop"},"spec":{"clusterIP":"None"}}"#),
            upsert(Kind::EndpointSlice, &slice(own, "10.1.0.1")),
            upsert(Kind::Pod, &pod("10.2.0.1")),
        ];
        assert_eq!(core.apply(0, 1, &good).skipped, 0);
        let held = |core: &Kubernetai| {
            [
                addresses(core, "web.shop.svc.cluster.local."),
                addresses(core, "db.shop.svc.cluster.local."),
                addresses(core, "10-2-0-1.shop.pod.cluster.local."),
            ]
        };
        let before = held(&core);
        assert_eq!(before, [["10.0.0.1"], ["10.1.0.1"], ["10.2.0.1"]]);
        // (new version, what its problem must say)
        let bad = [
            (upsert(Kind::Service, &svc(r#"{"clusterIP":"banana"}"#)), "service shop/web: cluster IPs"),
            (upsert(Kind::Service, &svc(r#"{"clusterIP":7}"#)), "service shop/web: cannot decode"),
            (upsert(Kind::Service, &svc("{}")), "service shop/web: cluster IPs"),
            (
                upsert(Kind::EndpointSlice, &slice("", "10.1.0.9")),
                "endpointslice shop/db-a: no kubernetes.io/service-name",
            ),
            (upsert(Kind::EndpointSlice, &slice(own, "nope")), "endpointslice shop/db-a: address \"nope\""),
            (upsert(Kind::Pod, &pod("10.2.0.x")), "pod shop/p: pod IP \"10.2.0.x\""),
            (upsert(Kind::Service, r#"{"metadata":{"namespace":"shop"}}"#), "service in namespace shop without a name"),
        ];
        for (event, want) in &bad {
            for time in [2, 3] {
                let report = core.apply(0, time, std::slice::from_ref(event));
                assert_eq!((report.applied, report.skipped), (0, 1), "{want}");
                assert_eq!(report.problems.len(), 1, "{want}");
                let problem = &report.problems[0];
                assert!(problem.starts_with("upsert skipped") && problem.contains(want), "{problem}");
                assert_eq!(held(&core), before, "{want}");
                assert_eq!(report.serials[0].serial, 1, "{want}: the serial moved");
            }
        }
    }

    #[test]
    fn messages_number_stanzas_from_one() {
        let stanza = StanzaInput {
            zones: vec!["cluster.local".into()],
            properties: vec![Property { name: "ttl".into(), args: vec![], line: 2 }],
            line: 1,
        };
        let err = Kubernetai::configure(&[stanza.clone(), stanza.clone()], 1).unwrap_err();
        // The contract's index is 0-based; its people-facing reasons are not.
        assert_eq!(err.stanza, 0);
        let ok = StanzaInput { properties: Vec::new(), ..stanza };
        let (mut core, _) = Kubernetai::configure(&[ok], 1).unwrap();
        let event =
            Event { change: Change::Upsert, kind: Kind::Namespace, object: br#"{"metadata":{"name":"a"}}"#.to_vec() };
        let report = core.apply(1, 1, &[event]);
        assert_eq!((report.applied, report.skipped), (0, 1));
        assert_eq!(report.problems, vec!["no stanza 2 (1 configured)".to_string()]);
    }
}
