package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// A guest that traps, loops, eats memory or reads outside it costs the query SERVFAIL, is
// counted and logged, and its instance is replaced: the next queries are
// answered and CoreDNS stays up. The test guest misbehaves on query names
// whose first label is trap, loop, grow or oob.
func TestFaultIsolation(t *testing.T) {
	s, metrics := startWithMetrics(t, map[string]string{
		"Corefile": `.:{port} {
    bind 127.0.0.1
    kubernetai cluster.local {
        snapshot empty.yaml
        wasm guest.wasm
        pool 2
        wasm_timeout 200ms
        wasm_memory 32Mi
    }
    prometheus {metrics}
    errors
}
`,
		"empty.yaml": "apiVersion: v1\nkind: List\nitems: []\n",
		"guest.wasm": string(testGuest(t)),
	})
	failures := func() float64 {
		return swapMetric(t, metrics, `coredns_kubernetai_guest_failures_total{function="lookup",`+serverLabel(s)+`}`)
	}
	// An ordinary name: the test guest echoes the query (no records).
	answered := func(network, name string) {
		t.Helper()
		r := s.ask(t, network, name, dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || len(r.Question) != 1 || r.Question[0].Name != name {
			t.Fatalf("%s %s: rcode %s, question %v; want the guest's echo", network, name, dns.RcodeToString[r.Rcode], r.Question)
		}
	}
	answered("udp", "www.cluster.local.")
	for round := range 2 {
		for _, label := range []string{"trap", "loop", "grow", "oob"} {
			for _, network := range networks {
				name := fmt.Sprintf("%s.r%d.cluster.local.", label, round)
				before := failures()
				r := s.ask(t, network, name, dns.TypeA)
				if r.Rcode != dns.RcodeServerFailure {
					t.Errorf("%s %s: rcode %s, want SERVFAIL", network, name, dns.RcodeToString[r.Rcode])
				}
				if got := failures(); got != before+1 {
					t.Errorf("%s %s: guest_failures_total moved by %v, want 1", network, name, got-before)
				}
				// Both instances may be replacing: the next query waits
				// for one and is answered.
				answered(network, "www.cluster.local.")
				answered(network, fmt.Sprintf("after-%s.cluster.local.", label))
			}
		}
	}
	if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("CoreDNS is gone: %v", err)
	}
	out := s.out.String()
	// The errors plugin logs each failed query with the guest's failure.
	for _, label := range []string{"trap", "loop", "grow", "oob"} {
		if want := label + ".r1.cluster.local. A"; !strings.Contains(out, want) {
			t.Errorf("CoreDNS log lacks %q:\n%s", want, out)
		}
	}
	eventually(t, "the replacements", func() bool {
		return strings.Count(s.out.String(), "replaced a core instance (it failed") >= 16
	})
}
