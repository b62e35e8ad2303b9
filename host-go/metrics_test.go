package kubernetai

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// TestServerLabelsMatchCoreDNS: the stanza metrics' `server` label is the
// address of a server CoreDNS makes for the block, which is what
// metrics.WithServer gives the query-time metrics.
func TestServerLabelsMatchCoreDNS(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		bind []string
		want []string
	}{
		{"no bind", []string{"cluster.local"}, nil, []string{"dns://:53"}},
		{"zones sharing a port share a server", []string{"cluster.local:1053", "example.org:1053"}, nil,
			[]string{"dns://:1053"}},
		{"ports and bound addresses", []string{"cluster.local:1053", "dns://example.org:2053"}, []string{"127.0.0.1", "::1"},
			[]string{"dns://127.0.0.1:1053", "dns://[::1]:1053", "dns://127.0.0.1:2053", "dns://[::1]:2053"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", "")
			blocks, err := c.Context().InspectServerBlocks("Corefile", []caddyfile.ServerBlock{{Keys: tt.keys}})
			if err != nil {
				t.Fatal(err)
			}
			c.ServerBlockKeys = blocks[0].Keys
			if tt.bind != nil {
				dnsserver.GetConfig(c).ListenHosts = tt.bind // as the bind plugin does
			}
			servers, err := c.Context().MakeServers()
			if err != nil {
				t.Fatal(err)
			}
			var made []string
			for _, s := range servers {
				made = append(made, s.(*dnsserver.Server).Addr)
			}
			got := serverLabels(c)
			if !slices.Equal(got, tt.want) {
				t.Errorf("labels %q, want %q", got, tt.want)
			}
			slices.Sort(made)
			slices.Sort(got)
			if !slices.Equal(got, made) {
				t.Errorf("labels %q, CoreDNS's servers %q", got, made)
			}
		})
	}
}

// syncedGauge reads the `synced` series of a server and stanza, and
// whether it exists (WithLabelValues would make it).
func syncedGauge(t *testing.T, server, stanza string) (float64, bool) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(stanzaSynced)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["server"] == server && labels["stanza"] == stanza {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func wantSynced(t *testing.T, server string, want float64) {
	t.Helper()
	got, ok := syncedGauge(t, server, "1")
	if !ok || got != want {
		t.Errorf("synced{server=%q,stanza=\"1\"} = %v (present %v), want %v", server, got, ok, want)
	}
}

func wantNoSynced(t *testing.T, server string) {
	t.Helper()
	if got, ok := syncedGauge(t, server, "1"); ok {
		t.Errorf("synced{server=%q,stanza=\"1\"} = %v, want no series", server, got)
	}
}

// gatedSource syncs when the test opens its gate.
type gatedSource struct {
	gate, synced chan struct{}
}

func newGatedSource() *gatedSource {
	return &gatedSource{gate: make(chan struct{}), synced: make(chan struct{})}
}

func (g *gatedSource) Run(ctx context.Context, sink feed.Sink) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil
	}
	sink.Synced()
	close(g.synced)
	<-ctx.Done()
	return nil
}

func (g *gatedSource) String() string { return "gated source" }

// open lets the source sync, and waits until it has told its stanza.
func (g *gatedSource) open(t *testing.T) {
	t.Helper()
	close(g.gate)
	select {
	case <-g.synced:
	case <-time.After(30 * time.Second): // a guard against hanging, not a measure
		t.Fatal("the source did not sync")
	}
}

// gatedPlugin starts a one-stanza plugin served by server, whose source
// syncs when the test opens it.
func gatedPlugin(t *testing.T, server string) (*Kubernetai, *gatedSource) {
	t.Helper()
	k := fakePlugin(&fakeCore{}, 1)
	k.servers = []string{server}
	src := newGatedSource()
	k.stanzas[0].source = src // no startup wait: StartupTimeoutNs is 0
	if err := k.start(nil); err != nil {
		t.Fatal(err)
	}
	return k, src
}

func TestSyncedLifecycle(t *testing.T) {
	const server = "dns://lifecycle.test:53"
	k, src := gatedPlugin(t, server)
	wantSynced(t, server, 0)
	src.open(t)
	wantSynced(t, server, 1)
	if err := k.stop(); err != nil {
		t.Fatal(err)
	}
	wantNoSynced(t, server)
}

// TestSyncedPerServerBlock: stanza 1 of two server blocks are two series.
func TestSyncedPerServerBlock(t *testing.T) {
	const a, b = "dns://:1053", "dns://:2053"
	ka, srcA := gatedPlugin(t, a)
	kb, _ := gatedPlugin(t, b)
	srcA.open(t)
	wantSynced(t, a, 1)
	wantSynced(t, b, 0)
	if err := ka.stop(); err != nil {
		t.Fatal(err)
	}
	wantNoSynced(t, a)
	wantSynced(t, b, 0)
	if err := kb.stop(); err != nil {
		t.Fatal(err)
	}
	wantNoSynced(t, b)
}

// TestSyncedAcrossReloads follows caddy's order: the new instance starts
// while the old one serves, then the old one stops (the reload worked) or
// the new one is stopped and the old one serves on (it failed).
func TestSyncedAcrossReloads(t *testing.T) {
	const server = "dns://reload.test:53"
	old, oldSrc := gatedPlugin(t, server)
	oldSrc.open(t)

	// A failed reload: the old instance's synced state is shown again.
	_ = restarts.begin()
	failed, _ := gatedPlugin(t, server)
	restarts.started(failed) // as its OnStartup does
	wantSynced(t, server, 0) // the new stanza shows its own state
	if err := restarts.failed(); err != nil {
		t.Fatal(err)
	}
	if err := old.reclaimSynced(); err != nil {
		t.Fatal(err)
	}
	wantSynced(t, server, 1)

	// A reload that works: the old instance stopping leaves the new
	// stanza's series alone.
	next, nextSrc := gatedPlugin(t, server)
	if err := old.stop(); err != nil {
		t.Fatal(err)
	}
	wantSynced(t, server, 0)
	nextSrc.open(t)
	wantSynced(t, server, 1)
	if err := next.stop(); err != nil {
		t.Fatal(err)
	}
	wantNoSynced(t, server)
}

const orphanSlice = `
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: orphan, namespace: shop}
  addressType: IPv4
  endpoints: [{addresses: [10.1.0.9]}]
`

// TestObjectsSkipped: the core skips an EndpointSlice of no service, and
// the stanza whose source held it counts it.
func TestObjectsSkipped(t *testing.T) {
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(bad, []byte(testSnapshot+orphanSlice), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(testSnapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	skipped := func(stanza string) float64 { return testutil.ToFloat64(objectsSkipped.WithLabelValues("", stanza)) }
	applied := func(stanza string) float64 { return testutil.ToFloat64(objectsApplied.WithLabelValues("", stanza)) }
	skipped1, skipped2, applied1 := skipped("1"), skipped("2"), applied("1")

	testPlugin(t, "kubernetai cluster.local {\n snapshot "+bad+"\n}\nkubernetai other.local {\n snapshot "+good+"\n}")
	if got := skipped("1") - skipped1; got != 1 {
		t.Errorf("stanza 1 skipped %v objects, want 1 (the orphan slice)", got)
	}
	if got := skipped("2") - skipped2; got != 0 {
		t.Errorf("stanza 2 skipped %v objects, want 0", got)
	}
	if got := applied("1") - applied1; got != 3 {
		t.Errorf("stanza 1 applied %v objects, want 3 (a namespace, two services)", got)
	}
}

// TestServerLabelOfEachMetric: what a query does is counted for the server
// that took it; what the block's plugin does without a query (autopath,
// transfers, applying changes) for every server of the block, as CoreDNS's
// plugins label their own series.
func TestServerLabelOfEachMetric(t *testing.T) {
	const a, b = "dns://a.test:53", "dns://b.test:53"
	trap := &engine.CallError{Func: "core", Err: errors.New("trap")}
	// The query arrives at a, as CoreDNS's server puts itself in the context.
	query := context.WithValue(context.Background(), dnsserver.Key{}, &dnsserver.Server{Addr: a})
	state := request.Request{W: &test.ResponseWriter{}, Req: new(dns.Msg)}
	state.Req.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	tests := []struct {
		name   string
		core   *fakeCore
		do     func(k *Kubernetai)
		series func(server string) prometheus.Collector
		want   map[string]float64 // growth per server
	}{
		{"a lookup the core failed", &fakeCore{err: trap},
			func(k *Kubernetai) { _, _ = k.ServeDNS(query, dnstest.NewRecorder(&test.ResponseWriter{}), state.Req) },
			func(s string) prometheus.Collector { return guestFailures.WithLabelValues(s, "lookup") },
			map[string]float64{a: 1, b: 0}},
		{"upstream names of a query", &fakeCore{outcome: engine.Outcome{Kind: engine.OutcomeUpstream,
			Upstream: []engine.UpstreamQuery{{Name: "www.example.org.", Qtype: dns.TypeA}, {Name: "www.example.org.", Qtype: dns.TypeAAAA}}}},
			func(k *Kubernetai) {
				// At the depth limit nothing is resolved: no CoreDNS server runs.
				ctx := context.WithValue(query, upstreamDepthKey{}, maxUpstreamDepth)
				_, _ = k.ServeDNS(ctx, dnstest.NewRecorder(&test.ResponseWriter{}), state.Req)
			},
			func(s string) prometheus.Collector { return upstreamLookups.WithLabelValues(s) },
			map[string]float64{a: 2, b: 0}},
		{"metadata the core failed", &fakeCore{err: trap},
			func(k *Kubernetai) { k.Metadata(query, state) },
			func(s string) prometheus.Collector { return guestFailures.WithLabelValues(s, "metadata") },
			map[string]float64{a: 1, b: 0}},
		{"autopath the core failed", &fakeCore{err: trap},
			func(k *Kubernetai) { k.AutoPath(state) },
			func(s string) prometheus.Collector { return guestFailures.WithLabelValues(s, "autopath") },
			map[string]float64{a: 1, b: 1}},
		{"a transfer the core failed", &fakeCore{failPage: 1, err: trap},
			func(k *Kubernetai) { _, _ = k.Transfer("cluster.local.", 0) },
			func(s string) prometheus.Collector { return transferFailures.WithLabelValues(s) },
			map[string]float64{a: 1, b: 1}},
		{"changes the core failed to apply", &fakeCore{err: trap},
			func(k *Kubernetai) { k.stanzas[0].Apply([]feed.Change{{}}) },
			func(s string) prometheus.Collector { return guestFailures.WithLabelValues(s, "apply") },
			map[string]float64{a: 1, b: 1}},
		{"a request of the stanza's feed that got no response", &fakeCore{},
			func(k *Kubernetai) { k.stanzas[0].observeRequest("GET", 0, time.Millisecond) },
			func(s string) prometheus.Collector { return restRequests.WithLabelValues(s, "1", "GET", "error") },
			map[string]float64{a: 1, b: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := fakePlugin(tt.core, 1)
			k.servers = []string{a, b}
			k.stanzas[0].servers = k.metricServers() // as start sets them
			before := map[string]float64{}
			for s := range tt.want {
				before[s] = testutil.ToFloat64(tt.series(s))
			}
			tt.do(k)
			for s, want := range tt.want {
				if got := testutil.ToFloat64(tt.series(s)) - before[s]; got != want {
					t.Errorf("server %s: grew by %v, want %v", s, got, want)
				}
			}
		})
	}
}
