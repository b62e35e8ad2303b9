//go:build kubernetai_register

// Package kubernetai fakes a plugin whose registration is compiled only
// with a build tag: its source names the plugin, but a plain build does not
// register it, so only the smoke check can tell.
package kubernetai

import "github.com/coredns/coredns/plugin"

func init() { plugin.Register("kubernetai") }
