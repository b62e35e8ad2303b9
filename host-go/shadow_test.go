package kubernetai

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// ask asks the plugin name/qtype as a client would, and returns the
// answer's records as text.
func ask(t *testing.T, k *Kubernetai, name string, qtype uint16) (int, []string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	code, err := k.ServeDNS(context.Background(), rec, m)
	if rec.Msg == nil {
		return code, []string{"no answer: " + errString(err)}
	}
	var out []string
	for _, rr := range rec.Msg.Answer {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return rec.Msg.Rcode, out
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestShadowNeverServes: with the test guest as the shadow (it answers
// everything otherwise, and traps on names whose first label is trap),
// clients get the real core's answers, every comparison is a divergence
// (a failure for the trap), and the divergence blocks promote_after.
func TestShadowNeverServes(t *testing.T) {
	k, err := guestSetup(t, "kubernetai cluster.local {\n    snapshot a.yaml\n    wasm_shadow guest.wasm promote_after 3\n}",
		map[string]string{"a.yaml": testSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	if k.shadow == nil {
		t.Fatal("no shadow")
	}
	const server = "dns://shadow-never.test:53"
	k.servers = []string{server}
	startWithin(t, k)
	serving := k.real.Module().Digest()
	failures := shadowDivergences.WithLabelValues("", divergedFailure)
	before := testutil.ToFloat64(shadowQueries.WithLabelValues(""))
	beforeFailures := testutil.ToFloat64(failures)

	for range 5 {
		rcode, records := ask(t, k, "web.shop.svc.cluster.local.", dns.TypeA)
		if rcode != dns.RcodeSuccess || len(records) != 1 || !strings.HasSuffix(records[0], "A 10.96.0.10") {
			t.Fatalf("client got %s %q, want the serving core's A 10.96.0.10", dns.RcodeToString[rcode], records)
		}
	}
	if rcode, _ := ask(t, k, "trap.shop.svc.cluster.local.", dns.TypeA); rcode != dns.RcodeNameError {
		t.Errorf("client got %s for the shadow's trap, want the serving core's NXDOMAIN", dns.RcodeToString[rcode])
	}
	waitUntil(t, "six comparisons", func() bool { return testutil.ToFloat64(shadowQueries.WithLabelValues("")) >= before+6 })
	if got := testutil.ToFloat64(failures) - beforeFailures; got != 1 {
		t.Errorf("%v failures counted, want 1 (the trap)", got)
	}
	if got := testutil.ToFloat64(shadowBlocked.WithLabelValues(server)); got != 1 {
		t.Errorf("shadow_promotion_blocked = %v, want 1", got)
	}
	if k.real.Module().Digest() != serving {
		t.Error("a shadow that diverged was promoted")
	}
	// The shadow's instance was rebuilt after its trap: it still answers.
	ask(t, k, "web.shop.svc.cluster.local.", dns.TypeA)
	waitUntil(t, "a comparison after the trap", func() bool { return testutil.ToFloat64(shadowQueries.WithLabelValues("")) >= before+7 })
}

// TestShadowPromotes: a shadow that agrees (the embedded core with a
// custom section added) is swapped in after promote_after comparisons,
// and the old module's answers go on.
func TestShadowPromotes(t *testing.T) {
	k, err := guestSetup(t, "kubernetai cluster.local {\n    snapshot a.yaml\n    wasm_shadow next.wasm promote_after 4\n}",
		map[string]string{"a.yaml": testSnapshot, "next.wasm": string(withCustomSection(defaultComponent, "next"))})
	if err != nil {
		t.Fatal(err)
	}
	const server = "dns://shadow-promotes.test:53"
	k.servers = []string{server}
	startWithin(t, k)
	next := k.shadow.digest
	if next == k.real.Module().Digest() {
		t.Fatal("the shadow has the serving module's digest")
	}
	for range 4 {
		if rcode, records := ask(t, k, "web.shop.svc.cluster.local.", dns.TypeA); rcode != dns.RcodeSuccess || len(records) != 1 {
			t.Fatalf("client got %s %q", dns.RcodeToString[rcode], records)
		}
	}
	waitUntil(t, "the promotion", func() bool { return testutil.ToFloat64(shadowPromotions.WithLabelValues(server)) == 1 })
	if k.real.Module().Digest() != next {
		t.Errorf("serving %s after the promotion, want the shadow's %s", short(k.real.Module().Digest()), short(next))
	}
	if got := testutil.ToFloat64(shadowBlocked.WithLabelValues(server)); got != 0 {
		t.Errorf("shadow_promotion_blocked = %v, want 0", got)
	}
	if rcode, records := ask(t, k, "web.shop.svc.cluster.local.", dns.TypeA); rcode != dns.RcodeSuccess || len(records) != 1 {
		t.Errorf("after the promotion, client got %s %q", dns.RcodeToString[rcode], records)
	}
}

// A shadow that cannot be used is refused at start, naming the option.
func TestShadowRefused(t *testing.T) {
	tests := []struct{ name, shadow, want string }{
		{"missing file", "wasm_shadow none.wasm", "stanza 1: wasm_shadow: stat "},
		{"not a module", "wasm_shadow a.yaml", "stanza 1: wasm_shadow: "},
		{"bad setting", "wasm_shadow guest.wasm share 2", `stanza 1: wasm_shadow: share "2" is not a fraction`},
	}
	for _, tt := range tests {
		_, err := guestSetup(t, "kubernetai cluster.local {\n    snapshot a.yaml\n    "+tt.shadow+"\n}",
			map[string]string{"a.yaml": testSnapshot})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	// The module serving as its own shadow: nothing to compare, no shadow.
	k, err := guestSetup(t, "kubernetai cluster.local {\n    wasm guest.wasm\n    snapshot a.yaml\n    wasm_shadow guest.wasm\n}",
		map[string]string{"a.yaml": testSnapshot})
	if err != nil || k.shadow != nil {
		t.Errorf("the serving module as shadow: %v, shadow %v", err, k != nil && k.shadow != nil)
	}
}

// BenchmarkServeDNSShadow answers a ClusterIP A query through the plugin
// (as BenchmarkServeDNS, on the plugin's callers) without a shadow, and
// with the embedded core (another digest) as shadow at two shares, no
// rate cap. The shadow works on its own goroutine, so besides the time per
// query the benchmark reports the process's CPU time per query and the
// share of the queries the shadow compared (the rest it was too busy for).
func BenchmarkServeDNSShadow(b *testing.B) {
	shadowFile := filepath.Join(b.TempDir(), "next.wasm")
	if err := os.WriteFile(shadowFile, withCustomSection(defaultComponent, "bench"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, option string }{
		{"none", ""},
		{"share-1", "wasm_shadow " + shadowFile + " max_rate 4294967295"},
		{"share-0.01", "wasm_shadow " + shadowFile + " share 0.01 max_rate 4294967295"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			k := testPlugin(b, "kubernetai cluster.local {\n snapshot {snapshot}\n "+bc.option+"\n}")
			r := new(dns.Msg)
			r.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
			compared := shadowQueries.WithLabelValues("")
			before, cpu := testutil.ToFloat64(compared), cpuTime()
			serveEach(b, k, r)
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric((testutil.ToFloat64(compared)-before)/float64(b.N), "shadowed/op")
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestShadowStopsOnceServing: renaming the shadow over the `wasm` file
// swaps it in as any new module; the shadow then stops, having nothing
// left to compare.
func TestShadowStopsOnceServing(t *testing.T) {
	next := withCustomSection(defaultComponent, "next")
	k, err := guestSetup(t, "kubernetai cluster.local {\n    wasm core.wasm\n    snapshot a.yaml\n    wasm_shadow next.wasm\n}",
		map[string]string{"a.yaml": testSnapshot, "core.wasm": string(defaultComponent), "next.wasm": string(next)})
	if err != nil {
		t.Fatal(err)
	}
	startWithin(t, k)
	replaceFile(t, k.wasm.path, next)
	waitUntil(t, "the swap", func() bool { return k.real.Module().Digest() == k.shadow.digest })
	waitUntil(t, "the shadow to stop", func() bool {
		ask(t, k, "web.shop.svc.cluster.local.", dns.TypeA)
		return k.shadow.closed.Load()
	})
}
