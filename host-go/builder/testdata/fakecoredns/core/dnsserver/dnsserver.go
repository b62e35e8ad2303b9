// Package dnsserver fakes CoreDNS's plugin chain.
package dnsserver

// Directives is a short plugin chain in CoreDNS's order.
var Directives = []string{"log", "kubernetes", "forward"}
