package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
)

// Benchmarks with the real DNS core (plugin-rs), on the cluster
// plugin-rs/benches/core.rs measures natively and under wasmtime: 10k
// ClusterIP services in namespaces of 100, each with one port and an
// EndpointSlice of two addresses.

const (
	realServices     = 10_000
	realPerNamespace = 100
)

var realStanzas = []Stanza{{Zones: []string{"cluster.local"}, Line: 1}}

// realCluster is the cluster as object events, namespaces first, with
// JSON shaped like the Kubernetes API's.
func realCluster() []KeyedEvent { return realClusterOf(realServices) }

// realClusterOf is realCluster's shape with n services. Addresses run
// 10.96.0.0 on for services and 10.1 and 10.2 on for endpoints, 250 to a
// /24, the next /16s past 64,000 services.
func realClusterOf(n int) []KeyedEvent {
	events := make([]KeyedEvent, 0, n/realPerNamespace+1+2*n)
	upsert := func(kind Kind, key string, object []byte) {
		events = append(events, KeyedEvent{Event{Kind: kind, Object: object}, key})
	}
	for ns := range (n + realPerNamespace - 1) / realPerNamespace {
		name := fmt.Sprintf("ns%d", ns)
		upsert(KindNamespace, name,
			fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q,"resourceVersion":"1"}}`, name))
	}
	for i := range n {
		ns, c, a, b := i/realPerNamespace, i/64_000, i/250%256, i%250
		svc, ep1, ep2 := 96+c, 1+2*c, 2+2*c
		upsert(KindService, fmt.Sprintf("ns%d/svc%d", ns, i),
			fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc%d","namespace":"ns%d","resourceVersion":"1"},`+
				`"spec":{"type":"ClusterIP","clusterIP":"10.%d.%d.%d","clusterIPs":["10.%d.%d.%d"],"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}}`,
				i, ns, svc, a, b, svc, a, b))
		upsert(KindEndpointSlice, fmt.Sprintf("ns%d/svc%d-x", ns, i),
			fmt.Appendf(nil, `{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc%d-x","namespace":"ns%d",`+
				`"labels":{"kubernetes.io/service-name":"svc%d"},"resourceVersion":"1"},"addressType":"IPv4",`+
				`"endpoints":[{"addresses":["10.%d.%d.%d"],"conditions":{"ready":true}},{"addresses":["10.%d.%d.%d"],"conditions":{"ready":true}}],`+
				`"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}`,
				i, ns, i, ep1, a, b, ep2, a, b))
	}
	return events
}

// plainEvents are the events without their keys, as they cross.
func plainEvents(keyed []KeyedEvent) []Event {
	out := make([]Event, len(keyed))
	for i := range keyed {
		out[i] = keyed[i].Event
	}
	return out
}

// checkARecord fails unless answer is a NOERROR reply with an answer,
// from the first stanza.
func checkARecord(tb testing.TB, out Outcome) {
	tb.Helper()
	msg := out.Answer.Message
	if out.Kind != OutcomeAnswer || len(msg) < 12 || out.Answer.Stanza != 0 || out.Answer.FellThrough != 0 {
		tb.Fatalf("outcome %s, want an answer from stanza 0", describe(out))
	}
	if rcode, ancount := msg[3]&0x0f, binary.BigEndian.Uint16(msg[6:]); rcode != 0 || ancount != 1 {
		tb.Fatalf("answer has rcode %d and %d records, want NOERROR with one A record", rcode, ancount)
	}
}

// BenchmarkLookupReal is a ClusterIP A lookup through the pool, with the
// real core holding 10k services.
func BenchmarkLookupReal(b *testing.B) {
	e := newEngine(b, compileReal(b), Config{Stanzas: realStanzas})
	report, err := e.Apply(0, realCluster())
	if err != nil || report.Skipped != 0 {
		b.Fatalf("Apply = %+v, %v", report, err)
	}
	e.SetSynced(0, true)
	q := query("svc4242.ns42.svc.cluster.local.")
	ctx := context.Background()
	out, err := e.Lookup(ctx, q, nil)
	if err != nil {
		b.Fatal(err)
	}
	checkARecord(b, out)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Lookup(ctx, q, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyReal10k applies the whole cluster (20k+ objects) to a
// fresh instance of the real core, and reports the instance's linear
// memory afterwards: in chunks as the Engine applies batches
// (applyChunkEvents), and in one call for comparison.
func BenchmarkApplyReal10k(b *testing.B) {
	mod := compileReal(b)
	events := plainEvents(realCluster())
	b.Run("chunked", func(b *testing.B) {
		benchmarkApplyReal(b, mod, events, func(ctx context.Context, in *instance) (ApplyReport, error) {
			c, err := applyChunks(ctx, in, 0, 1, events, false)
			return c.report, err
		})
	})
	b.Run("one-call", func(b *testing.B) {
		benchmarkApplyReal(b, mod, events, func(ctx context.Context, in *instance) (ApplyReport, error) {
			return in.Apply(ctx, 0, 1, events)
		})
	})
}

func benchmarkApplyReal(b *testing.B, mod *Module, events []Event, apply func(context.Context, *instance) (ApplyReport, error)) {
	ctx := context.Background()
	var size uint64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		in, err := mod.instantiate(ctx, defaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := in.Configure(ctx, realStanzas, 7); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		report, err := apply(ctx, in)
		if err != nil || report.Skipped != 0 || report.Applied != uint32(len(events)) {
			b.Fatalf("Apply = %+v, %v", report, err)
		}
		b.StopTimer()
		size = in.memorySize()
		_ = in.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(events)), "objects")
	b.ReportMetric(float64(size), "mem-bytes")
}
