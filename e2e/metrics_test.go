package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestMetricsMatchREADME runs CoreDNS with the prometheus plugin and makes
// kubernetai produce what series it can without an API server: two
// stanzas (a snapshot, and a cluster that is down, whose names answer
// SERVFAIL), queries of each outcome, an ExternalName target, NOTIFYs to a
// secondary, a module swap and a refused one through `wasm` and
// `wasm_cache`, and, in a second server block on the test guest, a query
// the core traps on. Then every coredns_kubernetai_* series on /metrics must be
// in README's Metrics list with exactly the labels listed there, and every
// series listed must be on /metrics but for the few this Corefile cannot
// provoke (notProvoked). README is read here, so it and the code cannot
// drift apart.
func TestMetricsMatchREADME(t *testing.T) {
	documented := readmeMetrics(t, "../README.md")
	notProvoked := map[string]string{
		"coredns_kubernetai_transfer_failures_total":          "needs a core that fails a transfer",
		"coredns_kubernetai_dns_programming_duration_seconds": "needs an EndpointSlice change from an API server",
		"coredns_kubernetai_shadow_promotions_total":          "needs a shadow that agrees promote_after times (TestShadowPromotes)",
	}
	for name := range notProvoked {
		if _, ok := documented[name]; !ok {
			t.Errorf("%s is not in README's Metrics list: drop it from notProvoked", name)
		}
	}

	kubeconfig := downKubeconfig(t)
	real := realCore(t)
	guestPort := freePort(t)
	s := startBinary(t, corednsBinary(t), map[string]string{
		"cluster.yaml": transferSnapshot + `- kind: Service
  metadata: {name: ext, namespace: shop}
  spec: {type: ExternalName, externalName: www.example.org}
`,
		"down.kubeconfig": kubeconfig,
		"core.wasm":       string(real),
		"guest.wasm":      string(testGuest(t)),
		"shadow.wasm":     string(appendCustomSection(real, "metrics-shadow")),
		"empty.yaml":      "apiVersion: v1\nkind: List\nitems: []\n",
		"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{metrics}
    transfer cluster.local {
        to %s
    }
    kubernetai cluster.local {
        snapshot cluster.yaml
        wasm core.wasm
        wasm_cache cache
        fallthrough
        notify_interval 1s
    }
    kubernetai remote.local {
        cluster remote
        kubeconfig down.kubeconfig
        startup_timeout 2s
    }
}
.:%d {
    bind 127.0.0.1
    kubernetai guest.local {
        snapshot empty.yaml
        wasm guest.wasm
        wasm_shadow shadow.wasm max_rate 1
    }
}`, notifyAcknowledger(t), guestPort),
	})
	label := serverLabel(s.server)

	// Each outcome of requests_total: answered, fallthrough (a miss in the
	// first stanza, which falls through), not_authoritative, failed (the
	// stanza that is down answers SERVFAIL), and an ExternalName target
	// looked up through CoreDNS.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.shop.svc.cluster.local.", dns.TypeA},
		{"nope.shop.svc.cluster.local.", dns.TypeA},
		{"www.example.net.", dns.TypeA},
		{"web.shop.svc.remote.local.", dns.TypeA},
		{"ext.shop.svc.cluster.local.", dns.TypeA},
	} {
		s.ask(t, "udp", q.name, q.qtype)
	}
	if r := s.ask(t, "udp", "web.shop.svc.remote.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("the stanza that is down: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	// A SERVFAIL from a stanza is failed, and that stanza's, labelled by
	// its cluster name.
	waitMetric(t, s, `coredns_kubernetai_requests_total{outcome="failed",`+label+`,stanza="remote"}`,
		func(v float64) bool { return v >= 2 })
	if v, ok := metric(s.scrape(t), `coredns_kubernetai_requests_total{outcome="answered",`+label+`,stanza="remote"}`); ok && v != 0 {
		t.Errorf("SERVFAILs of stanza 2 counted answered: %v", v)
	}
	if _, ok := metric(s.scrape(t), `coredns_kubernetai_synced{`+label+`,stanza="2"}`); ok {
		t.Error("stanza 2, named remote, also has a series labelled by its position")
	}

	// The test guest traps on names whose first label is trap.
	guest := &server{addr: fmt.Sprintf("127.0.0.1:%d", guestPort)}
	if r := guest.ask(t, "udp", "trap.guest.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("the test guest's trap: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	waitMetric(t, s, `coredns_kubernetai_guest_failures_total{function="lookup",`+serverLabel(guest)+`}`,
		func(v float64) bool { return v == 1 })
	// Its shadow, the real core, answers otherwise (a divergence), and at
	// max_rate 1 skips the queries right after.
	for range 3 {
		guest.ask(t, "udp", "web.guest.local.", dns.TypeA)
	}
	waitMetric(t, s, `coredns_kubernetai_shadow_queries_total{`+serverLabel(guest)+`}`, func(v float64) bool { return v >= 1 })
	waitMetric(t, s, `coredns_kubernetai_shadow_skipped_total{reason="rate",`+serverLabel(guest)+`}`, func(v float64) bool { return v >= 1 })

	// A swap (the same core, another digest), then a refused one.
	wasm := filepath.Join(s.dir, "core.wasm")
	deploy(t, wasm, appendCustomSection(real, "metrics-test"))
	waitMetric(t, s, "coredns_kubernetai_swaps_total{"+label+"}", func(v float64) bool { return v == 1 })
	deploy(t, wasm, []byte("not WebAssembly\n"))
	waitMetric(t, s, `coredns_kubernetai_swaps_refused_total{reason="not_wasm",`+label+`}`, func(v float64) bool { return v == 1 })
	waitMetric(t, s, `coredns_kubernetai_notifies_total{`+label+`,zone="cluster.local."}`, func(v float64) bool { return v >= 1 })

	exposed := exposedMetrics(t, s.scrape(t), "coredns_kubernetai_")
	for _, name := range sortedKeys(exposed) {
		want, ok := documented[name]
		if !ok {
			t.Errorf("%s is exported but not in README's Metrics list", name)
			continue
		}
		for _, got := range exposed[name] {
			if !slices.Equal(got, want) {
				t.Errorf("%s has labels {%s}; README lists {%s}", name, strings.Join(got, ", "), strings.Join(want, ", "))
			}
		}
	}
	for _, name := range sortedKeys(documented) {
		if _, ok := exposed[name]; ok {
			continue
		}
		if why, ok := notProvoked[name]; ok {
			t.Logf("%s: not provoked here (%s); its labels are not checked", name, why)
			continue
		}
		t.Errorf("%s is in README's Metrics list but was not exported", name)
	}
}

// readmeMetrics reads the series of README's Metrics section, each
// written `name{label, label}`, as name -> sorted labels. A series the
// section gives two label sets, or a series mentioned anywhere in README
// with labels other than the section's or not in the section at all, fails
// t: a reader finds one spelling.
func readmeMetrics(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Metrics\n")
	if start < 0 {
		t.Fatalf("%s: no Metrics section", path)
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	mention := regexp.MustCompile("`(coredns_kubernetai_[a-z0-9_]+)(?:\\{([a-z_, ]*)\\})?`")
	documented := map[string][]string{}
	for _, m := range mention.FindAllStringSubmatch(section, -1) {
		if m[2] == "" && !strings.Contains(m[0], "{") {
			continue // named in passing; its labels are given where it is listed
		}
		labels := splitLabels(m[2])
		if was, ok := documented[m[1]]; ok && !slices.Equal(was, labels) {
			t.Errorf("README's Metrics list gives %s the labels {%s} and {%s}", m[1], strings.Join(was, ", "), strings.Join(labels, ", "))
		}
		documented[m[1]] = labels
	}
	if len(documented) == 0 {
		t.Fatalf("%s: no series in the Metrics section", path)
	}
	for _, m := range mention.FindAllStringSubmatch(readme, -1) {
		want, ok := documented[m[1]]
		switch {
		case !ok:
			t.Errorf("README mentions %s, which its Metrics list does not have", m[1])
		case strings.Contains(m[0], "{") && !slices.Equal(splitLabels(m[2]), want):
			t.Errorf("README writes %s; its Metrics list gives it {%s}", m[0], strings.Join(want, ", "))
		}
	}
	return documented
}

func splitLabels(list string) []string {
	var labels []string
	for _, l := range strings.Split(list, ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	slices.Sort(labels)
	return labels
}

// exposedMetrics reads a text exposition: each metric family whose name
// starts with prefix, with the label names of each of its series (sorted;
// a histogram's `le` left out, as README lists a histogram by its family).
func exposedMetrics(t *testing.T, exposition, prefix string) map[string][][]string {
	t.Helper()
	types := map[string]string{}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$`)
	pair := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)
	families := map[string][][]string{}
	for _, line := range strings.Split(exposition, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") || !strings.HasPrefix(line, prefix) {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("unreadable sample %q", line)
			continue
		}
		family := m[1]
		if _, ok := types[family]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(family, suffix); cut && types[base] == "histogram" {
					family = base
				}
			}
		}
		var labels []string
		for _, p := range pair.FindAllStringSubmatch(m[2], -1) {
			if p[1] != "le" || types[family] != "histogram" {
				labels = append(labels, p[1])
			}
		}
		slices.Sort(labels)
		if !slices.ContainsFunc(families[family], func(l []string) bool { return slices.Equal(l, labels) }) {
			families[family] = append(families[family], labels)
		}
	}
	return families
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendCustomSection returns a copy of a component with a custom section
// added at its end: the same code under another digest, which the plugin
// swaps in like a new version.
func appendCustomSection(component []byte, payload string) []byte {
	const name = "kubernetai-e2e"
	body := append(uleb128(len(name)), name...)
	body = append(body, payload...)
	out := append(slices.Clone(component), 0) // section id 0: custom
	out = append(out, uleb128(len(body))...)
	return append(out, body...)
}

func uleb128(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		if n >>= 7; n != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// notifyAcknowledger answers every DNS message on a loopback UDP port
// (a secondary acknowledging NOTIFYs, which the transfer plugin waits for
// before kubernetai counts one) and returns its address.
func notifyAcknowledger(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}
