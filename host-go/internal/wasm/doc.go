// Package wasm reads and rewrites WebAssembly binaries for the engine:
// it takes the one core module out of a component (wazero runs core
// modules only) and instruments that module so that a guest call can be
// cut off (Instrument). It knows the binary formats, not the contract:
// what the core exports is the engine's business.
package wasm
