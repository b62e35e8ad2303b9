package engine

import (
	"context"
	"testing"
)

// The two halves of a hot swap of the real core, measured apart: compiling
// the component (what a swap does before it touches the state), and Swap
// itself with the module compiled, for the 10k-service cluster of
// BenchmarkLookupReal: a new pool configured, the state replayed into each
// instance, the self-check, the switch and the drain.

// BenchmarkCompileReal compiles the real component, instrumentation
// included, as a swap or a start does.
func BenchmarkCompileReal(b *testing.B) {
	component, _ := realComponent(b)
	ctx := context.Background()
	for b.Loop() {
		mod, err := Compile(ctx, component)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = mod.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(component)), "component-bytes")
}

// BenchmarkCompileRealCached compiles the real component through a
// `wasm_cache` that holds it: a restart or a swap back.
func BenchmarkCompileRealCached(b *testing.B) {
	component, _ := realComponent(b)
	ctx := context.Background()
	c, err := OpenCache(b.TempDir(), b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	compile := func() *Module {
		mod, err := c.Compile(ctx, component)
		if err != nil {
			b.Fatal(err)
		}
		return mod
	}
	_ = compile().Close(ctx)
	for b.Loop() {
		mod := compile()
		b.StopTimer()
		if r := mod.CacheResult(); r != CacheHit {
			b.Fatalf("cache %s, want a hit", r)
		}
		_ = mod.Close(ctx)
		b.StartTimer()
	}
}

// BenchmarkSwapReal10k swaps between two compiled copies of the real core
// under a pool of two instances holding the 10k-service cluster.
func BenchmarkSwapReal10k(b *testing.B) {
	mods := [2]*Module{compileAnotherReal(b), compileAnotherReal(b)}
	e := newEngine(b, mods[0], Config{Stanzas: realStanzas, PoolSize: 2})
	events := realCluster()
	if report, err := e.Apply(0, events); err != nil || report.Skipped != 0 {
		b.Fatalf("Apply = %+v, %v", report, err)
	}
	e.SetSynced(0, true)
	ctx := context.Background()
	q := query("svc4242.ns42.svc.cluster.local.")
	next := 1
	for b.Loop() {
		if _, err := e.swap(ctx, mods[next]); err != nil {
			b.Fatal(err)
		}
		next = 1 - next
	}
	b.StopTimer()
	out, err := e.Lookup(ctx, q, nil)
	if err != nil {
		b.Fatal(err)
	}
	checkARecord(b, out)
	b.ReportMetric(float64(len(events)), "objects")
}
