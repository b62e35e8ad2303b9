//! The DNS core of kubernetai.
//!
//! kubernetai answers DNS for many Kubernetes clusters from one CoreDNS:
//! each `kubernetai` stanza of a Corefile is one cluster, with every option
//! of CoreDNS's kubernetes plugin. This crate makes every DNS decision —
//! option semantics, the object index, names, answers, the stanza chain and
//! zone transfers — and is compiled to a WebAssembly component that the Go
//! plugin loads (see `wit/kubernetai.wit` for the contract).
//!
//! [`Kubernetai`] is the whole core; natively it is used directly by tests
//! and benchmarks, and in wasm through the generated bindings (`guest`).

mod answers;
mod autopath;
mod chain;
pub mod config;
pub mod contract;
mod index;
mod metadata;
pub mod name;
mod names;
mod objects;
mod transfer;
pub mod wire;
mod zones;

#[cfg(target_arch = "wasm32")]
mod guest;

pub use answers::{Served, Upstream};
pub use chain::{Chain, Cluster, Host, Kubernetai};
pub use contract::*;
pub use wire::{Query, Record, Response};
