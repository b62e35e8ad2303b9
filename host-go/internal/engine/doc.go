// Package engine runs the kubernetai DNS core, a WebAssembly component,
// with wazero.
//
// wazero has no Component Model, so Compile takes the single core module
// out of the component binary, checks that its exports are those of
// WITInterface with the canonical-ABI signatures, and this package calls
// them directly: hand-written canonical ABI glue (abi.go, instance.go)
// lowers arguments through the guest's cabi_realloc, reads results from
// the return area and releases them with the matching cabi_post_*.
//
// An instance is one wazero module instance: single-threaded, with its own
// copy of the core's state. An Engine keeps a pool of them, each a full
// replica: queries borrow any idle instance, state changes reach every
// instance, and an instance whose call fails is replaced by a fresh one
// into which the Engine replays the state it mirrors on the Go side.
//
// A guest call that runs too long is cut off without per-call cost:
// Compile instruments the core module so that it yields to Go now and
// then and traps once the host sets an exported global (instrument.go),
// and each Module's watchdog goroutine sets that global for calls past
// their deadline (watchdog.go).
package engine
