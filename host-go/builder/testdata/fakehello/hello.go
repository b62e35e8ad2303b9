// Package hello fakes an external plugin: it only registers its name.
package hello

import "github.com/coredns/coredns/plugin"

const name = "hello"

func init() { plugin.Register(name) }
