package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/miekg/dns"
)

// TestReadinessPerStanza: beside a snapshot stanza, a stanza whose
// kubeconfig names a closed loopback port (a remote cluster down) stops
// holding /ready after its own startup_timeout (explicit credentials
// release by default); its names are SERVFAIL, the snapshot's answer.
// `readiness hold` keeps /ready at 503, and a reload that keeps the watch
// does not wait for it again; back to `readiness release`, the feed's
// start (not the reload) counts for its startup_timeout.
func TestReadinessPerStanza(t *testing.T) {
	kubeconfig := downKubeconfig(t)
	s := startBinary(t, corednsBinary(t), map[string]string{
		"cluster.yaml":    transferSnapshot, // web.shop: 10.96.0.10
		"down.kubeconfig": kubeconfig,
		"Corefile": `.:{port} {
    bind 127.0.0.1
    reload 2s 1s
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    kubernetai cluster.local {
        snapshot cluster.yaml
    }
    kubernetai remote.local {
        kubeconfig down.kubeconfig
        startup_timeout 2s
    }
}`,
	})
	held := func(stanza string) string {
		return stanzaSeries(s.server, "coredns_kubernetai_readiness_held", stanza)
	}
	s.waitReady(t)
	waitLog(t, s, regexp.MustCompile(`stanza 2: API server [^\n]* has not synced within its startup_timeout 2s: it no longer holds readiness`))
	expect(t, s, "web.shop.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.96.0.10")
	expect(t, s, "web.shop.svc.remote.local.", dns.TypeA, dns.RcodeServerFailure)
	for stanza, want := range map[string]float64{"1": 0, "2": 0} {
		waitMetric(t, s, held(stanza), func(v float64) bool { return v == want })
	}
	if v, ok := metric(s.scrape(t), stanzaSeries(s.server, "coredns_kubernetai_synced", "2")); !ok || v != 0 {
		t.Errorf("stanza 2: synced = %v (present %v), want 0", v, ok)
	}
	started := regexp.MustCompile(`starting server with unsynced Kubernetes data: stanza 2`)

	// Held: /ready is 503 and its log names the stanza; the reload kept the
	// watch, so it did not wait for the stanza again.
	rewriteCorefile(t, s, "startup_timeout 2s", "startup_timeout 2s\n        readiness hold")
	waitFor(t, "/ready 503 after the reload", liveWait, func() bool {
		s.checkAlive(t)
		return s.readyStatus() == http.StatusServiceUnavailable
	})
	waitLog(t, s, regexp.MustCompile(`not ready: not synced, holding readiness: stanza 2 \(API server [^\n]*; readiness hold: until it syncs\)`))
	waitMetric(t, s, held("2"), func(v float64) bool { return v == 1 })
	expect(t, s, "web.shop.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.96.0.10")
	expect(t, s, "web.shop.svc.remote.local.", dns.TypeA, dns.RcodeServerFailure)
	// The reload plugin logs its completion after the new instance serves
	// (the 503 above can come first).
	waitLog(t, s, regexp.MustCompile(`Reloading complete`))
	if n := len(started.FindAllString(s.out.String(), -1)); n != 1 {
		t.Errorf("%d starts waited for stanza 2's startup_timeout, want 1 (not the reload)", n)
	}

	// Released again: the feed started long before its startup_timeout.
	rewriteCorefile(t, s, "readiness hold", "readiness release")
	s.waitReady(t)
	waitMetric(t, s, held("2"), func(v float64) bool { return v == 0 })
	if n := len(started.FindAllString(s.out.String(), -1)); n != 1 {
		t.Errorf("%d starts waited for stanza 2's startup_timeout, want 1 (neither reload)", n)
	}
}

// downKubeconfig is a kubeconfig naming a closed loopback port: a cluster
// that is down.
func downKubeconfig(t *testing.T) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "http://127.0.0.1:%d"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: down, context: {cluster: down, user: u}}]
current-context: down
`, freePort(t))
}
