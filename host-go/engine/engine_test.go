package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// model is what the test expects every replica to hold, printed the way
// the test guest dumps its state.
type model struct {
	seed    uint64
	ips     []string
	synced  []bool
	objects []map[[2]string][]byte // per stanza, (kind name, key) -> JSON
}

func newModel(seed uint64, stanzas int) *model {
	m := &model{seed: seed, synced: make([]bool, stanzas), objects: make([]map[[2]string][]byte, stanzas)}
	for i := range m.objects {
		m.objects[i] = map[[2]string][]byte{}
	}
	return m
}

func (m *model) apply(stanza int, events []Event) {
	for _, e := range events {
		k := [2]string{e.Kind.String(), e.Key}
		if e.Change == ChangeDelete {
			delete(m.objects[stanza], k)
		} else {
			m.objects[stanza][k] = e.Object
		}
	}
}

func (m *model) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed=%d\nips=%s\n", m.seed, strings.Join(m.ips, ","))
	for i, objects := range m.objects {
		fmt.Fprintf(&b, "stanza %d synced=%v objects=%d\n", i, m.synced[i], len(objects))
		keys := slices.SortedFunc(func(yield func([2]string) bool) {
			for k := range objects {
				if !yield(k) {
					return
				}
			}
		}, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
		for _, k := range keys {
			fmt.Fprintf(&b, "%d %s %s %s\n", i, k[0], k[1], objects[k])
		}
	}
	return b.String()
}

// objectEvent is an event whose Key matches the key the test guest reads from
// the JSON.
func objectEvent(change Change, kind Kind, ns, name string, version int) Event {
	return Event{
		Change: change,
		Kind:   kind,
		Object: fmt.Appendf(nil, `{"metadata":{"namespace":%q,"name":%q},"v":%d}`, ns, name, version),
		Key:    ns + "/" + name,
	}
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newEngine(t testing.TB, mod *Module, cfg Config) *Engine {
	t.Helper()
	e, _, err := New(context.Background(), mod, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// everyInstance runs f on each instance of the pool, holding all of them
// so nothing else runs meanwhile. It waits for replacements to finish.
func everyInstance(t testing.TB, e *Engine, f func(in *Instance)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	held := make([]*slot, len(e.pool.slots))
	for i := range held {
		s, err := e.pool.borrow(ctx)
		if err != nil {
			t.Fatalf("borrowing instance %d of %d: %v", i+1, len(held), err)
		}
		held[i] = s
	}
	for _, s := range held {
		f(s.in)
	}
	for _, s := range held {
		e.pool.release(s, s.seq)
	}
}

func dumps(t testing.TB, e *Engine) []string {
	var out []string
	everyInstance(t, e, func(in *Instance) { out = append(out, stateOf(t, in)) })
	return out
}

func checkReplicas(t testing.TB, e *Engine, m *model) {
	t.Helper()
	want := m.dump()
	for i, got := range dumps(t, e) {
		if got != want {
			t.Errorf("instance %d holds\n%s\nwant\n%s", i, got, want)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewReturnsConfigError(t *testing.T) {
	mod := compileGuest(t)
	stanzas := []Stanza{{}, {Properties: []Property{{Name: "bad", Args: []string{"no", "good"}, Line: 12}}}}
	e, plans, err := New(context.Background(), mod, Config{PoolSize: 2, Stanzas: stanzas})
	ce, ok := err.(*ConfigError)
	if !ok || e != nil || plans != nil {
		t.Fatalf("New = %v, %v, %v; want a bare *ConfigError", e, plans, err)
	}
	if want := (ConfigError{Stanza: 1, Line: 12, Property: "bad", Reason: "no good"}); *ce != want {
		t.Errorf("ConfigError = %+v, want %+v", *ce, want)
	}
}

func TestNewDefaults(t *testing.T) {
	mod := compileGuest(t)
	stanzas := []Stanza{{Zones: []string{"A."}, Properties: []Property{{Name: "pods"}}}}
	e, plans, err := New(context.Background(), mod, Config{Stanzas: stanzas})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	want := []StanzaPlan{{Zones: []string{"a."}, Kinds: []Kind{KindNamespace, KindService, KindEndpointSlice, KindPod}}}
	if !reflect.DeepEqual(plans, want) || !reflect.DeepEqual(e.Plans(), want) {
		t.Errorf("plans = %v, want %v", plans, want)
	}
	if got, want := len(e.pool.slots), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("pool size %d, want GOMAXPROCS = %d", got, want)
	}
	if e.HashSeed() == 0 {
		t.Errorf("hash seed is 0, want a random one")
	}
	checkReplicas(t, e, newModel(e.HashSeed(), 1))
}

func TestEngineSpreadsChanges(t *testing.T) {
	mod := compileGuest(t)
	e := newEngine(t, mod, Config{PoolSize: 3, Stanzas: []Stanza{{}, {}}, HashSeed: 99})
	e.now = func() time.Time { return time.Unix(1700000000, 0) }
	m := newModel(99, 2)

	if err := e.SetLocalIPs([]string{"10.1.1.1", "fd00::1"}); err != nil {
		t.Fatal(err)
	}
	m.ips = []string{"10.1.1.1", "fd00::1"}
	batches := []struct {
		stanza int
		events []Event
	}{
		{0, []Event{objectEvent(ChangeUpsert, KindNamespace, "", "default", 1), objectEvent(ChangeUpsert, KindService, "default", "web", 1)}},
		{1, []Event{objectEvent(ChangeUpsert, KindPod, "kube-system", "dns", 1)}},
		{0, []Event{objectEvent(ChangeUpsert, KindService, "default", "web", 2), objectEvent(ChangeUpsert, KindService, "default", "db", 1)}},
		{0, []Event{objectEvent(ChangeDelete, KindService, "default", "db", 1)}},
		{1, nil},
	}
	total := make([]uint32, 2)
	for _, b := range batches {
		report, err := e.Apply(b.stanza, b.events)
		if err != nil {
			t.Fatal(err)
		}
		want := ApplyReport{Applied: uint32(len(b.events)), Problems: []string{}, Serial: 1700000000}
		if !reflect.DeepEqual(report, want) {
			t.Errorf("report = %+v, want %+v", report, want)
		}
		m.apply(b.stanza, b.events)
		total[b.stanza] += uint32(len(b.events))
	}
	e.SetSynced(1, true)
	m.synced[1] = true
	checkReplicas(t, e, m)
	// Each instance got each event exactly once.
	everyInstance(t, e, func(in *Instance) {
		if got := countsOf(t, in); !reflect.DeepEqual(got, total) {
			t.Errorf("events per stanza = %v, want %v", got, total)
		}
	})

	msgs, auth, err := e.Transfer(context.Background(), "cluster.local.", 7)
	if err != nil || !auth || string(msgs[1]) != "7" || string(msgs[2]) != "false" {
		t.Errorf("Transfer = %q, %v, %v", msgs, auth, err)
	}
}

func TestEngineRefusesBadArguments(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: []Stanza{{}}})
	for _, tt := range []struct {
		stanza int
		events []Event
	}{
		{stanza: 1},
		{stanza: -1},
		{stanza: 0, events: []Event{{Kind: KindService, Object: []byte("{}")}}}, // no key
		{stanza: 0, events: []Event{{Kind: kindCount, Key: "a/b"}}},
	} {
		if _, err := e.Apply(tt.stanza, tt.events); err == nil {
			t.Errorf("Apply(%d, %v) succeeded, want an error", tt.stanza, tt.events)
		}
	}
	if err := e.SetLocalIPs([]string{"\xfe"}); err == nil {
		t.Errorf("SetLocalIPs(invalid UTF-8) succeeded")
	}
	if s := e.Stats(); s != (Stats{}) {
		t.Errorf("Stats = %+v after refused arguments, want zero", s)
	}
}

func TestEngineReplacesFailedInstance(t *testing.T) {
	const limit = 32 << 20
	mod := compileGuest(t, WithMemoryLimit(limit))
	tests := []struct {
		name    string
		query   string
		timeout time.Duration
		want    Stats
	}{
		{name: "trap", query: "trap.x.", want: Stats{Traps: 1, Replacements: 1}},
		{name: "loop", query: "loop.x.", timeout: 50 * time.Millisecond, want: Stats{CutOffs: 1, Replacements: 1}},
		{name: "memory", query: "grow.x.", want: Stats{Traps: 1, Replacements: 1}},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/pool %d", tt.name, size), func(t *testing.T) {
				var log logs
				e := newEngine(t, mod, Config{PoolSize: size, Stanzas: []Stanza{{}, {}}, HashSeed: 5, Logf: log.logf})
				m := newModel(5, 2)
				// Enough objects for a replay in several batches.
				var events []Event
				for i := range 1500 {
					events = append(events, objectEvent(ChangeUpsert, Kind(i%int(kindCount)), fmt.Sprintf("ns%d", i%7), fmt.Sprintf("o%d", i), 1))
				}
				for _, b := range [][]Event{events, events[:10], {objectEvent(ChangeDelete, KindNamespace, "ns0", "o0", 1)}} {
					if _, err := e.Apply(0, b); err != nil {
						t.Fatal(err)
					}
					m.apply(0, b)
				}
				e.SetSynced(0, true)
				m.synced[0] = true
				if err := e.SetLocalIPs([]string{"192.0.2.7"}); err != nil {
					t.Fatal(err)
				}
				m.ips = []string{"192.0.2.7"}

				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				_, err := e.Lookup(ctx, query(tt.query), nil)
				var ce *CallError
				if !errors.As(err, &ce) {
					t.Fatalf("Lookup(%s) = %v, want a *CallError", tt.query, err)
				}
				// The pool keeps answering, from the replaced instance too
				// when it is the only one.
				for range 2 * size {
					q := query("www.x.")
					out, err := e.Lookup(context.Background(), q, nil)
					if err != nil || string(out.Answer) != string(echo(q, "192.0.2.7")) {
						t.Fatalf("Lookup after the failure = %q, %v", out.Answer, err)
					}
				}
				waitFor(t, "the replacement", func() bool { return e.Stats().Replacements == 1 })
				if got := e.Stats(); got != tt.want {
					t.Errorf("Stats = %+v, want %+v", got, tt.want)
				}
				checkReplicas(t, e, m)
				// The replacement got each live object once, in a replay;
				// the others got every event ever sent.
				replayed := 0
				everyInstance(t, e, func(in *Instance) {
					if countsOf(t, in)[0] == 1500-1 {
						replayed++
					}
				})
				if replayed != 1 {
					t.Errorf("%d instances hold a replay, want 1", replayed)
				}
				if !strings.Contains(log.String(), "replaced a core instance") {
					t.Errorf("log lacks the replacement:\n%s", log.String())
				}
			})
		}
	}
}

func TestEngineLookupWaitsForAnInstance(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: []Stanza{{}}})
	s, err := e.pool.borrow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.Lookup(ctx, query("www.x."), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup with the only instance busy = %v, want DeadlineExceeded", err)
	}
	done := make(chan error)
	go func() {
		_, err := e.Lookup(context.Background(), query("www.x."), nil)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	e.pool.release(s, s.seq)
	if err := <-done; err != nil {
		t.Errorf("Lookup after the instance came back = %v", err)
	}
	if e.Stats() != (Stats{}) {
		t.Errorf("Stats = %+v, want zero: waiting is not a failure", e.Stats())
	}
}

// An object the core traps on is found by the replay, left out, and the
// rest of its batch kept.
func TestEngineQuarantinesPoisonObject(t *testing.T) {
	var log logs
	e := newEngine(t, compileGuest(t), Config{PoolSize: 2, Stanzas: []Stanza{{}}, HashSeed: 3, Logf: log.logf})
	m := newModel(3, 1)
	good := []Event{objectEvent(ChangeUpsert, KindService, "a", "one", 1), objectEvent(ChangeUpsert, KindService, "a", "two", 1)}
	if _, err := e.Apply(0, good); err != nil {
		t.Fatal(err)
	}
	m.apply(0, good)
	poison := objectEvent(ChangeUpsert, KindService, "a", "bad", 1)
	poison.Object = []byte(`{"metadata":{"namespace":"a","name":"bad"},"trap":true}`)
	batch := []Event{objectEvent(ChangeUpsert, KindService, "a", "three", 1), poison, objectEvent(ChangeDelete, KindService, "a", "one", 1)}
	if _, err := e.Apply(0, batch); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Apply(poison) = %v, want the trap", err)
	}
	m.apply(0, []Event{batch[0], batch[2]})
	checkReplicas(t, e, m)
	if got := e.Stats(); got.Quarantined != 1 || got.Traps < 2 || got.Replacements != 2 {
		t.Errorf("Stats = %+v, want 1 quarantined, 2 replacements", got)
	}
	if !strings.Contains(log.String(), `leaving service "a/bad" out of the core`) {
		t.Errorf("log lacks the quarantine:\n%s", log.String())
	}
	// A new version of the object lifts the quarantine.
	fixed := objectEvent(ChangeUpsert, KindService, "a", "bad", 2)
	if _, err := e.Apply(0, []Event{fixed}); err != nil {
		t.Fatal(err)
	}
	m.apply(0, []Event{fixed})
	checkReplicas(t, e, m)
}

// Many queries, some failing, while state changes: at the end every
// replica, replaced or not, holds exactly the expected state.
func TestEngineConcurrent(t *testing.T) {
	const stanzas = 2
	e := newEngine(t, compileGuest(t), Config{PoolSize: 4, Stanzas: make([]Stanza, stanzas), HashSeed: 11})
	m := newModel(11, stanzas)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lookups, failures atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Real query goroutines block on the network between
				// queries. Ones that never do hold the CPU for whole
				// scheduler slices and delay Apply by milliseconds per
				// instance, which only makes the test slow.
				runtime.Gosched()
				name := fmt.Sprintf("q%d-%d.x.", g, i)
				if g == 0 && i%100 == 99 {
					name = "trap.x."
				}
				q := query(name)
				out, err := e.Lookup(context.Background(), q, nil)
				lookups.Add(1)
				if name == "trap.x." {
					if err == nil {
						t.Errorf("Lookup(trap) succeeded")
					}
					failures.Add(1)
					continue
				}
				want := echo(q)
				if err != nil || out.Kind != OutcomeAnswer || !strings.HasPrefix(string(out.Answer), string(want)) {
					t.Errorf("Lookup(%s) = %v %q, %v", name, out.Kind, out.Answer, err)
					return
				}
				if i%50 == 0 {
					if _, _, err := e.Transfer(context.Background(), "x.", 1); err != nil {
						t.Errorf("Transfer: %v", err)
					}
				}
			}
		}()
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		stanza := rng.IntN(stanzas)
		var events []Event
		for range 1 + rng.IntN(20) {
			change := ChangeUpsert
			if rng.IntN(4) == 0 {
				change = ChangeDelete
			}
			events = append(events, objectEvent(change, Kind(rng.IntN(3)), "ns", fmt.Sprintf("o%d", rng.IntN(60)), round))
		}
		if _, err := e.Apply(stanza, events); err != nil {
			t.Fatal(err)
		}
		m.apply(stanza, events)
		if round%37 == 0 {
			synced := rng.IntN(2) == 0
			e.SetSynced(stanza, synced)
			m.synced[stanza] = synced
		}
		if round%53 == 0 {
			m.ips = []string{fmt.Sprintf("10.0.0.%d", round)}
			if err := e.SetLocalIPs(m.ips); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	waitFor(t, "replacements", func() bool { return e.Stats().Replacements == uint64(failures.Load()) })
	t.Logf("%d lookups, %d failures, stats %+v", lookups.Load(), failures.Load(), e.Stats())
	if failures.Load() == 0 {
		t.Errorf("no failure happened during the changes: the test proves little")
	}
	checkReplicas(t, e, m)
}

func TestEngineClose(t *testing.T) {
	e, _, err := New(context.Background(), compileGuest(t), Config{PoolSize: 2, Stanzas: []Stanza{{}}})
	if err != nil {
		t.Fatal(err)
	}
	// A replacement in flight when Close is called is waited for.
	if _, err := e.Lookup(context.Background(), query("trap.x."), nil); err == nil {
		t.Fatal("Lookup(trap) succeeded")
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Lookup(context.Background(), query("www.x."), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close = %v, want ErrClosed", err)
	}
	if _, _, err := e.Transfer(context.Background(), "x.", 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Transfer after Close = %v, want ErrClosed", err)
	}
	if _, err := e.Apply(0, []Event{objectEvent(ChangeUpsert, KindService, "a", "b", 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close = %v, want ErrClosed", err)
	}
	if err := e.SetLocalIPs(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetLocalIPs after Close = %v, want ErrClosed", err)
	}
	e.SetSynced(0, true) // a no-op, and no hang
}

func TestSnapshotOrder(t *testing.T) {
	st := newState(1)
	st.recordEvents(0, []Event{
		objectEvent(ChangeUpsert, KindService, "b", "s", 1),
		objectEvent(ChangeUpsert, KindPod, "a", "p", 1),
		objectEvent(ChangeUpsert, KindNamespace, "", "z", 1),
		objectEvent(ChangeUpsert, KindService, "a", "s", 1),
		objectEvent(ChangeUpsert, KindNamespace, "", "a", 1),
		objectEvent(ChangeUpsert, KindEndpointSlice, "a", "gone", 1),
	}, 0, false)
	st.recordEvents(0, []Event{objectEvent(ChangeDelete, KindEndpointSlice, "a", "gone", 1)}, 0, false)
	snap := st.snapshot()
	var got []string
	for _, e := range snap.stanzas[0].events {
		got = append(got, e.Kind.String()+" "+e.Key)
	}
	want := []string{"namespace /a", "namespace /z", "service a/s", "service b/s", "pod a/p"}
	if !reflect.DeepEqual(got, want) || snap.seq != 2 {
		t.Errorf("snapshot at %d = %q, want %q at 2", snap.seq, got, want)
	}
	if !st.quarantine(0, &snap.stanzas[0].events[2]) {
		t.Fatal("quarantine refused")
	}
	if n := len(st.snapshot().stanzas[0].events); n != 4 {
		t.Errorf("snapshot holds %d events after a quarantine, want 4", n)
	}
}
