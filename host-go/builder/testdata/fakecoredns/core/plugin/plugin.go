// Package plugin fakes the import of every official plugin.
package plugin

import _ "github.com/coredns/coredns/plugin/kubernetes"
