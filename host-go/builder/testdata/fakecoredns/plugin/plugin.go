// Package plugin fakes CoreDNS's plugin registry.
package plugin

// Registered holds the names passed to Register, in order.
var Registered []string

// Register records a plugin name.
func Register(name string) { Registered = append(Registered, name) }
