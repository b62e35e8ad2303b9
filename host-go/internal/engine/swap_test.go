package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stanzasForSwap are two stanzas the test guest plans alike every time.
var stanzasForSwap = []Stanza{{Zones: []string{"a.test."}}, {Zones: []string{"b.test."}, Properties: []Property{{Name: "pods", Args: []string{"insecure"}}}}}

// swapFixture is an engine of the test guest holding some state, and the
// model of that state.
func swapFixture(t *testing.T, pool int) (*Engine, *model) {
	t.Helper()
	const seed = 7
	e := newEngine(t, compileGuest(t), Config{PoolSize: pool, Stanzas: stanzasForSwap, HashSeed: seed})
	m := newModel(seed, len(stanzasForSwap))
	host := HostInfo{LocalIPs: []string{"192.0.2.1"}, Search: []string{"corp.example."}}
	if err := e.SetHost(host); err != nil {
		t.Fatal(err)
	}
	m.host = host
	for i := range 50 {
		ev := []KeyedEvent{objectEvent(ChangeUpsert, KindService, "ns", fmt.Sprintf("svc-%d", i), 1)}
		if _, err := e.Apply(i%2, ev); err != nil {
			t.Fatal(err)
		}
		m.apply(i%2, ev)
	}
	del := []KeyedEvent{objectEvent(ChangeDelete, KindService, "ns", "svc-4", 1)}
	if _, err := e.Apply(0, del); err != nil {
		t.Fatal(err)
	}
	m.apply(0, del)
	e.SetSynced(1, true)
	m.synced[1] = true
	return e, m
}

func TestSwapReplaysStateAndClosesOldPool(t *testing.T) {
	e, m := swapFixture(t, 2)
	first := e.Module()
	oldGen := e.gen.Load()
	next := compileGuest(t)
	old, err := e.swap(context.Background(), next)
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if old != first || e.Module() != next {
		t.Errorf("after Swap: old %p (want %p), serving %p (want %p)", old, first, e.Module(), next)
	}
	if e.swapCount() != 1 {
		t.Errorf("Swaps() = %d, want 1", e.swapCount())
	}
	if got := len(e.gen.Load().pool.slots); got != 2 {
		t.Errorf("new pool has %d instances, want 2", got)
	}
	// The new pool holds the state, synced flags and host info included.
	checkReplicas(t, e, m)
	// The old pool is closed and so is every instance of it.
	if !oldGen.pool.isClosed() {
		t.Error("the old pool is still open")
	}
	for i, s := range oldGen.pool.slots {
		if _, err := s.in.Lookup(context.Background(), query("www.x."), nil); err == nil {
			t.Errorf("old instance %d still answers after the swap", i)
		}
	}
	// Changes after the swap reach the new pool.
	ev := []KeyedEvent{objectEvent(ChangeUpsert, KindPod, "ns", "p", 3)}
	if _, err := e.Apply(1, ev); err != nil {
		t.Fatal(err)
	}
	m.apply(1, ev)
	checkReplicas(t, e, m)
	// A trap in the new pool is replaced from the mirror as before.
	if _, err := e.Lookup(context.Background(), query("trap.x."), nil); err == nil {
		t.Fatal("Lookup(trap) succeeded")
	}
	waitFor(t, "the replacement", func() bool { return e.stats().Replacements == 1 })
	checkReplicas(t, e, m)
}

func TestSwapRefusesPlansMismatch(t *testing.T) {
	real := compileReal(t)
	// The real core normalises zones with a final dot; the test guest
	// keeps them as given: the two plan this stanza differently.
	stanzas := []Stanza{{Zones: []string{"example.org"}}}
	e := newEngine(t, real, Config{PoolSize: 2, Stanzas: stanzas})
	guest := compileGuest(t)
	_, err := e.swap(context.Background(), guest)
	var se *SwapError
	if !errors.As(err, &se) || se.Reason != SwapRefusedPlans {
		t.Fatalf("Swap(test guest) = %v, want a %q refusal", err, SwapRefusedPlans)
	}
	if !strings.Contains(err.Error(), "zones") {
		t.Errorf("refusal %q does not say what differs", err)
	}
	if e.Module() != real || e.swapCount() != 0 {
		t.Errorf("refused swap changed the engine: module %p (want %p), swaps %d", e.Module(), real, e.swapCount())
	}
	if _, err := e.Lookup(context.Background(), query("www.example.org."), nil); err != nil {
		t.Errorf("Lookup after a refused swap: %v", err)
	}
}

func TestSwapRefusesOtherWIT(t *testing.T) {
	e, m := swapFixture(t, 1)
	serving := e.Module()
	other := renameCoreExports(t, testGuest(t), func(name string) string {
		return strings.Replace(name, WITInterface, witInterfacePrefix+"0.1.0", 1)
	})
	_, err := e.SwapComponent(context.Background(), other)
	var se *SwapError
	var ve *VersionError
	if !errors.As(err, &se) || se.Reason != SwapRefusedContract || !errors.As(err, &ve) {
		t.Fatalf("SwapComponent(WIT 0.1.0) = %v, want a %q refusal with a VersionError", err, SwapRefusedContract)
	}
	if len(ve.Found) != 1 || ve.Found[0] != "0.1.0" {
		t.Errorf("VersionError.Found = %v, want [0.1.0]", ve.Found)
	}
	for _, c := range []struct {
		name, reason string
		bytes        []byte
	}{
		{"not wasm", SwapRefusedNotWasm, []byte("#!/bin/sh\necho hello\n")},
		{"truncated", SwapRefusedMalformed, testGuest(t)[:len(testGuest(t))/2]},
		{"core module", SwapRefusedNotComponent, fakeCore(fakeFuncs(ourVersion), false)},
	} {
		_, err := e.SwapComponent(context.Background(), c.bytes)
		if !errors.As(err, &se) || se.Reason != c.reason {
			t.Errorf("SwapComponent(%s) = %v, want a %q refusal", c.name, err, c.reason)
		}
	}
	if e.Module() != serving || e.swapCount() != 0 {
		t.Errorf("refused swaps changed the engine")
	}
	checkReplicas(t, e, m)
}

func TestSwapRefusesFailingSelfCheck(t *testing.T) {
	// The test guest traps on a first label "trap": the self-check's SOA
	// query for this zone traps in the candidate.
	stanzas := []Stanza{{Zones: []string{"trap.test."}}}
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: stanzas})
	serving := e.Module()
	_, err := e.swap(context.Background(), compileGuest(t))
	var se *SwapError
	if !errors.As(err, &se) || se.Reason != SwapRefusedSelfCheck {
		t.Fatalf("Swap = %v, want a %q refusal", err, SwapRefusedSelfCheck)
	}
	if e.Module() != serving {
		t.Error("a refused module serves")
	}
	if _, err := e.Lookup(context.Background(), query("www.trap.test."), nil); err != nil {
		t.Errorf("Lookup after a refused swap: %v", err)
	}
}

func TestSwapRefusesConfigure(t *testing.T) {
	// A candidate that refuses the stanzas the serving module accepted
	// (stricter validation, say) is refused. The test guest refuses a
	// property named "bad": the Engine's stanzas are given one behind its
	// back, as a stricter candidate would see them.
	e, _ := swapFixture(t, 1)
	e.cfg.Stanzas = append([]Stanza{}, e.cfg.Stanzas...)
	e.cfg.Stanzas[0].Properties = []Property{{Name: "bad", Args: []string{"refused"}, Line: 3}}
	_, err := e.swap(context.Background(), compileGuest(t))
	var se *SwapError
	var ce *ConfigError
	if !errors.As(err, &se) || se.Reason != SwapRefusedConfigure || !errors.As(err, &ce) {
		t.Fatalf("Swap = %v, want a %q refusal with the ConfigError", err, SwapRefusedConfigure)
	}
}

// Changes made while swaps run are all in the pool that serves after them,
// and queries made meanwhile never fail.
func TestSwapLosesNoChangeAndNoQuery(t *testing.T) {
	e, m := swapFixture(t, 2)
	mods := []*Module{compileGuest(t), compileGuest(t)}
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var queries, failures atomic.Int64
	var firstFailure atomic.Value
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				q := query("www.x.")
				out, err := e.Lookup(ctx, q, nil)
				queries.Add(1)
				if err != nil || out.Kind != OutcomeAnswer {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%v %v", describe(out), err))
				}
			}
		})
	}
	var applied sync.WaitGroup
	applied.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ev := []KeyedEvent{objectEvent(ChangeUpsert, KindEndpointSlice, "live", fmt.Sprintf("s-%d", i%40), i)}
			if _, err := e.Apply(i%2, ev); err != nil {
				t.Errorf("Apply during swaps: %v", err)
				return
			}
			m.apply(i%2, ev)
		}
	})
	for i := range 8 {
		old, err := e.swap(ctx, mods[i%2])
		if err != nil {
			t.Fatalf("swap %d: %v", i+1, err)
		}
		mods[i%2] = old
	}
	close(stop)
	wg.Wait()
	applied.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d queries failed during swaps; first: %v", n, queries.Load(), firstFailure.Load())
	}
	if queries.Load() == 0 {
		t.Error("no query ran during the swaps")
	}
	checkReplicas(t, e, m)
}

// A query holding an instance of the old pool when the switch happens
// finishes on it; Swap waits for it before closing the old pool, and
// queries that start meanwhile go to the new pool.
func TestSwapLetsQueriesInFlightFinish(t *testing.T) {
	e, _ := swapFixture(t, 1)
	oldGen := e.gen.Load()
	held, err := oldGen.pool.borrow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	next := compileGuest(t)
	done := make(chan error, 1)
	go func() {
		_, err := e.swap(context.Background(), next)
		done <- err
	}()
	waitFor(t, "the switch", func() bool { return e.Module() == next })
	// The only old instance is held: a query now can only be answered by
	// the new pool.
	if _, err := e.Lookup(context.Background(), query("www.x."), nil); err != nil {
		t.Fatalf("Lookup during the swap: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Swap returned (%v) while a query held an old instance", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The query in flight still runs on its old instance.
	q := query("www.x.")
	out, err := held.in.Lookup(context.Background(), q, nil)
	if err != nil || out.Kind != OutcomeAnswer {
		t.Fatalf("query in flight on the old instance: %v %v", describe(out), err)
	}
	e.giveBack(oldGen, held)
	if err := <-done; err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if _, err := held.in.Lookup(context.Background(), q, nil); err == nil {
		t.Error("the old instance still answers after Swap returned")
	}
}

func TestSwapAfterClose(t *testing.T) {
	e, _, err := New(context.Background(), compileGuest(t), Config{PoolSize: 1, Stanzas: stanzasForSwap})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = e.swap(context.Background(), compileGuest(t))
	var se *SwapError
	if !errors.As(err, &se) || se.Reason != SwapRefusedClosed {
		t.Fatalf("Swap after Close = %v, want a %q refusal", err, SwapRefusedClosed)
	}
}
