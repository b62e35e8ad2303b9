//! What the options mean once read: each stanza's configuration, the
//! server block's runtime, and the values options take when not given.

use std::collections::BTreeSet;

use super::duration::Duration;
use super::selector::Selector;
use crate::contract::{Runtime, Source};
use crate::dns::Name;

/// Answer TTL when `ttl` is not given, as the kubernetes plugin's.
pub const DEFAULT_TTL: u32 = 5;
/// `startup_timeout` when not given, as the kubernetes plugin's.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// `wasm_timeout`, `wasm_memory` and `notify_interval` when not given.
pub const DEFAULT_WASM_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_WASM_MEMORY: u64 = 256 << 20;
pub const DEFAULT_NOTIFY_INTERVAL: Duration = Duration::from_secs(5);

/// How pod names (`a-b-c-d.ns.pod.zone`) are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodMode {
    Disabled,
    Insecure,
    Verified,
}

/// One stanza's options, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StanzaConfig {
    /// Lower-case zones, in Corefile order.
    pub zones: Vec<Name>,
    /// Index in `zones` of the first forward (non-reverse) zone: PTR
    /// targets live under it.
    pub primary: usize,
    /// Exposed namespaces; empty exposes all.
    pub namespaces: BTreeSet<String>,
    pub pods: PodMode,
    pub endpoint_pod_names: bool,
    pub ttl: u32,
    /// False with `noendpoints`.
    pub endpoints: bool,
    /// Zones whose misses go on down the chain; empty when off.
    pub fallthrough: Vec<Name>,
    pub ignore_empty_service: bool,
    pub multicluster: Vec<Name>,
    pub zonal: bool,
    /// `labels`: selects Services, EndpointSlices and Pods.
    pub labels: Option<Selector>,
    /// `namespace_labels`: selects Namespaces (and ServiceImports).
    pub namespace_labels: Option<Selector>,
    pub source: Source,
    /// Line of the option that chose the source, else of the stanza.
    pub source_line: u32,
    pub startup_timeout: Duration,
    /// `cluster NAME`, unique in the server block.
    pub cluster: Option<String>,
    /// `clusterset`: zones answered together with the other stanzas naming
    /// them (lower case; empty when off).
    pub clusterset: Vec<Name>,
}

impl StanzaConfig {
    /// A stanza with these zones and every option at its default.
    pub(super) fn new(zones: Vec<Name>, primary: usize) -> StanzaConfig {
        StanzaConfig {
            zones,
            primary,
            namespaces: BTreeSet::new(),
            pods: PodMode::Disabled,
            endpoint_pod_names: false,
            ttl: DEFAULT_TTL,
            endpoints: true,
            fallthrough: Vec::new(),
            ignore_empty_service: false,
            multicluster: Vec::new(),
            zonal: false,
            labels: None,
            namespace_labels: None,
            source: Source::Snapshot(String::new()),
            source_line: 0,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            cluster: None,
            clusterset: Vec::new(),
        }
    }

    pub fn primary_zone(&self) -> &Name {
        &self.zones[self.primary]
    }

    /// Whether a miss for `name` falls through.
    pub fn falls_through(&self, name: &Name) -> bool {
        self.fallthrough.iter().any(|z| name.is_subdomain_of(z))
    }

    pub fn is_multicluster_zone(&self, zone: &Name) -> bool {
        self.multicluster.iter().any(|z| zone.is_subdomain_of(z))
    }
}

/// A server block's options: each stanza's, and the runtime's.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub stanzas: Vec<StanzaConfig>,
    pub runtime: Runtime,
}

/// The runtime options as they are when none is given.
pub(super) fn default_runtime() -> Runtime {
    Runtime {
        wasm: String::new(),
        wasm_line: 0,
        pool: 0,
        wasm_timeout_ns: DEFAULT_WASM_TIMEOUT.nanos(),
        wasm_memory: DEFAULT_WASM_MEMORY,
        notify_interval_ns: DEFAULT_NOTIFY_INTERVAL.nanos(),
    }
}
