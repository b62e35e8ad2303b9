// Package kubernetai fakes the plugin: it only registers its name.
package kubernetai

import "github.com/coredns/coredns/plugin"

func init() { plugin.Register("kubernetai") }
