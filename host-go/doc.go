// Package kubernetai is the CoreDNS plugin that serves DNS for many
// Kubernetes clusters. All DNS logic lives in a WebAssembly component (the
// Rust core in plugin-rs); this package parses the Corefile, feeds the core
// Kubernetes objects, and answers queries through it.
package kubernetai
