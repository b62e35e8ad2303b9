//! The conformance table against the core compiled natively.

mod conformance;

use conformance::Core;
use kubernetai::{
    ApplyReport, ConfigError, Event, HostInfo, Kubernetai, MetadataEntry, Outcome, Plan, StanzaInput, UpstreamReply,
};

#[derive(Default)]
struct Native(Option<Kubernetai>);

impl Native {
    fn core(&mut self) -> &mut Kubernetai {
        self.0.as_mut().expect("configured")
    }
}

impl Core for Native {
    fn configure(&mut self, stanzas: &[StanzaInput], seed: u64) -> Result<Vec<Plan>, ConfigError> {
        let (core, plans) = Kubernetai::configure(stanzas, seed)?;
        self.0 = Some(core);
        Ok(plans)
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
    fn transfer(&mut self, zone: &str, serial: u32) -> Option<Vec<Vec<u8>>> {
        self.core().transfer(zone, serial)
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
