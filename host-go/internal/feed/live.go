package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// serviceImports is the Multi-Cluster Services API's ServiceImport.
var serviceImports = schema.GroupVersionResource{Group: "multicluster.x-k8s.io", Version: "v1alpha1", Resource: "serviceimports"}

// livePodPhases is the kubernetes plugin's field selector: pods that are
// done, or whose phase is unknown, are not listed.
const livePodPhases = "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"

// triggerAnnotation is when the EndpointSlice controller saw the change
// that led to a slice update: the start of DNS programming latency.
const triggerAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

// Live watches one API server with client-go informers (list, watch,
// relist on expiry, backoff on errors). Objects are trimmed before the
// informers store them. Sources with the same key share one running set
// of informers (see Attach).
type Live struct {
	key    string // what it watches, and how: see sourceKey
	conn   *Connection
	filter *Filter
	client kubernetes.Interface
	dyn    dynamic.Interface
	logf   func(format string, args ...any)
}

// NewLive prepares the clients; nothing is contacted until Run. logf
// reports watch failures (unreachable server, bad credentials, a resource
// the credentials may not list).
func NewLive(conn *Connection, f *Filter, logf func(format string, args ...any)) (*Live, error) {
	cfg, err := conn.Config()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conn, err)
	}
	var dyn dynamic.Interface
	if f.Multicluster {
		// ServiceImports are custom resources: JSON only.
		dcfg := *cfg
		dcfg.ContentType, dcfg.AcceptContentTypes = "application/json", "application/json"
		if dyn, err = dynamic.NewForConfig(&dcfg); err != nil {
			return nil, fmt.Errorf("%s: %w", conn, err)
		}
	}
	return newLive(conn, f, client, dyn, logf), nil
}

func newLive(conn *Connection, f *Filter, client kubernetes.Interface, dyn dynamic.Interface, logf func(string, ...any)) *Live {
	return &Live{key: sourceKey(conn, f), conn: conn, filter: f, client: client, dyn: dyn, logf: logf}
}

func (l *Live) String() string { return "API server " + l.conn.String() }

// watched is one informer and what it watches.
type watched struct {
	kind     string
	resource string
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

// informers makes one informer per kind the stanza reads, with the
// server-side selectors of its options.
func (l *Live) informers() []watched {
	f := l.filter
	var out []watched
	add := func(kind, resource string, obj runtime.Object, list cache.ListWithContextFunc, watchFn cache.WatchFuncWithContext) {
		lw := &cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: l.reportWatch(resource, watchFn)}
		// Streaming lists (WatchList) where the client supports them.
		var client any = l.client
		if kind == KindServiceImport {
			client = l.dyn
		}
		inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), obj, 0, cache.Indexers{})
		out = append(out, watched{kind: kind, resource: resource, informer: inf})
	}
	core, disc := l.client.CoreV1(), l.client.DiscoveryV1()
	if f.Wants(KindNamespace) {
		sel := selectorString(f.NamespaceLabels)
		add(KindNamespace, "namespaces", &corev1.Namespace{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector = sel
				return core.Namespaces().List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = sel
				return core.Namespaces().Watch(ctx, o)
			})
	}
	if f.Wants(KindService) {
		sel := selectorString(f.Labels)
		add(KindService, "services", &corev1.Service{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector = sel
				return core.Services("").List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = sel
				return core.Services("").Watch(ctx, o)
			})
	}
	if f.Wants(KindEndpointSlice) || f.Multicluster {
		sel := selectorString(f.Labels)
		if !f.Wants(KindEndpointSlice) {
			// Only the slices of imported services.
			sel = importedSlices(f.Labels)
		}
		add(KindEndpointSlice, "endpointslices", &discoveryv1.EndpointSlice{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector = sel
				return disc.EndpointSlices("").List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = sel
				return disc.EndpointSlices("").Watch(ctx, o)
			})
	}
	if f.Wants(KindPod) {
		sel := selectorString(f.Labels)
		add(KindPod, "pods", &corev1.Pod{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector, o.FieldSelector = sel, livePodPhases
				return core.Pods("").List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector, o.FieldSelector = sel, livePodPhases
				return core.Pods("").Watch(ctx, o)
			})
	}
	if f.Wants(KindServiceImport) && l.dyn != nil {
		// As the kubernetes plugin does, ServiceImports are selected with
		// the namespace_labels selector.
		sel := selectorString(f.NamespaceLabels)
		res := l.dyn.Resource(serviceImports)
		add(KindServiceImport, "serviceimports", &unstructured.Unstructured{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector = sel
				return res.List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = sel
				return res.Watch(ctx, o)
			})
	}
	return out
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

func selectorString(s labels.Selector) string {
	if s == nil {
		return ""
	}
	return s.String()
}

// importedSlices adds "the multicluster service label exists" to the
// stanza's label selector.
func importedSlices(s labels.Selector) string {
	req, err := labels.NewRequirement(LabelMulticlusterService, selection.Exists, nil)
	if err != nil {
		return selectorString(s)
	}
	if s == nil {
		s = labels.NewSelector()
	}
	return s.Add(*req).String()
}

// trim is the informers' transform: it drops what DNS never reads before
// the object is stored, so the informers' caches stay small.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		trimMeta(&o.ObjectMeta, false)
		o.Spec, o.Status = corev1.NamespaceSpec{}, corev1.NamespaceStatus{}
	case *corev1.Service:
		trimMeta(&o.ObjectMeta, false)
		o.Status = corev1.ServiceStatus{LoadBalancer: o.Status.LoadBalancer}
	case *corev1.Pod:
		trimMeta(&o.ObjectMeta, false)
		o.Spec = corev1.PodSpec{}
		o.Status = corev1.PodStatus{Phase: o.Status.Phase, PodIP: o.Status.PodIP, PodIPs: o.Status.PodIPs}
	case *discoveryv1.EndpointSlice:
		trimMeta(&o.ObjectMeta, true)
		for i := range o.Endpoints {
			o.Endpoints[i].Hints, o.Endpoints[i].DeprecatedTopology = nil, nil
		}
	case *unstructured.Unstructured:
		meta := o.Object["metadata"]
		if m, ok := meta.(map[string]any); ok {
			o.Object["metadata"] = keep(m, metadataKept...)
		}
		delete(o.Object, "status")
	}
	return obj, nil
}

// trimMeta keeps the metadata the core reads (and, for EndpointSlices, the
// change trigger time, for the programming-latency metric).
func trimMeta(m *metav1.ObjectMeta, trigger bool) {
	kept := metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		Labels:            m.Labels,
		ResourceVersion:   m.ResourceVersion,
		DeletionTimestamp: m.DeletionTimestamp,
	}
	if t, ok := m.Annotations[triggerAnnotation]; ok && trigger {
		kept.Annotations = map[string]string{triggerAnnotation: t}
	}
	*m = kept
}

// handler turns informer events into changes of the feed.
type handler struct {
	kind string
	feed *shared
}

func (h *handler) OnAdd(obj any, _ bool) { h.feed.change(h.change(obj, false), obj) }
func (h *handler) OnUpdate(_, obj any)   { h.feed.change(h.change(obj, false), obj) }
func (h *handler) OnDelete(obj any)      { h.feed.change(h.change(obj, true), nil) }
func (h *handler) change(obj any, deleted bool) Change {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	return Change{Object: toObject(h.kind, obj), Deleted: deleted}
}

// toObject serialises an informer's (trimmed) object for the core.
func toObject(kind string, obj any) Object {
	o := Object{Kind: kind}
	if m, err := metaOf(obj); err == nil {
		o.Namespace, o.Name, o.Labels = m.GetNamespace(), m.GetName(), m.GetLabels()
		if t, err := time.Parse(time.RFC3339Nano, m.GetAnnotations()[triggerAnnotation]); err == nil {
			o.Changed = t
		}
	}
	// A failure leaves JSON empty; the core reports the object as one it
	// could not decode, and the sink logs it.
	o.JSON, _ = json.Marshal(obj)
	return o
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
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
