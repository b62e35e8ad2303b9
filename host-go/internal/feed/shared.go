package feed

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// A live source's informers outlive the stanza that started them: a
// reload (or another server block) whose stanza watches the same API
// server the same way attaches to the running feed instead of listing
// again. The feed replays what it holds to the new sink, then delivers
// every change to every sink attached; it stops when the last one
// detaches.

// feeds are the running live feeds, by source key.
var feeds = struct {
	sync.Mutex
	m map[string]*shared
}{m: map[string]*shared{}}

// sourceKey identifies what a live source lists and watches, and how:
// two sources with the same key may share one feed. The kubeconfig and
// TLS files are read, so that a reload after credentials changed on disk
// connects again.
func sourceKey(c *Connection, watches []engine.Watch) string {
	h := sha256.New()
	fmt.Fprintf(h, "conn %q %q %q %q %q %v %d %d %q\n", c.Endpoint, c.TLS, c.Kubeconfig, c.Context,
		c.UserAgent, c.QPS, c.Burst, c.MaxInflight, os.Getenv("KUBERNETES_SERVICE_HOST"))
	sorted := slices.SortedFunc(slices.Values(watches), func(a, b engine.Watch) int { return cmp.Compare(a.Kind, b.Kind) })
	for _, w := range sorted {
		fmt.Fprintf(h, "watch %v %q %q\n", w.Kind, w.LabelSelector, w.FieldSelector)
	}
	for _, p := range append([]string{c.Kubeconfig}, c.TLS...) {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "file %q %x %v\n", p, sum, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// shared is one running set of informers and what they delivered.
type shared struct {
	key    string
	conn   *Connection
	cancel context.CancelFunc
	stores []cache.Store // the informers'
	// started is when the feed first listed: a stanza that attaches to it
	// later (a reload) has been waiting for its initial state since then.
	started time.Time

	mu sync.Mutex
	// objects is the feed's store: every object delivered and not
	// deleted, by kind and key, as the informer handed it (the informer's
	// own, never modified, only replaced). It is exactly what the attached
	// sinks have been told, which the informers' own caches (updated
	// before their handlers run) are not.
	objects map[engine.Kind]map[string]*stored
	synced  bool
	subs    []*Attachment
}

// Attachment is one sink attached to a live feed.
type Attachment struct {
	feed *shared
	sink Sink
	logf func(format string, args ...any)
	q    *queue
	once sync.Once
	// kept: the feed was running before this sink attached; synced: it
	// had delivered its initial state by then.
	kept, synced bool
}

// Attach connects sink to the feed of this source: the running one if a
// source with the same key has one (nothing is asked of the API server;
// its objects are replayed to sink), or a new one started now. Changes
// reach sink once Run is called; until Close, the feed keeps running.
func (l *Live) Attach(sink Sink) (*Attachment, error) {
	feeds.Lock()
	defer feeds.Unlock()
	f, running := feeds.m[l.key], true
	if f == nil {
		f, running = &shared{key: l.key, conn: l.conn, objects: map[engine.Kind]map[string]*stored{}, started: time.Now()}, false
	}
	a := f.attach(sink, l.logf)
	if running {
		a.kept = true
		return a, nil
	}
	if err := l.start(f); err != nil {
		f.detach(a)
		return nil, err
	}
	feeds.m[l.key] = f
	return a, nil
}

// running reports whether a running feed has this source's key.
func (l *Live) running() bool {
	feeds.Lock()
	defer feeds.Unlock()
	return feeds.m[l.key] != nil
}

// start runs the informers of a new feed, reporting to its sinks.
func (l *Live) start(f *shared) error {
	runner := *l
	runner.logf = f.logf
	ctx, cancel := context.WithCancel(context.Background())
	var regs []cache.ResourceEventHandlerRegistration
	var infs []cache.SharedIndexInformer
	for _, w := range runner.informers() {
		if err := w.informer.SetTransform(func(obj any) (any, error) { return storedOf(w.kind, obj), nil }); err != nil {
			cancel()
			return err
		}
		_ = w.informer.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			f.logf("%s: watching %s: %v", l.conn, resources[w.kind].plural, err)
		})
		reg, err := w.informer.AddEventHandler(&handler{kind: w.kind, feed: f})
		if err != nil {
			cancel()
			return err
		}
		regs, infs = append(regs, reg), append(infs, w.informer)
		f.stores = append(f.stores, w.informer.GetStore())
	}
	f.cancel = cancel
	for _, inf := range infs {
		go inf.RunWithContext(ctx)
	}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), registrationsSynced(regs)) {
			f.markSynced()
		}
	}()
	return nil
}

// attach adds a sink, with a queue holding the feed's objects (in
// delivery order) and, if the feed has synced, word of it. Changes that
// come later follow them on the queue: the store and the sinks are
// updated under one lock, so each change is either replayed or
// delivered, once.
func (f *shared) attach(sink Sink, logf func(string, ...any)) *Attachment {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &Attachment{feed: f, sink: sink, logf: logf, q: newQueue()}
	for k := range resources { // in kind order, namespaces first
		kind := engine.Kind(k)
		objs := f.objects[kind]
		keys := make([]string, 0, len(objs))
		for k := range objs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			a.q.pending = append(a.q.pending, Change{Object: objs[k].Object})
		}
	}
	a.q.synced, a.synced = f.synced, f.synced
	if len(a.q.pending) > 0 || a.q.synced {
		a.q.signal()
	}
	f.subs = append(f.subs, a)
	return a
}

// detach removes a sink and reports how many remain.
func (f *shared) detach(a *Attachment) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = slices.DeleteFunc(f.subs, func(s *Attachment) bool { return s == a })
	return len(f.subs)
}

// change records a change of an object in the store and queues it for
// every sink.
func (f *shared) change(s *stored, deleted bool) {
	c := Change{Object: s.Object, Deleted: deleted}
	f.mu.Lock()
	defer f.mu.Unlock()
	objs := f.objects[c.Object.Kind]
	if objs == nil {
		objs = map[string]*stored{}
		f.objects[c.Object.Kind] = objs
	}
	if deleted {
		delete(objs, c.Object.Key())
	} else {
		objs[c.Object.Key()] = s
	}
	for _, a := range f.subs {
		a.q.push(c)
	}
}

func (f *shared) markSynced() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced = true
	for _, a := range f.subs {
		a.q.markSynced()
	}
}

// logf reports a problem of the feed through every sink attached, each
// with its stanza's prefix.
func (f *shared) logf(format string, args ...any) {
	f.mu.Lock()
	logs := make([]func(string, ...any), 0, len(f.subs))
	for _, a := range f.subs {
		if a.logf != nil {
			logs = append(logs, a.logf)
		}
	}
	f.mu.Unlock()
	for _, l := range logs {
		l(format, args...)
	}
}

// Joined says since when the feed runs, whether it was running before
// this sink attached (a reload keeping the watches) and whether it had
// synced by then: a reload need not wait again for a kept feed that has
// not.
func (a *Attachment) Joined() (since time.Time, kept, synced bool) {
	return a.feed.started, a.kept, a.synced
}

// Run delivers the replayed objects, then the feed's changes, to the
// sink until ctx ends; then it detaches (Close).
func (a *Attachment) Run(ctx context.Context) error {
	defer a.Close()
	for {
		batch, synced, ok := a.q.take(ctx)
		if !ok {
			return nil
		}
		if len(batch) > 0 {
			a.sink.Apply(batch)
		}
		if synced {
			a.sink.Synced()
		}
	}
}

// Close detaches the sink; the feed stops when no sink is left. Calling
// it again does nothing.
func (a *Attachment) Close() {
	a.once.Do(func() {
		feeds.Lock()
		defer feeds.Unlock()
		f := a.feed
		if f.detach(a) > 0 {
			return
		}
		if feeds.m[f.key] == f {
			delete(feeds.m, f.key)
		}
		if f.cancel != nil {
			f.cancel()
		}
	})
}
