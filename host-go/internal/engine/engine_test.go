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
	host    HostInfo
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

func (m *model) apply(stanza int, events []KeyedEvent) {
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
	fmt.Fprintf(&b, "seed=%d\nips=%s\nsearch=%s\n", m.seed, strings.Join(m.host.LocalIPs, ","), strings.Join(m.host.Search, ","))
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
func objectEvent(change Change, kind Kind, ns, name string, version int) KeyedEvent {
	object := fmt.Appendf(nil, `{"metadata":{"namespace":%q,"name":%q},"v":%d}`, ns, name, version)
	return KeyedEvent{Event{Change: change, Kind: kind, Object: object}, ns + "/" + name}
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

// take returns the lines logged since the last take.
func (l *logs) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
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
func everyInstance(t testing.TB, e *Engine, f func(in *instance)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var held []*slot
	// Deferred so that a t.Fatal in f gives the slots back: otherwise
	// Engine.Close, in the test's cleanup, would wait for them forever.
	defer func() {
		for _, s := range held {
			e.gen.Load().pool.release(s, s.seq)
		}
	}()
	for i := range len(e.gen.Load().pool.slots) {
		s, err := e.gen.Load().pool.borrow(ctx)
		if err != nil {
			t.Fatalf("borrowing instance %d of %d: %v", i+1, len(e.gen.Load().pool.slots), err)
		}
		held = append(held, s)
	}
	for _, s := range held {
		f(s.in)
	}
}

func dumps(t testing.TB, e *Engine) []string {
	var out []string
	everyInstance(t, e, func(in *instance) { out = append(out, stateOf(t, in)) })
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
	e, conf, err := New(context.Background(), mod, Config{PoolSize: 2, Stanzas: stanzas})
	ce, ok := err.(*ConfigError)
	if !ok || e != nil || conf.Stanzas != nil {
		t.Fatalf("New = %v, %v, %v; want a bare *ConfigError", e, conf, err)
	}
	if want := (ConfigError{Stanza: 1, Line: 12, Property: "bad", Reason: "no good"}); *ce != want {
		t.Errorf("ConfigError = %+v, want %+v", *ce, want)
	}
}

func TestNewDefaults(t *testing.T) {
	mod := compileGuest(t)
	stanzas := []Stanza{{Zones: []string{"A."}, Properties: []Property{{Name: "pods"}}}}
	e, conf, err := New(context.Background(), mod, Config{Stanzas: stanzas})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	want := guestConfiguration(guestPlan([]string{"a."}, KindPod))
	if !reflect.DeepEqual(conf, want) || !reflect.DeepEqual(e.configuration(), want) {
		t.Errorf("configuration = %+v, want %+v", conf, want)
	}
	if got, want := len(e.gen.Load().pool.slots), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("pool size %d, want GOMAXPROCS = %d", got, want)
	}
	if e.hashSeed() == 0 {
		t.Errorf("hash seed is 0, want a random one")
	}
	checkReplicas(t, e, newModel(e.hashSeed(), 1))
}

func TestEngineSpreadsChanges(t *testing.T) {
	mod := compileGuest(t)
	e := newEngine(t, mod, Config{PoolSize: 3, Stanzas: []Stanza{{Zones: []string{"a.", "b."}}, {}}, HashSeed: 99})
	e.now = func() time.Time { return time.Unix(1700000000, 0) }
	m := newModel(99, 2)

	m.host = HostInfo{LocalIPs: []string{"10.1.1.1", "fd00::1"}, Search: []string{"corp.example."}}
	if err := e.SetHost(m.host); err != nil {
		t.Fatal(err)
	}
	batches := []struct {
		stanza int
		events []KeyedEvent
	}{
		{0, []KeyedEvent{objectEvent(ChangeUpsert, KindNamespace, "", "default", 1), objectEvent(ChangeUpsert, KindService, "default", "web", 1)}},
		{1, []KeyedEvent{objectEvent(ChangeUpsert, KindPod, "kube-system", "dns", 1)}},
		{0, []KeyedEvent{objectEvent(ChangeUpsert, KindService, "default", "web", 2), objectEvent(ChangeUpsert, KindService, "default", "db", 1)}},
		{0, []KeyedEvent{objectEvent(ChangeDelete, KindService, "default", "db", 1)}},
		{1, nil},
	}
	total := make([]uint32, 2)
	for _, b := range batches {
		report, err := e.Apply(b.stanza, b.events)
		if err != nil {
			t.Fatal(err)
		}
		want := ApplyReport{Applied: uint32(len(b.events)), Problems: []string{}, Serials: []ZoneSerial{}}
		if b.stanza == 0 {
			want.Serials = serials(1700000000, "a.", "b.")
		}
		if !reflect.DeepEqual(report, ApplyResult{ApplyReport: want}) {
			t.Errorf("report = %+v, want %+v", report, want)
		}
		m.apply(b.stanza, b.events)
		total[b.stanza] += uint32(len(b.events))
	}
	e.SetSynced(1, true)
	m.synced[1] = true
	checkReplicas(t, e, m)
	// Each instance got each event exactly once.
	everyInstance(t, e, func(in *instance) {
		if got := countsOf(t, in); !reflect.DeepEqual(got, total) {
			t.Errorf("events per stanza = %v, want %v", got, total)
		}
	})

	page, auth, err := e.Transfer(context.Background(), "cluster.local.", 7, nil)
	if err != nil || !auth || string(page.Messages[1]) != "7" || string(page.Messages[2]) != "false" {
		t.Errorf("Transfer = %q, %v, %v", page.Messages, auth, err)
	}
}

func TestEngineRefusesBadArguments(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: []Stanza{{}}})
	for _, tt := range []struct {
		stanza int
		events []KeyedEvent
	}{
		{stanza: 1},
		{stanza: -1},
		{stanza: 0, events: []KeyedEvent{{Event: Event{Kind: KindService, Object: []byte("{}")}}}}, // no key
		{stanza: 0, events: []KeyedEvent{{Event: Event{Kind: KindServiceImport + 1}, Key: "a/b"}}},
		{stanza: 0, events: []KeyedEvent{{Event: Event{Change: ChangeDelete + 1}, Key: "a/b"}}},
	} {
		if _, err := e.Apply(tt.stanza, tt.events); err == nil {
			t.Errorf("Apply(%d, %v) succeeded, want an error", tt.stanza, tt.events)
		}
	}
	if err := e.SetHost(HostInfo{LocalIPs: []string{"\xfe"}}); err == nil {
		t.Errorf("SetHost(invalid UTF-8 address) succeeded")
	}
	if err := e.SetHost(HostInfo{Search: []string{"\xfe."}}); err == nil {
		t.Errorf("SetHost(invalid UTF-8 search domain) succeeded")
	}
	if _, _, err := e.AutoPath(context.Background(), "\xfe.", "c"); err == nil {
		t.Errorf("AutoPath(invalid UTF-8) succeeded")
	}
	if _, err := e.Metadata(context.Background(), "q.", "\xfe"); err == nil {
		t.Errorf("Metadata(invalid UTF-8) succeeded")
	}
	if s := e.stats(); s != (stats{}) {
		t.Errorf("Stats = %+v after refused arguments, want zero", s)
	}
}

func TestEngineReplacesFailedInstance(t *testing.T) {
	const limit = 32 << 20
	mod := compileGuest(t)
	tests := []struct {
		name    string
		query   string
		timeout time.Duration
		want    stats
	}{
		{name: "trap", query: "trap.x.", want: stats{Traps: 1, Replacements: 1}},
		{name: "loop", query: "loop.x.", timeout: 50 * time.Millisecond, want: stats{CutOffs: 1, Replacements: 1}},
		{name: "memory", query: "grow.x.", want: stats{Traps: 1, Replacements: 1}},
		{name: "out of bounds", query: "oob.x.", want: stats{Traps: 1, Replacements: 1}},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/pool %d", tt.name, size), func(t *testing.T) {
				var log logs
				// The per-call bound is set far above what growing to the
				// memory limit takes, even on a loaded machine under the race
				// detector, so that the limit, not the clock, stops "grow".
				e := newEngine(t, mod, Config{PoolSize: size, Stanzas: []Stanza{{}, {}}, HashSeed: 5, Logf: log.logf, LookupTimeout: time.Minute, MemoryLimit: limit})
				m := newModel(5, 2)
				// Enough objects for a replay in several batches.
				var events []KeyedEvent
				for i := range 1500 {
					events = append(events, objectEvent(ChangeUpsert, Kind(i%kinds), fmt.Sprintf("ns%d", i%7), fmt.Sprintf("o%d", i), 1))
				}
				for _, b := range [][]KeyedEvent{events, events[:10], {objectEvent(ChangeDelete, KindNamespace, "ns0", "o0", 1)}} {
					if _, err := e.Apply(0, b); err != nil {
						t.Fatal(err)
					}
					m.apply(0, b)
				}
				e.SetSynced(0, true)
				m.synced[0] = true
				m.host = HostInfo{LocalIPs: []string{"192.0.2.7"}, Search: []string{"corp.example.", "ünï.example."}}
				if err := e.SetHost(m.host); err != nil {
					t.Fatal(err)
				}

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
					if err != nil || string(out.Answer.Message) != string(echo(q, "192.0.2.7")) {
						t.Fatalf("Lookup after the failure = %q, %v", out.Answer.Message, err)
					}
				}
				waitFor(t, "the replacement", func() bool { return e.stats().Replacements == 1 })
				if got := e.stats(); got != tt.want {
					t.Errorf("Stats = %+v, want %+v", got, tt.want)
				}
				checkReplicas(t, e, m)
				// The replacement got each live object once, in a replay;
				// the others got every event ever sent.
				replayed := 0
				everyInstance(t, e, func(in *instance) {
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
	s, err := e.gen.Load().pool.borrow(context.Background())
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
	e.gen.Load().pool.release(s, s.seq)
	if err := <-done; err != nil {
		t.Errorf("Lookup after the instance came back = %v", err)
	}
	if e.stats() != (stats{}) {
		t.Errorf("Stats = %+v, want zero: waiting is not a failure", e.stats())
	}
}

// An object the core traps on is found by the replay, left out, and the
// rest of its batch kept.
func TestEngineQuarantinesPoisonObject(t *testing.T) {
	var log logs
	e := newEngine(t, compileGuest(t), Config{PoolSize: 2, Stanzas: []Stanza{{}}, HashSeed: 3, Logf: log.logf})
	m := newModel(3, 1)
	good := []KeyedEvent{objectEvent(ChangeUpsert, KindService, "a", "one", 1), objectEvent(ChangeUpsert, KindService, "a", "two", 1)}
	if _, err := e.Apply(0, good); err != nil {
		t.Fatal(err)
	}
	m.apply(0, good)
	poison := objectEvent(ChangeUpsert, KindService, "a", "bad", 1)
	poison.Object = []byte(`{"metadata":{"namespace":"a","name":"bad"},"trap":true}`)
	batch := []KeyedEvent{objectEvent(ChangeUpsert, KindService, "a", "three", 1), poison, objectEvent(ChangeDelete, KindService, "a", "one", 1)}
	if _, err := e.Apply(0, batch); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Apply(poison) = %v, want the trap", err)
	}
	m.apply(0, []KeyedEvent{batch[0], batch[2]})
	checkReplicas(t, e, m)
	if got := e.stats(); got.Quarantined != 1 || got.Traps < 2 || got.Replacements != 2 {
		t.Errorf("Stats = %+v, want 1 quarantined, 2 replacements", got)
	}
	if !strings.Contains(log.String(), `leaving service "a/bad" out of the core`) {
		t.Errorf("log lacks the quarantine:\n%s", log.String())
	}
	// A new version of the object lifts the quarantine.
	fixed := objectEvent(ChangeUpsert, KindService, "a", "bad", 2)
	if _, err := e.Apply(0, []KeyedEvent{fixed}); err != nil {
		t.Fatal(err)
	}
	m.apply(0, []KeyedEvent{fixed})
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
				if err != nil || out.Kind != OutcomeAnswer || !strings.HasPrefix(string(out.Answer.Message), string(want)) {
					t.Errorf("Lookup(%s) = %v %q, %v", name, out.Kind, out.Answer.Message, err)
					return
				}
				if i%50 == 0 {
					if _, _, err := e.Transfer(context.Background(), "x.", 1, nil); err != nil {
						t.Errorf("Transfer: %v", err)
					}
				}
			}
		}()
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		stanza := rng.IntN(stanzas)
		var events []KeyedEvent
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
			m.host = HostInfo{LocalIPs: []string{fmt.Sprintf("10.0.0.%d", round)}, Search: []string{fmt.Sprintf("s%d.example.", round)}}
			if err := e.SetHost(m.host); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	waitFor(t, "replacements", func() bool { return e.stats().Replacements == uint64(failures.Load()) })
	t.Logf("%d lookups, %d failures, stats %+v", lookups.Load(), failures.Load(), e.stats())
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
	if _, _, err := e.Transfer(context.Background(), "x.", 0, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Transfer after Close = %v, want ErrClosed", err)
	}
	if _, err := e.Apply(0, []KeyedEvent{objectEvent(ChangeUpsert, KindService, "a", "b", 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close = %v, want ErrClosed", err)
	}
	if err := e.SetHost(HostInfo{}); !errors.Is(err, ErrClosed) {
		t.Errorf("SetHost after Close = %v, want ErrClosed", err)
	}
	if _, _, err := e.AutoPath(context.Background(), "q.", "c"); !errors.Is(err, ErrClosed) {
		t.Errorf("AutoPath after Close = %v, want ErrClosed", err)
	}
	if _, err := e.Metadata(context.Background(), "q.", "c"); !errors.Is(err, ErrClosed) {
		t.Errorf("Metadata after Close = %v, want ErrClosed", err)
	}
	e.SetSynced(0, true) // a no-op, and no hang
}

// AutoPath and Metadata go through the pool like Lookup: bounded by
// LookupTimeout, an instance that fails is replaced, and the replacement
// gets the host info back. The limit is far above what an ordinary call
// takes on a loaded machine, and far below CallTimeout, so that the error
// says which limit ended the loop.
func TestEngineAutoPathAndMetadata(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: []Stanza{{}}, LookupTimeout: 2 * time.Second})
	ctx := context.Background()
	// Search domains alone, no addresses: replayed all the same.
	if err := e.SetHost(HostInfo{Search: []string{"corp.example."}}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		search, ok, err := e.AutoPath(ctx, "q.", "10.0.0.1")
		if want := []string{"q.", "10.0.0.1", "corp.example.", ""}; err != nil || !ok || !reflect.DeepEqual(search, want) {
			t.Errorf("%s: AutoPath = %q, %v, %v; want %q", when, search, ok, err, want)
		}
		if search, ok, err := e.AutoPath(ctx, "q.", "none"); err != nil || ok || search != nil {
			t.Errorf("%s: AutoPath(unknown client) = %q, %v, %v; want nothing", when, search, ok, err)
		}
		entries, err := e.Metadata(ctx, "q.", "c")
		want := []MetadataEntry{{"test/qname", "q."}, {"test/client", "c"}, {"test/ünï", "✓ß🙂"}, {"test/search/0", "corp.example."}}
		if err != nil || !reflect.DeepEqual(entries, want) {
			t.Errorf("%s: Metadata = %q, %v; want %q", when, entries, err, want)
		}
	}
	check("before any failure")

	var ce *CallError
	if _, _, err := e.AutoPath(ctx, "q.", "trap"); !errors.As(err, &ce) || ce.Func != "autopath" {
		t.Fatalf("AutoPath(trap) = %v, want a *CallError from autopath", err)
	}
	waitFor(t, "the first replacement", func() bool { return e.stats().Replacements == 1 })
	check("after a replacement")

	_, err := e.Metadata(ctx, "q.", "loop") // no deadline: LookupTimeout ends it
	if !errors.As(err, &ce) || ce.Func != "metadata" || !errors.Is(err, ErrCutOff) || !strings.Contains(err.Error(), "time limit of 2s") {
		t.Fatalf("Metadata(loop) = %v, want a cut-off *CallError from metadata at the 2s LookupTimeout", err)
	}
	waitFor(t, "the second replacement", func() bool { return e.stats().Replacements == 2 })
	if got, want := e.stats(), (stats{Traps: 1, CutOffs: 1, Replacements: 2}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	check("after a cut-off")
}

// A batch reaches each instance in chunks of at most applyChunkEvents
// events and applyChunkBytes of objects, with one merged report.
func TestEngineApplyChunks(t *testing.T) {
	// The state dumps at the end carry 10 MiB of objects: no time limit
	// that a busy machine under -race could miss.
	e := newEngine(t, compileGuest(t), Config{
		PoolSize: 2, Stanzas: []Stanza{{Zones: []string{"a.", "b."}}}, HashSeed: 8, LookupTimeout: time.Minute,
	})
	const now = 1700000000
	e.now = func() time.Time { return time.Unix(now, 0) }
	m := newModel(8, 1)
	apply := func(events []KeyedEvent, want ApplyReport) {
		t.Helper()
		report, err := e.Apply(0, events)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(report, ApplyResult{ApplyReport: want}) {
			t.Errorf("report = %+v\nwant %+v", report, want)
		}
		for _, ev := range events {
			if ev.Object[0] == '{' { // the guest skips the others
				m.apply(0, []KeyedEvent{ev})
			}
		}
	}

	// 1300 events: chunks of 512, 512 and 276, each with one object the
	// guest skips.
	events := make([]KeyedEvent, 1300)
	for i := range events {
		events[i] = objectEvent(ChangeUpsert, KindService, "n", fmt.Sprintf("s%d", i), 1)
	}
	for _, i := range []int{3, 600, 1299} {
		events[i].Object = []byte("not json")
	}
	apply(events, ApplyReport{Applied: 1300, Skipped: 3, Serials: serials(now, "a.", "b."), Problems: []string{
		// The guest numbers events within each call.
		"event 3: service object is not JSON",
		"event 88: service object is not JSON",
		"event 275: service object is not JSON",
	}})
	// An empty batch is still one call: the report needs the serials.
	apply(nil, ApplyReport{Serials: serials(now, "a.", "b."), Problems: []string{}})
	// Ten objects of 1 MiB: three fit in applyChunkBytes, so 3+3+3+1.
	big := make([]KeyedEvent, 10)
	for i := range big {
		big[i] = objectEvent(ChangeUpsert, KindService, "big", fmt.Sprintf("b%d", i), 1)
		big[i].Object = fmt.Appendf(nil, `{"metadata":{"namespace":"big","name":"b%d"},"pad":"%s"}`, i, strings.Repeat("x", 1<<20))
	}
	apply(big, ApplyReport{Applied: 10, Serials: serials(now, "a.", "b."), Problems: []string{}})

	everyInstance(t, e, func(in *instance) {
		if got, want := perStanza(t, in, "calls"), []uint32{3 + 1 + 4}; !reflect.DeepEqual(got, want) {
			t.Errorf("apply calls = %v, want %v", got, want)
		}
		if got, want := countsOf(t, in), []uint32{1310}; !reflect.DeepEqual(got, want) {
			t.Errorf("events = %v, want %v", got, want)
		}
	})
	checkReplicas(t, e, m)
}

// A replay is chunked like a live batch.
func TestEngineReplayChunks(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: []Stanza{{}}, HashSeed: 9})
	m := newModel(9, 1)
	events := make([]KeyedEvent, 1300)
	for i := range events {
		events[i] = objectEvent(ChangeUpsert, KindEndpointSlice, "n", fmt.Sprintf("e%d", i), 1)
	}
	if _, err := e.Apply(0, events); err != nil {
		t.Fatal(err)
	}
	m.apply(0, events)
	if _, err := e.Lookup(context.Background(), query("trap.x."), nil); err == nil {
		t.Fatal("Lookup(trap) succeeded")
	}
	waitFor(t, "the replacement", func() bool { return e.stats().Replacements == 1 })
	everyInstance(t, e, func(in *instance) {
		if got, want := perStanza(t, in, "calls"), []uint32{3}; !reflect.DeepEqual(got, want) {
			t.Errorf("replay apply calls = %v, want %v (512+512+276)", got, want)
		}
	})
	checkReplicas(t, e, m)
}

// A poison object in a later chunk kills each instance there; the
// replacements hold the whole batch but the poison.
func TestEngineQuarantineInLaterChunk(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{PoolSize: 2, Stanzas: []Stanza{{}}, HashSeed: 10})
	m := newModel(10, 1)
	events := make([]KeyedEvent, 1000)
	for i := range events {
		events[i] = objectEvent(ChangeUpsert, KindService, "n", fmt.Sprintf("s%d", i), 1)
	}
	events[700].Object = []byte(`{"metadata":{"namespace":"n","name":"s700"},"trap":true}`)
	if _, err := e.Apply(0, events); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Apply(poison in chunk 2) = %v, want the trap", err)
	}
	m.apply(0, slices.Delete(slices.Clone(events), 700, 701))
	waitFor(t, "the replacements", func() bool { return e.stats().Replacements == 2 })
	checkReplicas(t, e, m)
	if got := e.stats(); got.Quarantined != 1 {
		t.Errorf("Stats = %+v, want 1 quarantined", got)
	}
}

// A replacement replays each stanza at the largest serial the stanza last
// reported, so that it reports the serials the other replicas have.
func TestEngineReplaySerial(t *testing.T) {
	stanzas := []Stanza{{Zones: []string{"a."}}, {Zones: []string{"x.", "y.", "z."}}, {}}
	e := newEngine(t, compileGuest(t), Config{PoolSize: 1, Stanzas: stanzas, HashSeed: 12})
	for i, at := range []int64{1700000001, 1700000002, 1700000003} {
		e.now = func() time.Time { return time.Unix(at, 0) }
		if _, err := e.Apply(i, []KeyedEvent{objectEvent(ChangeUpsert, KindService, "n", "s", i)}); err != nil {
			t.Fatal(err)
		}
	}
	everyInstance(t, e, func(in *instance) {
		if got, want := perStanza(t, in, "serial"), []uint32{1700000001, 1700000002, 1700000003}; !reflect.DeepEqual(got, want) {
			t.Errorf("live serials = %v, want %v", got, want)
		}
	})
	if _, err := e.Lookup(context.Background(), query("trap.x."), nil); err == nil {
		t.Fatal("Lookup(trap) succeeded")
	}
	waitFor(t, "the replacement", func() bool { return e.stats().Replacements == 1 })
	everyInstance(t, e, func(in *instance) {
		// Stanza 1 reported 1700000002, 1700000001 and 1700000000: the
		// largest wins. Stanza 2 has no zone to report a serial for, so
		// its replay runs at 0.
		if got, want := perStanza(t, in, "serial"), []uint32{1700000001, 1700000002, 0}; !reflect.DeepEqual(got, want) {
			t.Errorf("replayed serials = %v, want %v", got, want)
		}
	})
}

func TestMaxSerial(t *testing.T) {
	for _, tt := range []struct {
		serials []ZoneSerial
		want    uint32
	}{
		{nil, 0},
		{[]ZoneSerial{{"a.", 5}}, 5},
		{[]ZoneSerial{{"a.", 5}, {"b.", 0xfffffff0}, {"c.", 7}}, 0xfffffff0},
	} {
		r := ApplyReport{Serials: tt.serials}
		if got := r.maxSerial(); got != tt.want {
			t.Errorf("maxSerial(%v) = %d, want %d", tt.serials, got, tt.want)
		}
	}
}

func TestChunkLen(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name      string
		sizes     []int
		maxEvents int
		want      int
	}{
		{"empty", nil, 512, 0},
		{"small objects", slices.Repeat([]int{100}, 1300), 512, 512},
		{"fewer than the limit", slices.Repeat([]int{100}, 300), 512, 300},
		{"limit above applyChunkEvents", slices.Repeat([]int{100}, 1300), 4096, applyChunkEvents},
		{"one at a time", []int{1, 1, 1}, 1, 1},
		{"a huge object alone", []int{5 * mib, 1, 1}, 512, 1},
		{"exactly applyChunkBytes", []int{2 * mib, 2 * mib, 1}, 512, 2},
		{"the next one would not fit", []int{1, applyChunkBytes}, 512, 1},
		{"empty objects", []int{0, 0, 0}, 512, 3},
	} {
		got := chunkLen(len(tt.sizes), tt.maxEvents, func(i int) []byte { return make([]byte, tt.sizes[i]) })
		if got != tt.want {
			t.Errorf("%s: chunkLen = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSnapshotOrder(t *testing.T) {
	st := newState(1)
	st.recordEvents(0, []KeyedEvent{
		objectEvent(ChangeUpsert, KindService, "b", "s", 1),
		objectEvent(ChangeUpsert, KindPod, "a", "p", 1),
		objectEvent(ChangeUpsert, KindNamespace, "", "z", 1),
		objectEvent(ChangeUpsert, KindService, "a", "s", 1),
		objectEvent(ChangeUpsert, KindNamespace, "", "a", 1),
		objectEvent(ChangeUpsert, KindEndpointSlice, "a", "gone", 1),
	}, nil, 0, false)
	st.recordEvents(0, []KeyedEvent{objectEvent(ChangeDelete, KindEndpointSlice, "a", "gone", 1)}, nil, 0, false)
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
