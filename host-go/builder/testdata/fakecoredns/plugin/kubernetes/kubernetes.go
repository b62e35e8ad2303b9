// Package kubernetes fakes the kubernetes plugin.
package kubernetes

import "github.com/coredns/coredns/plugin"

func init() { plugin.Register("kubernetes") }
