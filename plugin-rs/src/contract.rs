//! The contract, `wit/kubernetai.wit`, as wit-bindgen generates it: the
//! core is written against these types natively and in wasm alike, so a
//! field added to a WIT record is added here by the generator, and only the
//! code that uses it changes. `guest.rs` binds the generated exports.
//!
//! PartialEq lets tests compare values; serde lets the component tests
//! carry them to and from wasmtime's own generated types field by field,
//! by name, with no hand-written mirror.
//!
//! Adding a field to a WIT record, on the Rust side, touches:
//!
//! 1. `wit/kubernetai.wit`;
//! 2. the code that fills or reads the field: for a record the core
//!    returns, where it is built (`Stanza::plan` for `stanza-plan`,
//!    `options::config::default_runtime` and an option's reader in
//!    `options/table.rs` for `runtime`, `options/source.rs` for
//!    `connection`, `Kubernetai::apply` for `apply-report`, ...); for a
//!    record the host sends, where the core uses it;
//! 3. nothing else but the struct literals the compiler then lists (tests
//!    that spell a whole record out); `guest.rs`, `tests/component.rs` and
//!    the bench convert nothing by hand.

wit_bindgen::generate!({
    path: "../wit",
    world: "kubernetai",
    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
});

pub use exports::coredns::kubernetai::core::*;
