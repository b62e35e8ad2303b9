package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Tests and benchmarks with the real DNS core (plugin-rs): proof that the
// layouts this host reads are the ones the real bindings write.

// realComponent returns the real core's bytes and whether
// KUBERNETAI_COMPONENT named it, or skips when there is none.
func realComponent(tb testing.TB) ([]byte, bool) {
	tb.Helper()
	b, named, err := readRealComponent()
	if err != nil {
		tb.Skipf("real component missing (%v); build it with `make component` or set KUBERNETAI_COMPONENT", err)
	}
	return b, named
}

func readRealComponent() ([]byte, bool, error) {
	path, named := os.LookupEnv("KUBERNETAI_COMPONENT")
	if !named {
		// The embedded copy, which `make test` checks is current.
		path = filepath.Join("..", "..", "kubernetai.wasm")
	}
	b, err := os.ReadFile(path)
	return b, named, err
}

// compileReal returns the real core, compiled once for all the tests and
// benchmarks of the process (under the race detector a compile takes some
// 20 s): they make engines and instances of it, never close it.
func compileReal(tb testing.TB) *Module {
	tb.Helper()
	realOnce.Do(func() { realModule, realSkip, realErr = compileRealComponent() })
	if realSkip != "" {
		tb.Skip(realSkip)
	}
	if realErr != nil {
		tb.Fatal(realErr)
	}
	return realModule
}

var (
	realOnce   sync.Once
	realModule *Module
	realSkip   string
	realErr    error
)

// compileAnotherReal compiles a Module of the real core of its own,
// closed at the end of the test.
func compileAnotherReal(tb testing.TB) *Module {
	tb.Helper()
	mod, skip, err := compileRealComponent()
	if skip != "" {
		tb.Skip(skip)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = mod.Close(context.Background()) })
	return mod
}

// compileRealComponent compiles the real core, or says why the test is
// to be skipped: the component is missing, or it is the embedded copy
// built for an older contract (`make check-embed` is what catches a
// stale embed).
func compileRealComponent() (mod *Module, skip string, err error) {
	component, named, err := readRealComponent()
	if err != nil {
		return nil, fmt.Sprintf("real component missing (%v); build it with `make component` or set KUBERNETAI_COMPONENT", err), nil
	}
	mod, err = Compile(context.Background(), component)
	if err != nil && !named && errors.Is(err, ErrContract) {
		return nil, fmt.Sprintf("the embedded component predates this host's contract (%v); run `make embed` or set KUBERNETAI_COMPONENT", err), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("Compile(real component): %w", err)
	}
	return mod, "", nil
}

// unpack parses an answer of the real core, failing unless it is one.
func unpack(tb testing.TB, out Outcome) *dns.Msg {
	tb.Helper()
	if out.Kind != OutcomeAnswer {
		tb.Fatalf("outcome %s, want an answer", describe(out))
	}
	var m dns.Msg
	if err := m.Unpack(out.Answer.Message); err != nil {
		tb.Fatalf("answer does not parse: %v", err)
	}
	return &m
}

// TestRealCore runs every function of the contract on the real core, in
// every replica of a pool, before and after a replacement.
func TestRealCore(t *testing.T) {
	const now = 1700000000
	stanzas := []Stanza{{
		Zones:      []string{"cluster.local"},
		Properties: []Property{{Name: "pods", Args: []string{"verified"}, Line: 2}},
		Line:       1,
	}}
	e, conf, err := New(context.Background(), compileReal(t), Config{PoolSize: 2, Stanzas: stanzas})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	plans := conf.Stanzas
	if len(plans) != 1 || !slices.Equal(plans[0].Zones, []string{"cluster.local."}) ||
		!slices.ContainsFunc(plans[0].Watches, func(w Watch) bool { return w.Kind == KindPod }) {
		t.Fatalf("plans = %+v, want cluster.local. with pods", plans)
	}
	e.now = func() time.Time { return time.Unix(now, 0) }
	report, err := e.Apply(0, []KeyedEvent{
		{Event{Kind: KindNamespace, Object: []byte(`{"metadata":{"name":"shop"}}`)}, "shop"},
		{Event{Kind: KindPod, Object: []byte(`{"metadata":{"name":"p","namespace":"shop","labels":{"app":"x"}},"status":{"podIPs":[{"ip":"10.1.0.9"}]}}`)}, "shop/p"},
		{Event{Kind: KindService, Object: []byte(`{"metadata":{"name":"web","namespace":"shop"},` +
			`"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"ports":[{"name":"http","port":80,"protocol":"TCP"}]}}`)}, "shop/web"},
	})
	want := ApplyReport{Applied: 3, Problems: []string{}, Serials: []ZoneSerial{{"cluster.local.", now}}}
	if err != nil || !reflect.DeepEqual(report, ApplyResult{ApplyReport: want}) {
		t.Fatalf("Apply = %+v, %v; want %+v", report, err, want)
	}
	e.SetSynced(0, true)
	if err := e.SetHost(HostInfo{LocalIPs: []string{"192.0.2.53"}, Search: []string{"corp.example."}}); err != nil {
		t.Fatal(err)
	}

	everyInstance(t, e, func(in *instance) { checkRealCore(t, in, now) })
	// A replacement replays the mirror into a fresh instance: it must
	// answer the same, SOA serial included.
	g := e.gen.Load()
	s, err := g.pool.borrow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.in.fail("test", errors.New("killed by the test"))
	e.giveBack(g, s)
	waitFor(t, "the replacement", func() bool { return e.stats().Replacements == 1 })
	everyInstance(t, e, func(in *instance) { checkRealCore(t, in, now) })
}

func checkRealCore(t *testing.T, in *instance, serial uint32) {
	t.Helper()
	ctx := context.Background()
	search, ok, err := in.Autopath(ctx, "web.shop.svc.cluster.local.", "10.1.0.9")
	want := []string{"shop.svc.cluster.local.", "svc.cluster.local.", "cluster.local.", "corp.example.", ""}
	if err != nil || !ok || !reflect.DeepEqual(search, want) {
		t.Errorf("AutoPath = %q, %v, %v; want %q", search, ok, err, want)
	}
	if search, ok, err := in.Autopath(ctx, "web.shop.svc.cluster.local.", "10.9.9.9"); err != nil || ok || search != nil {
		t.Errorf("AutoPath(unknown client) = %q, %v, %v; want nothing", search, ok, err)
	}

	entries, err := in.Metadata(ctx, "web.shop.svc.cluster.local.", "10.1.0.9")
	if err != nil || !slices.Contains(entries, MetadataEntry{"kubernetes/client-pod-name", "p"}) ||
		!slices.Contains(entries, MetadataEntry{"kubernetes/service", "web"}) {
		t.Errorf("Metadata = %q, %v; want kubernetes/client-pod-name=p and kubernetes/service=web", entries, err)
	}

	out, err := in.Lookup(ctx, query("web.shop.svc.cluster.local."), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := unpack(t, out)
	if out.Answer.Stanza != 0 || out.Answer.FellThrough != 0 || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 ||
		m.Answer[0].(*dns.A).A.String() != "10.96.0.10" {
		t.Errorf("Lookup(web) = stanza %d, fell-through %#x, %v", out.Answer.Stanza, out.Answer.FellThrough, m)
	}
	out, err = in.Lookup(ctx, query("nope.shop.svc.cluster.local."), nil)
	if err != nil {
		t.Fatal(err)
	}
	m = unpack(t, out)
	if m.Rcode != dns.RcodeNameError || len(m.Ns) != 1 || m.Ns[0].(*dns.SOA).Serial != serial {
		t.Errorf("Lookup(nope) = %v, want NXDOMAIN with SOA serial %d", m, serial)
	}
	out, err = in.Lookup(ctx, query("www.example.org."), nil)
	if want := (Outcome{Kind: OutcomeFallthrough}); err != nil || !reflect.DeepEqual(out, want) {
		t.Errorf("Lookup(out of zone) = %s, %v; want %s", describe(out), err, describe(want))
	}
	checkRealTransfer(t, in, serial)
}

// checkRealTransfer pages through the transfer of cluster.local.: the
// first page starts with the SOA, the last ends with it, and the web
// service is in between; a cursor of another zone is refused.
func checkRealTransfer(t *testing.T, in *instance, serial uint32) {
	t.Helper()
	ctx := context.Background()
	var records []dns.RR
	var cursor []byte
	for pages := 0; ; pages++ {
		page, ok, err := in.Transfer(ctx, "cluster.local.", 0, cursor)
		if err != nil || !ok || pages > 100 {
			t.Fatalf("Transfer page %d = %v, %v after %d pages", pages+1, ok, err, pages)
		}
		for _, b := range page.Messages {
			var m dns.Msg
			if err := m.Unpack(b); err != nil {
				t.Fatalf("transfer message does not parse: %v", err)
			}
			records = append(records, m.Answer...)
		}
		if cursor = page.Next; cursor == nil {
			break
		}
	}
	first, firstOK := records[0].(*dns.SOA)
	last, lastOK := records[len(records)-1].(*dns.SOA)
	if !firstOK || !lastOK || first.Serial != serial || last.Serial != serial {
		t.Errorf("transfer of %d records does not start and end with the SOA of serial %d", len(records), serial)
	}
	if !slices.ContainsFunc(records, func(rr dns.RR) bool { return rr.Header().Name == "web.shop.svc.cluster.local." }) {
		t.Errorf("transfer lacks web.shop.svc.cluster.local.")
	}
	var re *ResultError
	if _, _, err := in.Transfer(ctx, "cluster.local.", 0, []byte("no cursor of this core")); !errors.As(err, &re) || in.Err() != nil {
		t.Errorf("Transfer(bad cursor) = %v (instance error %v), want a *ResultError", err, in.Err())
	}
}
