package feed

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// Live watches one API server with client-go informers (list, watch,
// relist on expiry, backoff on errors): one informer per watch of the
// stanza's plan, with the watch's selectors. Objects are trimmed and
// serialised before the informers store them (see stored). Sources with
// the same key share one running set of informers (see Attach).
type Live struct {
	key     string // what it watches, and how: see sourceKey
	conn    *Connection
	watches []engine.Watch
	client  kubernetes.Interface
	dyn     dynamic.Interface
	logf    func(format string, args ...any)
}

// NewLive prepares the clients; nothing is contacted until Run. logf
// reports watch failures (unreachable server, bad credentials, a resource
// the credentials may not list). An error is an *OptionError naming the
// connection option at fault.
func NewLive(conn *Connection, watches []engine.Watch, logf func(format string, args ...any)) (*Live, error) {
	cfg, err := conn.Config()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, conn.optionError(fmt.Errorf("%s: %w", conn, err))
	}
	var dyn dynamic.Interface
	if watchedKinds(watches)[engine.KindServiceImport] {
		// ServiceImports are custom resources: JSON only.
		dcfg := *cfg
		dcfg.ContentType, dcfg.AcceptContentTypes = "application/json", "application/json"
		if dyn, err = dynamic.NewForConfig(&dcfg); err != nil {
			return nil, conn.optionError(fmt.Errorf("%s: %w", conn, err))
		}
	}
	return newLive(conn, watches, client, dyn, logf), nil
}

func newLive(conn *Connection, watches []engine.Watch, client kubernetes.Interface, dyn dynamic.Interface, logf func(string, ...any)) *Live {
	return &Live{key: sourceKey(conn, watches), conn: conn, watches: watches, client: client, dyn: dyn, logf: logf}
}

func (l *Live) String() string { return "API server " + l.conn.String() }

// watched is one informer and what it watches.
type watched struct {
	kind     engine.Kind
	informer cache.SharedIndexInformer
}

// Run attaches sink to this source's feed (see Attach) and delivers its
// objects and changes until ctx ends; once every informer has delivered
// its initial list, the sink hears it is synced.
func (l *Live) Run(ctx context.Context, sink Sink) error {
	a, err := l.Attach(sink)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func registrationsSynced(regs []cache.ResourceEventHandlerRegistration) cache.InformerSynced {
	return func() bool {
		for _, r := range regs {
			if !r.HasSynced() {
				return false
			}
		}
		return true
	}
}

// informers makes one informer per watch, with the watch's selectors.
func (l *Live) informers() []watched {
	out := make([]watched, 0, len(l.watches))
	for _, w := range l.watches {
		var client any = l.client // for streaming lists (WatchList) where it supports them
		if w.Kind == engine.KindServiceImport {
			client = l.dyn
		}
		lw := cache.ToListWatcherWithWatchListSemantics(l.listWatch(w), client)
		inf := cache.NewSharedIndexInformer(lw, resources[w.Kind].object(), 0, cache.Indexers{})
		out = append(out, watched{kind: w.Kind, informer: inf})
	}
	return out
}

// listWatch lists and watches the resource of w cluster-wide, with w's
// selectors.
func (l *Live) listWatch(w engine.Watch) *cache.ListWatch {
	list, watchFn := l.endpoints(w.Kind)
	selected := func(o metav1.ListOptions) metav1.ListOptions {
		o.LabelSelector, o.FieldSelector = w.LabelSelector, w.FieldSelector
		return o
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return list(ctx, selected(o))
		},
		WatchFuncWithContext: l.reportWatch(resources[w.Kind].plural, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchFn(ctx, selected(o))
		}),
	}
}

// endpoints are the client's list and watch calls of a kind.
func (l *Live) endpoints(kind engine.Kind) (cache.ListWithContextFunc, cache.WatchFuncWithContext) {
	core, disc := l.client.CoreV1(), l.client.DiscoveryV1()
	switch kind {
	case engine.KindNamespace:
		return listing(core.Namespaces().List), core.Namespaces().Watch
	case engine.KindService:
		return listing(core.Services("").List), core.Services("").Watch
	case engine.KindEndpointSlice:
		return listing(disc.EndpointSlices("").List), disc.EndpointSlices("").Watch
	case engine.KindPod:
		return listing(core.Pods("").List), core.Pods("").Watch
	}
	r := l.dyn.Resource(serviceImports)
	return listing(r.List), r.Watch
}

// listing makes a typed List call an informer's.
func listing[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) cache.ListWithContextFunc {
	return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		objs, err := list(ctx, o)
		if err != nil {
			return nil, err
		}
		return objs, nil
	}
}

// reportWatch logs when a watch cannot be (re)established and when it is
// again. client-go retries a refused connection quietly, without relisting
// and without calling the watch error handler, so an API server that goes
// away after the initial list would otherwise go unmentioned. One line per
// outage, not one per retry.
func (l *Live) reportWatch(resource string, watchFn cache.WatchFuncWithContext) cache.WatchFuncWithContext {
	var failing atomic.Bool
	return func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		w, err := watchFn(ctx, o)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing.Swap(true) {
				l.logf("%s: watching %s: %v (retrying)", l.conn, resource, err)
			}
		case err == nil && failing.Swap(false):
			l.logf("%s: watching %s again", l.conn, resource)
		}
		return w, err
	}
}

// handler turns informer events into changes of the feed.
type handler struct {
	kind engine.Kind
	feed *shared
}

func (h *handler) OnAdd(obj any, _ bool) { h.feed.change(h.stored(obj), false) }
func (h *handler) OnUpdate(_, obj any)   { h.feed.change(h.stored(obj), false) }
func (h *handler) OnDelete(obj any)      { h.feed.change(h.stored(obj), true) }
func (h *handler) stored(obj any) *stored {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	return storedOf(h.kind, obj)
}

// queue collects changes from the informers' goroutines for the one that
// delivers them, so that changes arriving together (an initial list, a
// relist) reach the core as one batch.
type queue struct {
	mu      sync.Mutex
	pending []Change
	synced  bool
	wake    chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(c Change) {
	q.mu.Lock()
	q.pending = append(q.pending, c)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) markSynced() {
	q.mu.Lock()
	q.synced = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take waits for changes and returns them all, and whether the sources
// became synced since the last take (reported once, after the changes
// that came before it).
func (q *queue) take(ctx context.Context) (batch []Change, synced, ok bool) {
	select {
	case <-ctx.Done():
		return nil, false, false
	case <-q.wake:
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	batch, q.pending = q.pending, nil
	synced, q.synced = q.synced, false
	return batch, synced, true
}
