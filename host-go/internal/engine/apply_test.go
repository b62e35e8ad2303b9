package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigEvent is an upsert of an object of about 64 KiB, which the test
// guest keeps whole: a state of many of them fills a small memory.
func bigEvent(name string) KeyedEvent {
	pad := strings.Repeat("x", 64<<10)
	object := fmt.Appendf(nil, `{"metadata":{"namespace":"big","name":%q},"pad":%q}`, name, pad)
	return KeyedEvent{Event{Change: ChangeUpsert, Kind: KindService, Object: object}, "big/" + name}
}

// deleteOf is the delete of a bigEvent's object, with a small object.
func deleteOf(ev KeyedEvent) KeyedEvent {
	ns, name, _ := strings.Cut(ev.Key, "/")
	return objectEvent(ChangeDelete, ev.Kind, ns, name, 0)
}

// keepAsking looks up names until stop is closed, and reports any query
// that failed or went unanswered for a minute (a guard, not a measure).
func keepAsking(t *testing.T, e *Engine, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := e.Lookup(ctx, query(fmt.Sprintf("q%d.x.", i)), nil)
			cancel()
			if err != nil {
				t.Errorf("a query during the batch: %v", err)
				return
			}
		}
	})
	return &wg
}

// A batch too big for the instances' memory is not an outage (issue 10:
// with wasm_memory 16Mi and 100k services every query went unanswered
// and replacements failed forever). It is tried on one instance; the
// chunks that fit are applied everywhere, the rest is refused and held
// back, the instance that tried it is rebuilt without it, queries are
// answered throughout, and the stanza is told it is not synced (its
// misses answer SERVFAIL) until the held objects are applied.
func TestEngineRefusesBatchThatDoesNotFit(t *testing.T) {
	const limit = 16 << 20
	var log logs
	e := newEngine(t, compileGuest(t), Config{
		PoolSize: 2, Stanzas: []Stanza{{}}, HashSeed: 4, MemoryLimit: limit, Logf: log.logf,
		LookupTimeout: time.Minute, CallTimeout: time.Minute,
	})
	m := newModel(4, 1)
	small := []KeyedEvent{objectEvent(ChangeUpsert, KindService, "a", "one", 1), objectEvent(ChangeUpsert, KindService, "a", "two", 1)}
	if _, err := e.Apply(0, small); err != nil {
		t.Fatal(err)
	}
	m.apply(0, small)
	e.SetSynced(0, true)

	var big []KeyedEvent
	for i := range 300 { // about 19 MiB
		big = append(big, bigEvent(fmt.Sprintf("b%03d", i)))
	}
	stop := make(chan struct{})
	asking := keepAsking(t, e, stop)
	res, err := e.Apply(0, big)
	close(stop)
	asking.Wait()
	if err != nil {
		t.Fatal(err)
	}
	fit := len(big) - res.Refused
	t.Logf("%d of %d fit; %d refused, wanted %d bytes", fit, len(big), res.Refused, res.Wanted)
	if fit == 0 || res.Refused == 0 || res.Held != res.Refused || res.Applied != uint32(fit) ||
		res.Wanted <= limit || len(res.RefusedObjects) != 3 || res.RefusedObjects[0] != "service big/"+big[fit].Key[4:] {
		t.Fatalf("Apply = %+v, want the chunks that fit applied and the rest refused", res)
	}
	waitFor(t, "the instance that tried the batch to be rebuilt", func() bool { return e.stats().Replacements == 1 })
	// No instance holds a refused event, the rebuilt one included: each
	// has received exactly the small objects and those that fit.
	everyInstance(t, e, func(in *instance) {
		if got := countsOf(t, in)[0]; got != uint32(len(small)+fit) {
			t.Errorf("an instance received %d events, want %d", got, len(small)+fit)
		}
		if page, _, err := in.Transfer(context.Background(), "x.", 0, nil); err != nil || string(page.Messages[2]) != "false" {
			t.Errorf("the core is told the stanza is synced (%q, %v) while objects are held back", page.Messages, err)
		}
	})
	if s := e.stats(); s.ReplacementFailures != 0 || s.Traps != 0 {
		t.Errorf("Stats = %+v: no failure expected", s)
	}

	// The objects that fit go, and the state is the small objects again.
	var gone []KeyedEvent
	for _, ev := range big[:fit] {
		gone = append(gone, deleteOf(ev))
	}
	if res, err := e.Apply(0, gone); err != nil || res.Refused != 0 || res.Held != len(big)-fit {
		t.Fatalf("Apply(deletes) = %+v, %v", res, err)
	}
	checkReplicas(t, e, m) // synced false: objects are held back

	// A later version of a held object is tried again, and fits; deleting
	// the others empties what is held, and the stanza is synced again.
	again := objectEvent(ChangeUpsert, KindService, "big", big[fit].Key[4:], 2)
	if res, err := e.Apply(0, []KeyedEvent{again}); err != nil || res.Refused != 0 || res.Held != len(big)-fit-1 {
		t.Fatalf("Apply(a new version of a held object) = %+v, %v", res, err)
	}
	m.apply(0, []KeyedEvent{again})
	var rest []KeyedEvent
	for _, ev := range big[fit+1:] {
		rest = append(rest, deleteOf(ev))
	}
	if res, err := e.Apply(0, rest); err != nil || res.Held != 0 {
		t.Fatalf("Apply(deletes of the held objects) = %+v, %v", res, err)
	}
	m.synced[0] = true
	checkReplicas(t, e, m)
}

// A batch that fits a fresh replica of the state is not refused because
// the instance that tried it first had no room: memory only grows, and an
// instance that has seen many changes may lack room (a fragmented heap, a
// grow refused to a guest that carried on) that a replica of the same
// state has. The replica takes the instance's place.
func TestEngineTriesAFreshReplica(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: []Stanza{{}}, HashSeed: 6})
	m := newModel(6, 1)
	for i := range 3 {
		batch := []KeyedEvent{objectEvent(ChangeUpsert, KindService, "a", fmt.Sprintf("s%d", i), 1)}
		if _, err := e.Apply(0, batch); err != nil {
			t.Fatal(err)
		}
		m.apply(0, batch)
	}
	// The instance has seen live changes; say it was refused memory once.
	everyInstance(t, e, func(in *instance) { in.memory.refused = true })
	batch := []KeyedEvent{objectEvent(ChangeUpsert, KindService, "a", "new", 1)}
	if res, err := e.Apply(0, batch); err != nil || res.Refused != 0 || res.Held != 0 {
		t.Fatalf("Apply = %+v, %v; want it to fit a fresh replica", res, err)
	}
	m.apply(0, batch)
	checkReplicas(t, e, m)
	everyInstance(t, e, func(in *instance) {
		if in.outOfMemory() || countsOf(t, in)[0] != 4 {
			t.Errorf("the instance is not the replica (3 objects replayed, then the batch): %d events", countsOf(t, in)[0])
		}
	})
	if s := e.stats(); s != (stats{}) {
		t.Errorf("Stats = %+v: trying a replica is no failure", s)
	}
}

// When every instance is down and its replacement keeps failing, a query
// is answered at once (SERVFAIL, from ErrNoInstance) instead of waiting
// for an instance that may never come; replacements retry with a growing
// wait, not in a tight loop.
func TestEngineAnswersWhenEveryInstanceIsDown(t *testing.T) {
	mod, err := Compile(context.Background(), testGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	var log logs
	e := newEngine(t, mod, Config{PoolSize: 2, Stanzas: []Stanza{{}}, Logf: log.logf})
	// Closing the Module closes its instances, and every replacement
	// fails: nothing can be instantiated from it any more.
	_ = mod.Close(context.Background())
	var ce *CallError
	for i := 0; ; i++ {
		_, err := e.Lookup(context.Background(), query("www.x."), nil)
		if errors.Is(err, ErrNoInstance) {
			break
		}
		if !errors.As(err, &ce) || i > 100 {
			t.Fatalf("Lookup %d = %v, want a closed instance until none is up", i, err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Lookup(context.Background(), query("www.x."), nil) // no deadline
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoInstance) {
			t.Errorf("Lookup = %v, want ErrNoInstance", err)
		}
	case <-time.After(time.Minute): // a guard against waiting forever
		t.Fatal("a query waits for an instance while none can come up")
	}
	time.Sleep(time.Second)
	// A growing wait from 100 ms: a few attempts per instance in a
	// second, where a tight loop makes thousands.
	if n := e.stats().ReplacementFailures; n == 0 || n > 20 {
		t.Errorf("%d failed replacements in about a second, want a few", n)
	}
}
