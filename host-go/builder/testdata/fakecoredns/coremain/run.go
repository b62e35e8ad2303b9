// Package coremain fakes CoreDNS's main function.
package coremain

import (
	"flag"
	"fmt"
	"runtime"
	"strings"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
)

// GitCommit is set by the builder with -ldflags -X.
var GitCommit string

// Run answers -plugins and -version like CoreDNS, and -directives with the
// plugin chain so tests can see where kubernetai landed.
func Run() {
	plugins := flag.Bool("plugins", false, "")
	version := flag.Bool("version", false, "")
	directives := flag.Bool("directives", false, "")
	flag.Parse()
	switch {
	case *plugins:
		fmt.Println(strings.Join(plugin.Registered, "\n"))
	case *version:
		fmt.Printf("CoreDNS-fake\n%s/%s, %s, %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version(), GitCommit)
	case *directives:
		fmt.Println(strings.Join(dnsserver.Directives, " "))
	}
}
