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
