package kubernetai

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/internal/callers"
	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

const testSnapshot = `apiVersion: v1
kind: List
items:
- {kind: Namespace, metadata: {name: shop}}
- kind: Service
  metadata: {name: web, namespace: shop}
  spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80, protocol: TCP}]}
- kind: Service
  metadata: {name: ext, namespace: shop}
  spec: {type: ExternalName, externalName: www.example.org}
`

// testPlugin builds the plugin, with the embedded core, from a Corefile
// body (with {snapshot} for a snapshot path), starts its sources and waits
// for them. An embedded core built for an older contract is skipped:
// `make check-embed` is what catches a stale embed.
func testPlugin(t testing.TB, body string) *Kubernetai {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(testSnapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", strings.ReplaceAll(body, "{snapshot}", path))
	c.ServerBlockKeys = []string{"cluster.local.:53"}
	k, err := fromCorefile(c)
	if ve := (*engine.VersionError)(nil); errors.As(err, &ve) {
		t.Skipf("the embedded component predates this host's contract (%v); run `make embed`", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := k.start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.stop() })
	return k
}

func serve(t *testing.T, k *Kubernetai, ctx context.Context, name string, qtype uint16) (*dnstest.Recorder, int, error) {
	t.Helper()
	r := new(dns.Msg)
	r.SetQuestion(name, qtype)
	w := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := k.ServeDNS(ctx, w, r)
	return w, rcode, err
}

func TestServeDNS(t *testing.T) {
	k := testPlugin(t, "kubernetai cluster.local {\n snapshot {snapshot}\n}")
	k.Next = test.NextHandler(dns.RcodeSuccess, nil)
	if !k.Ready() {
		t.Fatal("not ready after its snapshot synced")
	}

	w, rcode, err := serve(t, k, context.Background(), "web.shop.svc.cluster.local.", dns.TypeA)
	if err != nil || rcode != dns.RcodeSuccess || w.Msg == nil || !w.Msg.Authoritative {
		t.Fatalf("rcode %d err %v msg %v", rcode, err, w.Msg)
	}
	if len(w.Msg.Answer) != 1 || w.Msg.Answer[0].(*dns.A).A.String() != "10.96.0.10" {
		t.Errorf("answer %v", w.Msg.Answer)
	}

	w, _, _ = serve(t, k, context.Background(), "nope.shop.svc.cluster.local.", dns.TypeA)
	if w.Msg.Rcode != dns.RcodeNameError || len(w.Msg.Ns) != 1 {
		t.Errorf("miss: %v", w.Msg)
	}

	// Outside the zone: the next plugin answers (NextHandler writes nothing).
	w, rcode, err = serve(t, k, context.Background(), "www.example.org.", dns.TypeA)
	if w.Msg != nil || rcode != dns.RcodeSuccess || err != nil {
		t.Errorf("out of zone: rcode %d err %v msg %v", rcode, err, w.Msg)
	}

	// AXFR through the query path: nothing written, CoreDNS refuses.
	w, rcode, _ = serve(t, k, context.Background(), "cluster.local.", dns.TypeAXFR)
	if w.Msg != nil || rcode != dns.RcodeRefused || plugin.ClientWrite(rcode) {
		t.Errorf("AXFR: rcode %d msg %v", rcode, w.Msg)
	}
}

func TestUpstreamDepthIsBounded(t *testing.T) {
	k := testPlugin(t, "kubernetai cluster.local {\n snapshot {snapshot}\n}")
	// At the depth limit the target is not resolved: the CNAME is dropped,
	// leaving NODATA, instead of recursing without bound.
	ctx := context.WithValue(context.Background(), upstreamDepthKey{}, maxUpstreamDepth)
	w, rcode, err := serve(t, k, ctx, "ext.shop.svc.cluster.local.", dns.TypeA)
	if err != nil || rcode != dns.RcodeSuccess {
		t.Fatalf("rcode %d err %v", rcode, err)
	}
	if w.Msg.Rcode != dns.RcodeSuccess || len(w.Msg.Answer) != 0 || len(w.Msg.Ns) != 1 {
		t.Errorf("want NODATA, got %v", w.Msg)
	}
}

func TestFallthroughBetweenStanzas(t *testing.T) {
	k := testPlugin(t, "kubernetai cluster.local {\n snapshot {snapshot}\n fallthrough\n}\nkubernetai other.local {\n snapshot {snapshot}\n fallthrough\n}")
	k.Next = test.NextHandler(dns.RcodeNameError, nil)
	_, rcode, _ := serve(t, k, context.Background(), "nope.shop.svc.cluster.local.", dns.TypeA)
	if rcode != dns.RcodeNameError {
		t.Errorf("a miss in the last stanza's fallthrough goes to the next plugin: rcode %d", rcode)
	}
	w, _, _ := serve(t, k, context.Background(), "web.shop.svc.other.local.", dns.TypeA)
	if w.Msg == nil || len(w.Msg.Answer) != 1 {
		t.Errorf("second stanza: %v", w.Msg)
	}
}

// TestUnpackableQuery: a query that cannot be written back to the wire (a
// plugin before this one broke it) answers FORMERR and is counted, once,
// as malformed, without reaching the core.
func TestUnpackableQuery(t *testing.T) {
	f := &fakeCore{err: errors.New("the core must not be asked")}
	k := fakePlugin(f, 1)
	r := new(dns.Msg)
	r.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	// Three bytes are no IPv4 address: miekg/dns refuses to pack them.
	r.Extra = append(r.Extra, &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IP{10, 0, 0}})
	if _, err := r.Pack(); err == nil {
		t.Fatal("the query packs: the test needs one that does not")
	}
	malformed, failed := count("", "", "malformed"), count("", "", "failed")
	w := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := k.ServeDNS(context.Background(), w, r)
	if rcode != dns.RcodeFormatError || err == nil || w.Msg != nil {
		t.Errorf("rcode %d err %v written %v; want FORMERR, an error, nothing written", rcode, err, w.Msg != nil)
	}
	if got := count("", "", "malformed") - malformed; got != 1 {
		t.Errorf("malformed grew by %v, want 1", got)
	}
	if got := count("", "", "failed") - failed; got != 0 {
		t.Errorf("failed grew by %v, want 0 (the core was not asked)", got)
	}
}

// BenchmarkServeDNS answers a ClusterIP A query through the plugin with
// the embedded core, each query from a new goroutine as CoreDNS's server
// asks it: with the plugin's callers (internal/callers), and with the
// work done on the query's goroutine as before them.
func BenchmarkServeDNS(b *testing.B) {
	k := testPlugin(b, "kubernetai cluster.local {\n snapshot {snapshot}\n}")
	r := new(dns.Msg)
	r.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	calls := k.calls
	for _, bc := range []struct {
		name  string
		calls *callers.Callers
	}{{"callers", calls}, {"in-place", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			k.calls = bc.calls
			serveEach(b, k, r)
		})
	}
	k.calls = calls
}

// serveEach has the plugin answer r b.N times, each from a new goroutine
// as CoreDNS's server asks it; a query not answered NOERROR fails b.
func serveEach(b *testing.B, k *Kubernetai, r *dns.Msg) {
	done := make(chan int)
	b.ReportAllocs()
	for b.Loop() {
		go func() {
			w := dnstest.NewRecorder(&test.ResponseWriter{})
			_, _ = k.ServeDNS(context.Background(), w, r)
			done <- w.Rcode
		}()
		if rcode := <-done; rcode != dns.RcodeSuccess {
			b.Fatalf("rcode %s", dns.RcodeToString[rcode])
		}
	}
}
