//! The whole core: the chain of real stanzas, configured from the
//! Corefile and fed with objects.

use super::{Chain, Host};
use crate::cluster::index::Seeded;
use crate::contract::{
    ApplyReport, Change, ConfigError, Event, HostInfo, MetadataEntry, Outcome, Plan, StanzaInput, UpstreamReply,
};
use crate::options;
use crate::stanza::Stanza;

/// The whole core: the chain of real stanzas.
#[derive(Debug)]
pub struct Kubernetai {
    chain: Chain<Stanza>,
}

impl Kubernetai {
    /// Validates the stanzas and starts each with no objects, unsynced.
    pub fn configure(inputs: &[StanzaInput], hash_seed: u64) -> Result<(Kubernetai, Vec<Plan>), ConfigError> {
        let configs = options::parse(inputs)?;
        let plans = configs.iter().map(options::StanzaConfig::plan).collect();
        let seed = Seeded::new(hash_seed);
        let stanzas = configs.into_iter().map(|c| Stanza::new(c, seed)).collect();
        Ok((Kubernetai { chain: Chain::new(stanzas) }, plans))
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

    /// Applies events to one stanza; undecodable objects are reported and
    /// skipped, the rest applied.
    pub fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport {
        let mut report = ApplyReport::default();
        let Some(s) = self.chain.stanzas.get_mut(stanza as usize) else {
            report.skipped = events.len() as u32;
            report.problems.push(format!("no stanza {stanza}"));
            return report;
        };
        for event in events {
            // Kinds the options do not call for (endpoints with
            // `noendpoints`, say) are ignored, whoever sends them.
            if !s.config.watches(event.kind) {
                report.applied += 1;
                continue;
            }
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

    pub fn transfer(&self, zone: &str, serial: u32) -> Option<Vec<Vec<u8>>> {
        self.chain.transfer(zone, serial)
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
