// Package kubernetai is the CoreDNS plugin that serves DNS for many
// Kubernetes clusters. All DNS logic lives in a WebAssembly component (the
// Rust core in plugin-rs), which also reads every option of the Corefile;
// this package hands it the Corefile's tokens, runs the sources of
// Kubernetes objects its configuration asks for, feeds it their objects,
// and answers queries and zone transfers through it. The engine that runs
// the component and the feeds are under internal/.
package kubernetai
