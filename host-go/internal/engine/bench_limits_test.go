package engine

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Benchmarks of the size limits with the real core (issue 10): answers
// about a big headless service, a lookup in a state of 100k services, and
// the memory states of these sizes take. They assert no time.

// typedQuery is a query for name of type qtype, without EDNS.
func typedQuery(tb testing.TB, name string, qtype uint16) []byte {
	tb.Helper()
	q, err := new(dns.Msg).SetQuestion(name, qtype).Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// bigEngine is an engine of one instance of the real core with room for
// anything, holding events as stanza 0, synced. Its calls may take a
// minute, so that a slow answer is timed rather than cut off at the
// default wasm_timeout. It is closed when the benchmark ends.
func bigEngine(b *testing.B, events []KeyedEvent) *Engine {
	b.Helper()
	e := newEngine(b, compileReal(b), Config{PoolSize: 1, Stanzas: realStanzas, MemoryLimit: maxMemoryLimit, LookupTimeout: time.Minute})
	if res, err := e.Apply(0, events); err != nil || res.Refused != 0 || res.Skipped != 0 {
		b.Fatalf("Apply = %+v, %v", res, err)
	}
	e.SetSynced(0, true)
	return e
}

// benchmarkLookup times the answer to q, which must be NOERROR with
// records, and reports its size and records.
func benchmarkLookup(b *testing.B, e *Engine, q []byte) {
	ctx := context.Background()
	var m *dns.Msg
	var size int
	for b.Loop() {
		out, err := e.Lookup(ctx, q, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out.Answer.Message)
		if m == nil {
			m = unpack(b, out)
		}
	}
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
		b.Fatalf("%s with %d records, want NOERROR with records", dns.RcodeToString[m.Rcode], len(m.Answer))
	}
	b.ReportMetric(float64(size), "answer-bytes")
	b.ReportMetric(float64(len(m.Answer)+len(m.Extra)), "records")
}

// BenchmarkHeadlessReal times, by the number of endpoints of one headless
// service (slices of 1,000), the SRV and A answers for its name and a
// whole zone transfer, paged as the plugin pages it (the transfer alone
// at 100k endpoints).
func BenchmarkHeadlessReal(b *testing.B) {
	for _, n := range []int{1_000, 5_000, 10_000, 20_000, 100_000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			benchmarkHeadless(b, bigEngine(b, bigZone(0, n)), n)
		})
	}
}

// benchmarkHeadless times SRV and A for the headless service of
// bigZone(0, n) (up to 20k endpoints) and a whole transfer, which must
// list each of its n addresses once at the service name.
func benchmarkHeadless(b *testing.B, e *Engine, n int) {
	name := "wide.big.svc.cluster.local."
	if n <= 20_000 {
		b.Run("SRV", func(b *testing.B) { benchmarkLookup(b, e, typedQuery(b, name, dns.TypeSRV)) })
		b.Run("A", func(b *testing.B) { benchmarkLookup(b, e, typedQuery(b, name, dns.TypeA)) })
	}
	b.Run("AXFR", func(b *testing.B) {
		var got transferred
		for b.Loop() {
			got = transferAll(b, e)
		}
		if got.wideA != n {
			b.Fatalf("%d A records of the headless service, want %d (each address once)", got.wideA, n)
		}
		b.ReportMetric(float64(got.pages), "pages")
		b.ReportMetric(float64(got.slowest.Microseconds()), "µs-slowest-page")
	})
}

// BenchmarkHeadlessSetReal is BenchmarkHeadlessReal in a cluster set of
// two members (`clusterset`) holding the same headless service with the
// same addresses: the merged SRV and A answers, and a whole transfer
// (merged records, each address once, then each member's copy), whose
// every page must cost about its records whatever the service's size.
func BenchmarkHeadlessSetReal(b *testing.B) {
	member := func(cluster string, line uint32) Stanza {
		return Stanza{Zones: []string{"cluster.local"}, Line: line, Properties: []Property{
			{Name: "cluster", Args: []string{cluster}, Line: line + 1},
			{Name: "clusterset", Line: line + 2},
		}}
	}
	for _, n := range []int{1_000, 10_000, 20_000, 100_000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			e := newEngine(b, compileReal(b), Config{PoolSize: 1, Stanzas: []Stanza{member("east", 1), member("west", 10)},
				MemoryLimit: maxMemoryLimit, LookupTimeout: time.Minute})
			for stanza := range 2 {
				if res, err := e.Apply(stanza, bigZone(0, n)); err != nil || res.Refused != 0 || res.Skipped != 0 {
					b.Fatalf("Apply = %+v, %v", res, err)
				}
				e.SetSynced(stanza, true)
			}
			benchmarkHeadless(b, e, n)
		})
	}
}

// BenchmarkLookup100kReal is BenchmarkLookupReal in a state of 100k
// services, each with an EndpointSlice of two addresses.
func BenchmarkLookup100kReal(b *testing.B) {
	e := bigEngine(b, realClusterOf(100_000))
	q := query("svc94242.ns942.svc.cluster.local.")
	out, err := e.Lookup(context.Background(), q, nil)
	if err != nil {
		b.Fatal(err)
	}
	checkARecord(b, out)
	benchmarkLookup(b, e, q)
}

// BenchmarkStateMemoryReal measures what wasm_memory a state needs: the
// linear memory of an instance of the real core once the state is
// applied in one batch, as at start (mem-bytes: memory only grows, so
// this is the most the apply took), and the limit that keeps the margin
// the engine requires free beyond it (wasm_memory-MiB). It then applies
// the state again under that limit, which must refuse nothing.
func BenchmarkStateMemoryReal(b *testing.B) {
	for _, s := range []struct {
		name   string
		events func() []KeyedEvent
	}{
		{"services=0", func() []KeyedEvent { return bigZone(0, 0)[:1] }}, // a namespace: the core's own memory
		{"services=1000", func() []KeyedEvent { return realClusterOf(1_000) }},
		{"services=10000", func() []KeyedEvent { return realClusterOf(10_000) }},
		{"services=100000", func() []KeyedEvent { return realClusterOf(100_000) }},
		{"headless-endpoints=20000", func() []KeyedEvent { return bigZone(0, 20_000) }},
	} {
		b.Run(s.name, func(b *testing.B) {
			events := s.events()
			var size uint64
			for b.Loop() {
				e := bigEngine(b, events)
				everyInstance(b, e, func(in *instance) { size = in.memorySize() })
				_ = e.Close(context.Background())
			}
			need := float64(size) * memoryMargin / (memoryMargin - 1)
			mib := uint64(math.Ceil(need / (1 << 20)))
			e := newEngine(b, compileReal(b), Config{PoolSize: 1, Stanzas: realStanzas, MemoryLimit: mib << 20})
			if res, err := e.Apply(0, events); err != nil || res.Refused != 0 {
				b.Errorf("with wasm_memory %dMi: %d of %d objects refused (%v)", mib, res.Refused, len(events), err)
			}
			b.ReportMetric(float64(len(events)), "objects")
			b.ReportMetric(float64(size), "mem-bytes")
			b.ReportMetric(float64(size)/float64(len(events)), "bytes/object")
			b.ReportMetric(float64(mib), "wasm_memory-MiB")
		})
	}
}
