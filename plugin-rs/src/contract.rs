//! The contract, `wit/kubernetai.wit`, as wit-bindgen generates it: the
//! core is written against these types natively and in wasm alike, so a
//! field added to a WIT record is added here by the generator, and only the
//! code that uses it changes. `guest.rs` binds the generated exports.
//!
//! PartialEq lets tests compare values; serde lets the component tests
//! carry them to and from wasmtime's own generated types field by field,
//! by name, with no hand-written mirror.

wit_bindgen::generate!({
    path: "../wit",
    world: "kubernetai",
    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
});

pub use exports::coredns::kubernetai::core::*;
