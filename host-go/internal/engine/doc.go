// Package engine runs the kubernetai DNS core, a WebAssembly component,
// with wazero.
//
// wazero has no Component Model, so Compile takes the single core module
// out of the component binary (internal/wasm), checks that its exports are
// those of WITInterface with their canonical-ABI signatures, and this
// package calls them directly. The canonical ABI glue is generated from
// the WIT (wit_gen.go, by internal/witgen): the contract's types, one
// method per function that checks and lowers its arguments through the
// guest's cabi_realloc, calls the export, lifts the result from the return
// area and frees it with the matching cabi_post_*. abi.go holds what the
// generated code builds on.
//
// An instance is one wazero module instance: single-threaded, with its own
// copy of the core's state. An Engine keeps a pool of them, each a full
// replica: queries borrow any idle instance, state changes reach every
// instance, and an instance whose call fails is replaced by a fresh one
// into which the Engine replays the state it mirrors on the Go side.
// SwapComponent replaces the whole pool with one of another module.
//
// A guest call that runs too long is cut off without per-call cost: the
// core module is instrumented so that it yields to Go now and then and
// traps once the host sets an exported global (wasm.Instrument), and each
// Module's watchdog goroutine sets that global for calls past their
// deadline (watchdog.go). RATIONALE.md says why it is built this way.
package engine
