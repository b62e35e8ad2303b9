//! The DNS core of kubernetai.
//!
//! kubernetai answers DNS for many Kubernetes clusters from one CoreDNS:
//! each `kubernetai` stanza of a Corefile is one cluster, with every option
//! of CoreDNS's kubernetes plugin. This crate makes every DNS decision —
//! option semantics, the object index, names, answers, the stanza chain and
//! zone transfers — and is compiled to a WebAssembly component that the Go
//! plugin loads (see `wit/kubernetai.wit` for the contract).
//!
//! Modules, each using only those listed before it:
//!
//! - `contract`: the types of the WIT contract;
//! - `dns`: wire names, messages, reverse names;
//! - `options`: the Corefile options, what each means and refuses;
//! - `cluster`: Kubernetes objects, decoded, trimmed and indexed;
//! - `stanza`: one cluster's answers, transfers, autopath and metadata;
//! - `chain`: the stanzas of a server block in order, and the whole core,
//!   [`Kubernetai`];
//! - `guest` (wasm only): the component's exports.

pub mod chain;
pub mod cluster;
pub mod contract;
pub mod dns;
pub mod options;
pub mod stanza;

#[cfg(target_arch = "wasm32")]
mod guest;

pub use chain::{Chain, Cluster, Host, Kubernetai};
pub use dns::{Query, Record, Response};
pub use stanza::{Served, Upstream};
