package engine

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

// BenchmarkLookupRealCancel weighs the way calls are cut off (instrument.go)
// against the design it replaced: the core module left as built, wazero
// closing it when the call's context is done (WithCloseOnContextDone), and
// every call made under a context carrying the lookup time limit. Both run
// the same ClusterIP A lookup on one instance holding 10k services.
func BenchmarkLookupRealCancel(b *testing.B) {
	b.Run("instrumented", func(b *testing.B) {
		in, err := compileReal(b).instantiate(context.Background(), defaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		benchmarkInstanceLookup(b, in, false)
	})
	b.Run("close-on-context-done", func(b *testing.B) {
		in := instantiateCancellable(b)
		benchmarkInstanceLookup(b, in, true)
	})
}

// instantiateCancellable instantiates the real core, uninstrumented, in a
// runtime that closes a module whose call's context is done.
func instantiateCancellable(b *testing.B) *instance {
	component, _ := realComponent(b)
	core, err := wasm.CoreModule(component)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	b.Cleanup(func() { _ = rt.Close(ctx) })
	compiled, err := rt.CompileModule(ctx, core)
	if err != nil {
		b.Fatal(err)
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	// No interrupt global and no watchdog watching it: wazero alone bounds
	// the call. The watchdog value only absorbs begin's notifications.
	w := &watchdog{}
	w.start()
	b.Cleanup(func() { w.close() })
	in := &instance{limits: defaultLimits, watch: w, memory: &linearMemory{}} // wazero's own memory: nothing to guard
	in.bind(mod)
	return in
}

// benchmarkInstanceLookup loads the 10k-service cluster into in and times
// one lookup, under a context with the lookup time limit if withDeadline.
func benchmarkInstanceLookup(b *testing.B, in *instance, withDeadline bool) {
	ctx := context.Background()
	b.Cleanup(func() { _ = in.Close(ctx) })
	if _, err := in.Configure(ctx, realStanzas, 7); err != nil {
		b.Fatal(err)
	}
	if c, err := applyChunks(ctx, in, 0, 1, plainEvents(realCluster()), false); err != nil || c.report.Skipped != 0 {
		b.Fatalf("Apply = %+v, %v", c.report, err)
	}
	if err := in.SetSynced(ctx, 0, true); err != nil {
		b.Fatal(err)
	}
	q := query("svc4242.ns42.svc.cluster.local.")
	lookup := func() (Outcome, error) {
		if !withDeadline {
			return in.Lookup(ctx, q, nil)
		}
		callCtx, cancel := context.WithTimeout(ctx, defaultLookupTimeout)
		defer cancel()
		return in.Lookup(callCtx, q, nil)
	}
	out, err := lookup()
	if err != nil {
		b.Fatal(err)
	}
	checkARecord(b, out)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lookup(); err != nil {
			b.Fatal(err)
		}
	}
}
