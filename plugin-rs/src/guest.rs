//! The component's exports: the WIT interface, bound to [`Kubernetai`].
//! The core works in the contract's own types (see `contract`), so each
//! export only finds the state and hands its arguments over.
//!
//! A wasm instance runs one call at a time, so the state lives in a
//! thread-local cell; the host keeps one full replica per instance.

use std::cell::RefCell;

use crate::Kubernetai;
use crate::contract::{
    self as c, ApplyReport, ConfigError, Configuration, Event, HostInfo, MetadataEntry, Outcome, TransferPage,
    UpstreamReply,
};

thread_local! {
    static STATE: RefCell<Option<Kubernetai>> = const { RefCell::new(None) };
}

struct Component;

c::export!(Component with_types_in c);

impl c::Guest for Component {
    fn configure(stanzas: Vec<c::Stanza>, hash_seed: u64) -> Result<Configuration, ConfigError> {
        let (core, configuration) = Kubernetai::configure(&stanzas, hash_seed)?;
        STATE.with(|s| *s.borrow_mut() = Some(core));
        Ok(configuration)
    }

    fn set_host(info: HostInfo) {
        with_core(|core| core.set_host(&info));
    }

    fn apply(stanza: u32, now: i64, events: Vec<Event>) -> ApplyReport {
        let count = events.len() as u32;
        with_core(|core| core.apply(stanza, now, &events)).unwrap_or_else(|| ApplyReport {
            applied: 0,
            skipped: count,
            problems: vec!["not configured".into()],
            serials: Vec::new(),
        })
    }

    fn set_synced(stanza: u32, synced: bool) {
        with_core(|core| core.set_synced(stanza, synced));
    }

    fn transfer(zone: String, serial: u32, cursor: Vec<u8>) -> Result<Option<TransferPage>, String> {
        with_core(|core| core.transfer(&zone, serial, &cursor)).unwrap_or(Ok(None))
    }

    fn autopath(qname: String, client: String) -> Option<Vec<String>> {
        with_core(|core| core.autopath(&qname, &client)).flatten()
    }

    fn metadata(qname: String, client: String) -> Vec<MetadataEntry> {
        with_core(|core| core.metadata(&qname, &client)).unwrap_or_default()
    }

    fn lookup(query: Vec<u8>, replies: Vec<UpstreamReply>) -> Outcome {
        #[cfg(feature = "swap-probe")]
        if let Some(answer) = probe::answer(&query) {
            return answer;
        }
        // Unconfigured, the core knows no zones: the query is not its own.
        with_core(|core| core.lookup(&query, &replies)).unwrap_or(Outcome::Fallthrough(0))
    }
}

fn with_core<T>(f: impl FnOnce(&mut Kubernetai) -> T) -> Option<T> {
    STATE.with(|s| s.borrow_mut().as_mut().map(f))
}

/// The `swap-probe` build's one difference from the real core, so that a
/// test can tell which build is serving: `build.kubernetai. TXT`, a name
/// outside every zone that the real core passes on, is answered with the
/// TXT record "swap-probe".
#[cfg(feature = "swap-probe")]
mod probe {
    use crate::contract::{Answer, Outcome};
    use crate::dns::{Name, Owner, RData, Record, RecordType, Response, message};

    pub const NAME: &str = "build.kubernetai.";
    pub const TEXT: &[u8] = b"swap-probe";

    pub fn answer(query: &[u8]) -> Option<Outcome> {
        let q = message::parse_query(query).ok()?;
        let probe = Name::parse(NAME).ok()?;
        if q.qtype != RecordType::Txt || !q.qname.eq_ignore_case(&probe) {
            return None;
        }
        let response = Response {
            authoritative: true,
            answer: vec![Record::new(Owner::Question, 0, RData::Txt(vec![TEXT.to_vec()]))],
            ..Response::default()
        };
        Some(Outcome::Answer(Answer { message: response.encode(&q), stanza: 0, fell_through: 0, clusters: 0 }))
    }
}

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
