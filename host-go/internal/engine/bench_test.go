package engine

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkLookup is the per-query overhead of the host: borrowing an
// instance from the pool, the three guest calls of a lookup
// (cabi_realloc, lookup, cabi_post) and copying the answer out. The test
// guest does almost nothing, so this is the floor under any real lookup.
func BenchmarkLookup(b *testing.B) {
	e := newEngine(b, compileGuest(b), Config{Stanzas: []Stanza{{}}})
	q := query("www.example.")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Lookup(ctx, q, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupParallel is the same through the pool from many
// goroutines: the throughput of the pool.
func BenchmarkLookupParallel(b *testing.B) {
	e := newEngine(b, compileGuest(b), Config{Stanzas: []Stanza{{}}})
	q := query("www.example.")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := e.Lookup(ctx, q, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkInstanceLookup is a lookup on one instance, without the pool.
func BenchmarkInstanceLookup(b *testing.B) {
	in := newInstance(b, compileGuest(b), []Stanza{{}})
	q := query("www.example.")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Lookup(ctx, q, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply spreads a batch of events to every instance of the pool
// (GOMAXPROCS instances).
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			e := newEngine(b, compileGuest(b), Config{Stanzas: []Stanza{{}}})
			events := make([]KeyedEvent, size)
			for i := range events {
				events[i] = objectEvent(ChangeUpsert, KindService, "default", fmt.Sprintf("svc-%d", i), 1)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Apply(0, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
		})
	}
}
