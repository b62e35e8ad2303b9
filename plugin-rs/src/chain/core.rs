//! The whole core: the chain of real stanzas, configured from the
//! Corefile and fed with objects.

use super::{Chain, Host};
use crate::cluster::index::Seeded;
use crate::contract::{
    ApplyReport, Change, ConfigError, Configuration, Event, HostInfo, MetadataEntry, Outcome, Stanza as StanzaInput,
    TransferPage, UpstreamReply,
};
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
        Ok((Kubernetai { chain: Chain::new(stanzas) }, configuration))
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
                    let verb = if event.change == Change::Delete { "delete" } else { "upsert" };
                    report.problems.push(format!("{verb} skipped: {}", problem.0));
                }
            }
        }
        report.serials = s.serials();
        report
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
