//! The WIT contract (`wit/kubernetai.wit`) as plain Rust types.
//!
//! The core is written against these so it runs natively in tests and
//! benchmarks; `guest.rs` converts them to and from the generated bindings.

use std::fmt;

/// One option line inside a `kubernetai` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub args: Vec<String>,
    pub line: u32,
}

/// One `kubernetai` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaInput {
    pub zones: Vec<String>,
    pub properties: Vec<Property>,
    pub line: u32,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub stanza: u32,
    pub line: u32,
    pub property: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stanza {} (line {})", self.stanza + 1, self.line)?;
        if !self.property.is_empty() {
            write!(f, ": {}", self.property)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Kinds of Kubernetes objects the core reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Service,
    EndpointSlice,
    Pod,
    ServiceImport,
    MulticlusterEndpointSlice,
}

/// What the host must watch to feed one stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub zones: Vec<String>,
    pub kinds: Vec<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Upsert,
    Delete,
}

/// One object event: the object as the API serialises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub change: Change,
    pub kind: Kind,
    pub object: Vec<u8>,
}

/// What the host knows of its machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostInfo {
    /// Addresses CoreDNS listens on.
    pub local_ips: Vec<String>,
    /// The resolv.conf search list.
    pub search: Vec<String>,
}

/// A zone and its SOA serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSerial {
    pub zone: String,
    pub serial: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: u32,
    pub skipped: u32,
    pub problems: Vec<String>,
    /// Serials of the zones the stanza transfers.
    pub serials: Vec<ZoneSerial>,
}

/// A name the core needs resolved by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamQuery {
    pub name: String,
    pub qtype: u16,
}

/// The host's reply to an upstream query; an empty message means the
/// lookup failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamReply {
    pub name: String,
    pub qtype: u16,
    pub message: Vec<u8>,
}

/// A message for the client and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub message: Vec<u8>,
    /// The stanza that answered.
    pub stanza: u32,
    /// Bit i: stanza i passed the name on with `fallthrough` first.
    pub fell_through: u64,
}

/// One `metadata` plugin value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry {
    pub key: String,
    pub value: String,
}

/// What to do with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Write this message to the client.
    Answer(Answer),
    /// Hand the query to the next plugin; bit i: stanza i passed it on.
    Fallthrough(u64),
    /// Resolve these, then ask again with the replies.
    Upstream(Vec<UpstreamQuery>),
    /// Write nothing; CoreDNS answers with this response code.
    Rcode(u8),
}
