package feed

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

func svcObj(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func nsObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func upsert(kind engine.Kind, obj any) *stored { return storedOf(kind, obj) }

// gone is a delete of the object kind ns/name, as a tombstone holds it.
func gone(kind engine.Kind, ns, name string) *stored {
	return &stored{Object: Object{Kind: kind, Namespace: ns, Name: name}}
}

// drain takes everything an attachment has queued: "kind key" per
// upsert, "-kind key" per delete, "synced" where the sink would hear it.
func drain(a *Attachment) []string {
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	var out []string
	for _, c := range a.q.pending {
		prefix := ""
		if c.Deleted {
			prefix = "-"
		}
		out = append(out, prefix+c.Object.Kind.String()+" "+c.Object.Key())
	}
	if a.q.synced {
		out = append(out, "synced")
	}
	a.q.pending, a.q.synced = nil, false
	return out
}

// TestAttachReplaysInDeliveryOrder: a sink attached to a running feed
// gets the feed's objects as adds (namespaces first, then each kind by
// key), then the synced state, then the changes that follow; a sink
// attached earlier keeps getting the changes too.
func TestAttachReplaysInDeliveryOrder(t *testing.T) {
	f := &shared{key: "t", objects: map[engine.Kind]map[string]*stored{}}
	first := f.attach(newCollector(), nil)
	f.change(upsert(engine.KindService, svcObj("b", "web")), false)
	f.change(upsert(engine.KindService, svcObj("a", "db")), false)
	f.change(upsert(engine.KindNamespace, nsObj("b")), false)
	f.change(upsert(engine.KindService, svcObj("a", "gone")), false)
	f.change(gone(engine.KindService, "a", "gone"), true)
	f.markSynced()

	second := f.attach(newCollector(), nil)
	f.change(upsert(engine.KindService, svcObj("c", "new")), false)

	want := []string{"namespace b", "service a/db", "service b/web", "service c/new", "synced"}
	if got := drain(second); !slices.Equal(got, want) {
		t.Errorf("attached sink got %q, want %q", got, want)
	}
	want = []string{"service b/web", "service a/db", "namespace b", "service a/gone", "-service a/gone", "service c/new", "synced"}
	if got := drain(first); !slices.Equal(got, want) {
		t.Errorf("first sink got %q, want %q", got, want)
	}
	// Not yet synced: the attached sink hears it when the feed does.
	g := &shared{key: "u", objects: map[engine.Kind]map[string]*stored{}}
	g.change(upsert(engine.KindService, svcObj("a", "x")), false)
	a := g.attach(newCollector(), nil)
	if got := drain(a); !slices.Equal(got, []string{"service a/x"}) {
		t.Errorf("before sync: %q", got)
	}
	g.markSynced()
	if got := drain(a); !slices.Equal(got, []string{"synced"}) {
		t.Errorf("at sync: %q", got)
	}
}

// TestAttachWhileChangesFlow: changes arriving while a sink attaches
// reach it exactly once (replayed or delivered), in order, and its
// view ends equal to the feed's and to that of a sink attached from the
// start.
func TestAttachWhileChangesFlow(t *testing.T) {
	f := &shared{key: "t", objects: map[engine.Kind]map[string]*stored{}}
	before := &applier{state: map[string]string{}}
	early := f.attach(before, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = early.Run(ctx) }()

	// Two writers (two informers, as services and slices are): each
	// creates, updates, and deletes every third object.
	const n = 2000
	var wg sync.WaitGroup
	for _, kind := range []engine.Kind{engine.KindService, engine.KindEndpointSlice} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				name := fmt.Sprintf("o%04d", i)
				o := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: "1"}}
				f.change(upsert(kind, o), false)
				o2 := o.DeepCopy()
				o2.ResourceVersion = "2"
				f.change(upsert(kind, o2), false)
				if i%3 == 0 {
					f.change(gone(kind, "ns", name), true)
				}
			}
		}()
	}
	// Attach sinks while the writers run.
	var late []*applier
	var atts []*Attachment
	for i := 0; i < 20; i++ {
		s := &applier{state: map[string]string{}}
		a := f.attach(s, nil)
		late, atts = append(late, s), append(atts, a)
		go func() { _ = a.Run(ctx) }()
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	f.markSynced()

	want := map[string]string{}
	for _, kind := range []engine.Kind{engine.KindService, engine.KindEndpointSlice} {
		for i := range n {
			if i%3 != 0 {
				want[kind.String()+" "+fmt.Sprintf("ns/o%04d", i)] = "2"
			}
		}
	}
	for i, s := range append([]*applier{before}, late...) {
		s.waitSynced(t)
		if problem := s.check(want); problem != "" {
			t.Errorf("sink %d: %s", i, problem)
		}
	}
	for _, a := range atts {
		a.Close()
	}
}

// applier is a sink that applies changes to a map and notes anything a
// sink attached in the middle must never see: an object added twice at
// the same version, a delete of an object it does not have, a version
// going backwards.
type applier struct {
	mu       sync.Mutex
	state    map[string]string // "kind key" → resourceVersion
	problems []string
	synced   bool
}

func (s *applier) Apply(batch []Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range batch {
		k := c.Object.Kind.String() + " " + c.Object.Key()
		have, ok := s.state[k]
		if c.Deleted {
			if !ok {
				s.problems = append(s.problems, "delete of unknown "+k)
			}
			delete(s.state, k)
			continue
		}
		v := "?"
		if i := strings.Index(string(c.Object.JSON), `"resourceVersion":"`); i >= 0 {
			v = string(c.Object.JSON)[i+19 : i+20]
		}
		if ok && have >= v {
			s.problems = append(s.problems, fmt.Sprintf("%s again at version %s after %s", k, v, have))
		}
		s.state[k] = v
	}
}

// Skipped: a live feed has nothing it cannot read.
func (s *applier) Skipped(problems []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, problems...)
}

func (s *applier) Synced() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced = true
}

func (s *applier) waitSynced(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		done := s.synced
		s.mu.Unlock()
		if done {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("never synced")
}

func (s *applier) check(want map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) > 0 {
		return strings.Join(s.problems[:min(5, len(s.problems))], "; ")
	}
	if len(s.state) != len(want) {
		return fmt.Sprintf("%d objects, want %d", len(s.state), len(want))
	}
	for k, v := range want {
		if s.state[k] != v {
			return fmt.Sprintf("%s at %q, want %q", k, s.state[k], v)
		}
	}
	return ""
}

func lists(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "list" {
			n++
		}
	}
	return n
}

// TestLiveHandover: a second source with the same key attaches to the
// running informers (nothing listed again, the objects replayed); the
// first one detaching leaves the feed running for the second; the last
// detaching stops it, and the next source lists again. A source whose
// watch set differs gets its own feed.
func TestLiveHandover(t *testing.T) {
	conn := &Connection{Endpoint: "https://handover.test"}
	filter := func() []engine.Watch { return watching(engine.KindNamespace, engine.KindService) }
	client := fake.NewClientset(nsObj("shop"), svcObj("shop", "web"))
	old := newLive(conn, filter(), client, nil, nil)
	oldSink := newCollector()
	stop1 := runAttached(t, old, oldSink)
	waitClosed(t, oldSink.synced)
	listed := lists(client)
	if listed != 2 {
		t.Fatalf("listed %d times, want 2 (namespaces, services)", listed)
	}

	// The reloaded stanza: same source, another client that is never used.
	unused := fake.NewClientset()
	next := newLive(&Connection{Endpoint: "https://handover.test"}, filter(), unused, nil, nil)
	if !next.running() {
		t.Fatal("same source, different key")
	}
	newSink := newCollector()
	stop2 := runAttached(t, next, newSink)
	waitClosed(t, newSink.synced)
	if got := newSink.seen(); !slices.Equal(got, []string{"namespace shop", "service shop/web"}) {
		t.Errorf("replayed %q", got)
	}
	// The old stanza shuts down: the feed goes on for the new one.
	stop1()
	if _, err := client.CoreV1().Services("shop").Create(context.Background(), svcObj("shop", "db"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newSink.waitFor(t, "service shop/db")
	if n := lists(client); n != listed {
		t.Errorf("listed %d times after the handover, want %d", n, listed)
	}
	if len(unused.Actions()) != 0 {
		t.Errorf("the new source's own client was used: %v", unused.Actions())
	}
	if slices.Contains(oldSink.seen(), "service shop/db") {
		t.Error("a detached sink got a change")
	}

	// Another watch set: its own feed.
	other := newLive(conn, watching(engine.KindService), fake.NewClientset(), nil, nil)
	if other.running() {
		t.Error("a source watching other kinds shares the feed")
	}

	// The last holder goes: the feed stops; a new source lists again.
	stop2()
	if next.running() {
		t.Error("feed still registered with no sink attached")
	}
	again := newLive(conn, filter(), client, nil, nil)
	sink := newCollector()
	ctx3, stop3 := context.WithCancel(context.Background())
	defer stop3()
	go func() { _ = again.Run(ctx3, sink) }()
	waitClosed(t, sink.synced)
	if n := lists(client); n != listed+2 {
		t.Errorf("listed %d times after a restart, want %d", n, listed+2)
	}
	if got := sorted(sink.seen()); !slices.Equal(got, []string{"namespace shop", "service shop/db", "service shop/web"}) {
		t.Errorf("after a restart: %q", got)
	}
}

// TestJoined: a sink attached to a running feed knows it was kept, since
// when the feed runs and whether it had synced then (what a reload waits
// for); the first sink started the feed.
func TestJoined(t *testing.T) {
	conn := &Connection{Endpoint: "https://joined.test"}
	client := fake.NewClientset(nsObj("shop"))
	first := newLive(conn, watching(engine.KindNamespace), client, nil, nil)
	a, err := first.Attach(newCollector())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	since, kept, _ := a.Joined()
	if kept || time.Since(since) > time.Minute {
		t.Fatalf("first sink: kept %v, since %v", kept, since)
	}
	sink := newCollector()
	stop := runAttached(t, newLive(conn, watching(engine.KindNamespace), client, nil, nil), sink)
	defer stop()
	waitClosed(t, sink.synced)
	b, err := first.Attach(newCollector())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if s, kept, synced := b.Joined(); !s.Equal(since) || !kept || !synced {
		t.Errorf("after the sync: since %v (want %v), kept %v, synced %v", s, since, kept, synced)
	}

	// A feed that has not synced (its API server down): kept, not synced.
	down := newLive(&Connection{Endpoint: "https://down.test"}, watching(engine.KindNamespace), fake.NewClientset(), nil, nil)
	started := time.Now().Add(-time.Hour)
	feeds.Lock()
	feeds.m[down.key] = &shared{key: down.key, objects: map[engine.Kind]map[string]*stored{}, started: started}
	feeds.Unlock()
	defer func() { feeds.Lock(); delete(feeds.m, down.key); feeds.Unlock() }()
	c, err := down.Attach(newCollector())
	if err != nil {
		t.Fatal(err)
	}
	if s, kept, synced := c.Joined(); !s.Equal(started) || !kept || synced {
		t.Errorf("unsynced feed: since %v (want %v), kept %v, synced %v", s, started, kept, synced)
	}
}

// runAttached attaches sink to l's feed and runs the attachment; the
// returned function detaches it and waits until Run has returned.
func runAttached(t *testing.T, l *Live, sink Sink) (stop func()) {
	t.Helper()
	a, err := l.Attach(sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestSourceKey(t *testing.T) {
	base := func() (*Connection, []engine.Watch) {
		return &Connection{Kubeconfig: "/nonexistent/kc", Context: "east", QPS: 5},
			[]engine.Watch{{Kind: engine.KindService, LabelSelector: "app=web"}, {Kind: engine.KindNamespace}}
	}
	c, w := base()
	key := sourceKey(c, w)
	c2, w2 := base()
	w2[0], w2[1] = w2[1], w2[0] // order does not matter
	if sourceKey(c2, w2) != key {
		t.Error("watches in another order make another key")
	}
	changes := map[string]func(*Connection, *[]engine.Watch){
		"context":        func(c *Connection, _ *[]engine.Watch) { c.Context = "west" },
		"qps":            func(c *Connection, _ *[]engine.Watch) { c.QPS = 6 },
		"burst":          func(c *Connection, _ *[]engine.Watch) { c.Burst = 1 },
		"max inflight":   func(c *Connection, _ *[]engine.Watch) { c.MaxInflight = 1 },
		"endpoint":       func(c *Connection, _ *[]engine.Watch) { c.Endpoint = "https://x" },
		"tls":            func(c *Connection, _ *[]engine.Watch) { c.TLS = []string{"a", "b", "c"} },
		"label selector": func(_ *Connection, w *[]engine.Watch) { (*w)[0].LabelSelector = "app=db" },
		"field selector": func(_ *Connection, w *[]engine.Watch) { (*w)[1].FieldSelector = "metadata.name=x" },
		"another kind":   func(_ *Connection, w *[]engine.Watch) { *w = append(*w, engine.Watch{Kind: engine.KindPod}) },
	}
	for name, change := range changes {
		c, w := base()
		change(c, &w)
		if sourceKey(c, w) == key {
			t.Errorf("%s changed, same key", name)
		}
	}
}

func waitClosed(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("never synced")
	}
}
