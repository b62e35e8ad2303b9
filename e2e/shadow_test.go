package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The shadow tests run CoreDNS with a `wasm_shadow` module beside the
// embedded core and check what clients get and what the metrics count.

// shadowCorefile serves a snapshot with the embedded core and the
// shadow module shadow.wasm (SHADOW is replaced by the option's
// settings); the file plugin answers build.kubernetai. TXT "real-core"
// when the core passes the name on (see swapCorefile).
const shadowCorefile = `.:{port} {
    bind 127.0.0.1
    kubernetai cluster.local {
        snapshot services.json
        wasm_timeout 250ms
        wasm_shadow shadow.wasm SHADOW
    }
    file build.zone kubernetai.
    prometheus {metrics}
}
`

func startShadow(t *testing.T, shadow []byte, settings string) (*server, string) {
	t.Helper()
	return startWithMetrics(t, map[string]string{
		"services.json": servicesSnapshot(64),
		"build.zone":    buildZone,
		"shadow.wasm":   string(shadow),
		"Corefile":      strings.Replace(shadowCorefile, "SHADOW", settings, 1),
	})
}

// askServices asks for svc-0 .. svc-(n-1) and fails on a wrong answer.
func askServices(t *testing.T, s *server, n int) {
	t.Helper()
	for i := range n {
		network := networks[i%2]
		if problem := checkService(s.ask(t, network, loadService(i), dns.TypeA), i); problem != "" {
			t.Fatalf("%s: %s", network, problem)
		}
	}
}

func loadService(i int) string { return "svc-" + strconv.Itoa(i) + ".load.svc.cluster.local." }

// divergences is every shadow_divergences_total series of the server
// whose metrics are at url, by kind.
func divergences(t *testing.T, url string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^coredns_kubernetai_shadow_divergences_total\{kind="([a-z]+)",[^}]*\} (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(scrape(t, url), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = v
	}
	return out
}

// TestShadowProbeDiverges: the swap-probe build as shadow answers one
// name (build.kubernetai. TXT) that the real core passes on: that one
// query diverges (outcome), the 80 others do not; clients get the real
// core's answers throughout; the divergence blocks promote_after.
func TestShadowProbeDiverges(t *testing.T) {
	s, url := startShadow(t, probeCore(t), "promote_after 40")
	queries := `coredns_kubernetai_shadow_queries_total{` + serverLabel(s) + `}`
	askServices(t, s, 20)
	if got := build(t, s); got != "real-core" {
		t.Fatalf("client got %q from build.kubernetai., want the serving core's real-core", got)
	}
	askServices(t, s, 60)
	eventually(t, "81 comparisons", func() bool { return swapMetric(t, url, queries) >= 81 })
	got := divergences(t, url)
	if len(got) != 1 || got["outcome"] != 1 {
		t.Errorf("divergences %v, want outcome 1 and nothing else", got)
	}
	if v := swapMetric(t, url, `coredns_kubernetai_shadow_promotion_blocked{`+serverLabel(s)+`}`); v != 1 {
		t.Errorf("shadow_promotion_blocked = %v, want 1", v)
	}
	if v := swapMetric(t, url, `coredns_kubernetai_shadow_promotions_total{`+serverLabel(s)+`}`); v != 0 {
		t.Errorf("shadow_promotions_total = %v, want 0", v)
	}
	if got := build(t, s); got != "real-core" {
		t.Errorf("after the shadow's 40 clean queries, client got %q, want real-core (no promotion)", got)
	}
	if !strings.Contains(s.out.String(), "diverges (outcome) on build.kubernetai. TXT") {
		t.Errorf("the divergence is not logged:\n%s", s.out.String())
	}
}

// TestShadowFaultsNeverReachClients: the test guest as shadow traps,
// loops past wasm_timeout and eats memory on names whose first label says
// so; clients get the real core's answers, the failures are counted and
// the shadow's instance rebuilt each time.
func TestShadowFaultsNeverReachClients(t *testing.T) {
	s, url := startShadow(t, testGuest(t), "")
	queries := `coredns_kubernetai_shadow_queries_total{` + serverLabel(s) + `}`
	for _, first := range []string{"trap", "loop", "grow"} {
		name := first + ".load.svc.cluster.local."
		for _, network := range networks {
			start := time.Now()
			r := s.ask(t, network, name, dns.TypeA)
			if r.Rcode != dns.RcodeNameError {
				t.Errorf("%s %s: client got %s, want the serving core's NXDOMAIN", network, name, dns.RcodeToString[r.Rcode])
			}
			t.Logf("%s %s answered in %v", network, name, time.Since(start).Round(time.Millisecond))
		}
		askServices(t, s, 4)
	}
	eventually(t, "18 comparisons", func() bool { return swapMetric(t, url, queries) >= 18 })
	got := divergences(t, url)
	if got["failure"] < 6 {
		t.Errorf("divergences %v, want at least 6 failures (trap, loop, grow, over UDP and TCP)", got)
	}
	if v := swapMetric(t, url, `coredns_kubernetai_guest_failures_total{function="shadow",`+serverLabel(s)+`}`); v < 6 {
		t.Errorf("guest_failures_total{function=shadow} = %v, want at least 6", v)
	}
	if v := swapMetric(t, url, `coredns_kubernetai_guest_failures_total{function="lookup",`+serverLabel(s)+`}`); v != 0 {
		t.Errorf("guest_failures_total{function=lookup} = %v: the serving core failed", v)
	}
	askServices(t, s, 64)
}

// TestShadowPromotes: a shadow that agrees (the real core with a custom
// section: another digest, the same answers) is swapped in by itself
// after promote_after queries, as a new `wasm` file would be.
func TestShadowPromotes(t *testing.T) {
	next := appendCustomSection(realCore(t), "shadow-e2e")
	sum := sha256.Sum256(next)
	digest := hex.EncodeToString(sum[:])
	s, url := startShadow(t, next, "promote_after 30")
	askServices(t, s, 30)
	label := serverLabel(s)
	eventually(t, "the promotion", func() bool {
		return swapMetric(t, url, `coredns_kubernetai_shadow_promotions_total{`+label+`}`) == 1
	})
	if v := swapMetric(t, url, `coredns_kubernetai_swaps_total{`+label+`}`); v != 1 {
		t.Errorf("swaps_total = %v, want 1", v)
	}
	info := regexp.MustCompile(`(?m)^coredns_kubernetai_module_info\{digest="([0-9a-f]+)",` + regexp.QuoteMeta(label) + `,[^}]*\} 1$`)
	if m := info.FindAllStringSubmatch(scrape(t, url), -1); len(m) != 1 || m[0][1] != digest {
		t.Errorf("module_info serving %v, want the shadow's %s alone", m, digest)
	}
	if !strings.Contains(s.out.String(), "promoted module "+digest[:12]+" after 30 queries without a divergence") {
		t.Errorf("the promotion is not logged:\n%s", s.out.String())
	}
	askServices(t, s, 64)
	if got := build(t, s); got != "real-core" {
		t.Errorf("after the promotion, build.kubernetai. gives %q, want real-core", got)
	}
}
