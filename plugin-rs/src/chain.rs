//! The stanza chain: every cluster of a server block, in Corefile order.
//!
//! A query goes to the first stanza whose zones hold its name. A name that
//! does not exist there goes on to the next stanza only when that stanza's
//! `fallthrough` covers it; after the last stanza, to the next CoreDNS
//! plugin. Otherwise the miss is NXDOMAIN, or SERVFAIL while the stanza has
//! not synced (as the kubernetes plugin answers before its first sync).

use std::net::IpAddr;

use crate::answers::{Served, Stanza, Upstream};
use crate::config;
use crate::contract::{ApplyReport, Change, ConfigError, Event, Outcome, Plan, StanzaInput, UpstreamReply};
use crate::index::Seeded;
use crate::name::Name;
use crate::wire::{self, Response};

/// Records per message of a zone transfer handed to the host.
const TRANSFER_BATCH: usize = 500;

/// All stanzas of one server block.
#[derive(Debug)]
pub struct Kubernetai {
    stanzas: Vec<Stanza>,
    local_ips: Vec<IpAddr>,
}

impl Kubernetai {
    /// Validates the stanzas and starts each with no objects, unsynced.
    pub fn configure(inputs: &[StanzaInput], hash_seed: u64) -> Result<(Kubernetai, Vec<Plan>), ConfigError> {
        let configs = config::parse(inputs)?;
        let plans = configs.iter().map(config::StanzaConfig::plan).collect();
        let seed = Seeded::new(hash_seed);
        let stanzas = configs.into_iter().map(|c| Stanza::new(c, seed)).collect();
        Ok((Kubernetai { stanzas, local_ips: Vec::new() }, plans))
    }

    /// Sets the addresses CoreDNS listens on; unparsable and loopback ones
    /// are ignored, as the plugin ignores them.
    pub fn set_local_ips(&mut self, ips: &[String]) {
        self.local_ips = ips
            .iter()
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .filter(|ip| !ip.is_loopback())
            .collect();
    }

    pub fn set_synced(&mut self, stanza: u32, synced: bool) {
        if let Some(s) = self.stanzas.get_mut(stanza as usize) {
            s.synced = synced;
        }
    }

    /// Applies events to one stanza; undecodable objects are reported and
    /// skipped, the rest applied.
    pub fn apply(&mut self, stanza: u32, now: i64, events: &[Event]) -> ApplyReport {
        let mut report = ApplyReport::default();
        let Some(s) = self.stanzas.get_mut(stanza as usize) else {
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
        report.serial = s.index.serial;
        report
    }

    /// The transfer of `zone` by the first stanza serving it, in messages
    /// of at most a few hundred records each.
    pub fn transfer(&self, zone: &str, serial: u32) -> Option<Vec<Vec<u8>>> {
        let zone = Name::parse(zone).ok()?.to_lowercase();
        let stanza = self.stanzas.iter().find(|s| s.transfers(&zone))?;
        let records = stanza.transfer(&zone, serial, &self.local_ips);
        Some(records.chunks(TRANSFER_BATCH).map(Response::encode_records).collect())
    }

    /// Answers one query through the chain.
    pub fn lookup(&self, message: &[u8], replies: &[UpstreamReply]) -> Outcome {
        let query = match wire::parse_query(message) {
            Ok(q) => q,
            Err((Some(header), _)) => return Outcome::Answer(wire::encode_error(&header, wire::RCODE_FORMERR)),
            Err((None, _)) => return Outcome::Rcode(wire::RCODE_FORMERR),
        };
        let mut up = Upstream::new(replies);
        for stanza in &self.stanzas {
            match stanza.serve(&query, &mut up, &self.local_ips) {
                Served::NotInZone => continue,
                Served::NameError(_) if stanza.config.falls_through(&query.qname) => continue,
                Served::NameError(zone) => {
                    let rcode = if stanza.synced { wire::RCODE_NXDOMAIN } else { wire::RCODE_SERVFAIL };
                    return Outcome::Answer(stanza.negative(&zone, rcode).encode(&query));
                }
                Served::Respond(response) => return Outcome::Answer(response.encode(&query)),
                Served::Rcode(rcode) => return Outcome::Rcode(rcode),
                Served::Upstream(needed) => return Outcome::Upstream(needed),
            }
        }
        Outcome::Fallthrough
    }
}
