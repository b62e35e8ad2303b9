package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// collector is a Sink that remembers everything, safe for the test to read.
type collector struct {
	mu      sync.Mutex
	changes []Change
	batches int
	synced  chan struct{}
	skipped [][]string
}

func newCollector() *collector { return &collector{synced: make(chan struct{})} }

func (c *collector) Apply(b []Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes = append(c.changes, b...)
	c.batches++
}

func (c *collector) Synced() { close(c.synced) }

// Skipped keeps each report of unreadable items.
func (c *collector) Skipped(problems []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skipped = append(c.skipped, problems)
}

// skips returns the reports of unreadable items so far.
func (c *collector) skips() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.skipped)
}

// seen lists "kind key" for upserts and "-kind key" for deletes.
func (c *collector) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ch := range c.changes {
		prefix := ""
		if ch.Deleted {
			prefix = "-"
		}
		out = append(out, prefix+ch.Object.Kind.String()+" "+ch.Object.Key())
	}
	return out
}

func (c *collector) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range c.seen() {
			if s == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never saw %q; saw %v", want, c.seen())
}

func meta(ns, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: ns, Name: name, Labels: labels, ResourceVersion: "1",
		Annotations:   map[string]string{"big": "drop", triggerAnnotation: "2026-01-02T03:04:05Z"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}
}

func TestLiveDeliversAndFollows(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: meta("", "shop", map[string]string{"team": "a"})},
		&corev1.Namespace{ObjectMeta: meta("", "other", map[string]string{"team": "b"})},
		&corev1.Service{ObjectMeta: meta("shop", "web", map[string]string{"app": "web"}),
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}},
		&corev1.Service{ObjectMeta: meta("shop", "hidden", map[string]string{"app": "other"})},
		&discoveryv1.EndpointSlice{ObjectMeta: meta("shop", "web-1", map[string]string{"app": "web", "kubernetes.io/service-name": "web"}),
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}}}},
		&corev1.Pod{ObjectMeta: meta("shop", "p", map[string]string{"app": "web"}),
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "big"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.1.0.1"}}}},
	)
	imports := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
		"metadata": map[string]any{"name": "web", "namespace": "shop", "labels": map[string]any{"team": "a"}},
		"spec":     map[string]any{"type": "ClusterSetIP", "ips": []any{"10.9.0.1"}},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{serviceImports: "ServiceImportList"}, imports)
	const running = "status.phase!=Succeeded"
	watches := []engine.Watch{
		{Kind: engine.KindNamespace, LabelSelector: "team=a"},
		{Kind: engine.KindService, LabelSelector: "app=web"},
		{Kind: engine.KindEndpointSlice, LabelSelector: "app=web"},
		{Kind: engine.KindPod, LabelSelector: "app=web", FieldSelector: running},
		{Kind: engine.KindServiceImport, LabelSelector: "team=a"},
	}
	var logged []string
	l := newLive(&Connection{Endpoint: "https://fake"}, watches, client, dyn, func(format string, a ...any) {
		logged = append(logged, format)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := newCollector()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, sink) }()
	select {
	case <-sink.synced:
	case <-time.After(20 * time.Second):
		t.Fatal("never synced")
	}
	got := strings.Join(sorted(sink.seen()), ", ")
	want := "endpoint-slice shop/web-1, namespace shop, pod shop/p, service shop/web, service-import shop/web"
	if got != want {
		t.Errorf("initial state:\n got %s\nwant %s", got, want)
	}
	// Each list carried its watch's selectors to the API server.
	selectors := map[string]string{}
	for _, a := range append(client.Actions(), dyn.Actions()...) {
		if l, ok := a.(clienttesting.ListAction); ok {
			r := l.GetListRestrictions()
			selectors[a.GetResource().Resource] = r.Labels.String() + " " + r.Fields.String()
		}
	}
	wantSelectors := map[string]string{
		"namespaces": "team=a ", "services": "app=web ", "endpointslices": "app=web ",
		"pods": "app=web " + running, "serviceimports": "team=a ",
	}
	if !maps.Equal(selectors, wantSelectors) {
		t.Errorf("list selectors %q, want %q", selectors, wantSelectors)
	}
	// Objects arrive trimmed; the slice keeps its change trigger time.
	for _, c := range sink.changes {
		js := string(c.Object.JSON)
		if strings.Contains(js, "managedFields") || strings.Contains(js, "drop") || strings.Contains(js, `"big"`) {
			t.Errorf("%s not trimmed: %s", c.Object.Key(), js)
		}
		if c.Object.Kind == engine.KindEndpointSlice && c.Object.Changed.IsZero() {
			t.Error("slice lost its trigger time")
		}
	}

	// Changes follow.
	svc := &corev1.Service{ObjectMeta: meta("shop", "db", map[string]string{"app": "web"})}
	if _, err := client.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "service shop/db")
	if err := client.CoreV1().Services("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "-service shop/web")
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestServiceJSONReadsBack(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: meta("shop", "web", nil), Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	trimmed, _ := trim(svc)
	o := toObject(engine.KindService, trimmed)
	var back map[string]any
	if err := json.Unmarshal(o.JSON, &back); err != nil {
		t.Fatal(err)
	}
	if back["spec"].(map[string]any)["clusterIP"] != "10.96.0.10" || o.Key() != "shop/web" {
		t.Errorf("%s", o.JSON)
	}
}

// One trim for both sources: an object an informer delivers and the same
// object read from a snapshot reach the core as the same JSON.
func TestOneTrimForBothSources(t *testing.T) {
	objects := []runtime.Object{
		&corev1.Service{ObjectMeta: meta("shop", "web", map[string]string{"app": "web"}), Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"},
			Status: corev1.ServiceStatus{Conditions: []metav1.Condition{{Type: "x"}}}},
		&corev1.Pod{ObjectMeta: meta("shop", "p", nil), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.1"}},
		&discoveryv1.EndpointSlice{ObjectMeta: meta("shop", "web-1", nil), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, Hints: &discoveryv1.EndpointHints{}}}},
		&corev1.Namespace{ObjectMeta: meta("", "shop", nil), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
	}
	kinds := []string{"Service", "Pod", "EndpointSlice", "Namespace"}
	for i, obj := range objects {
		// As a snapshot holds it: with its type fields.
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		raw = append([]byte(`{"apiVersion":"v1","kind":"`+kinds[i]+`",`), raw[1:]...)
		fromSnapshot, err := decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		// As an informer hands it to the transform: without them.
		kind, _ := kindOf(kinds[i])
		trimmed, _ := trim(obj.DeepCopyObject())
		fromInformer := toObject(kind, trimmed)
		if !bytes.Equal(fromSnapshot.JSON, fromInformer.JSON) || fromSnapshot.Key() != fromInformer.Key() {
			t.Errorf("%s:\nsnapshot %s\ninformer %s", kinds[i], fromSnapshot.JSON, fromInformer.JSON)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestWatchOutageLoggedOnce: a watch that cannot be re-established is
// logged once per outage (client-go retries it quietly), and its return.
func TestWatchOutageLoggedOnce(t *testing.T) {
	var lines []string
	l := &Live{conn: &Connection{Endpoint: "https://127.0.0.1:1"}, logf: func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
	}}
	fails := 3
	watchFn := l.reportWatch("services", func(context.Context, metav1.ListOptions) (watch.Interface, error) {
		if fails > 0 {
			fails--
			return nil, errors.New("connection refused")
		}
		return watch.NewEmptyWatch(), nil
	})
	for range 5 {
		_, _ = watchFn(context.Background(), metav1.ListOptions{})
	}
	want := []string{
		"https://127.0.0.1:1: watching services: connection refused (retrying)",
		"https://127.0.0.1:1: watching services again",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("logged %q, want %q", lines, want)
	}
	// Stopping (a cancelled context) is not an outage.
	lines = nil
	fails = 1
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = watchFn(ctx, metav1.ListOptions{})
	if len(lines) != 0 {
		t.Errorf("logged on shutdown: %q", lines)
	}
}

// The informers keep each object as the sinks get it, and nothing else:
// no typed object, and the same JSON bytes the sink holds, not a copy.
func TestLiveStoresOneCopy(t *testing.T) {
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: meta("", "shop", nil)},
		&corev1.Service{ObjectMeta: meta("shop", "web", nil), Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}})
	l := newLive(&Connection{Endpoint: "https://one-copy.test"}, watching(engine.KindNamespace, engine.KindService), client, nil, nil)
	sink := newCollector()
	a, err := l.Attach(sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Run(ctx) }()
	waitClosed(t, sink.synced)
	delivered := map[string][]byte{}
	for _, c := range sink.changes {
		delivered[c.Object.Kind.String()+" "+c.Object.Key()] = c.Object.JSON
	}
	n := 0
	for _, store := range a.feed.stores {
		for _, item := range store.List() {
			s, ok := item.(*stored)
			if !ok {
				t.Fatalf("an informer keeps a %T", item)
			}
			js := delivered[s.Kind.String()+" "+s.Key()]
			if len(js) == 0 || &js[0] != &s.JSON[0] {
				t.Errorf("%s %s: the informer's JSON is not the one delivered", s.Kind, s.Key())
			}
			n++
		}
	}
	if n != 2 || len(delivered) != 2 {
		t.Errorf("%d objects stored, %d delivered; want 2", n, len(delivered))
	}
	// client-go tells a relist's copy of an unchanged object (not
	// delivered) from an update by the resource version it reads.
	for _, store := range a.feed.stores {
		for _, item := range store.List() {
			m, err := apimeta.Accessor(item)
			if err != nil || m.GetResourceVersion() != "1" || m.GetName() == "" {
				t.Errorf("client-go reads %v of %+v (%v)", m, item, err)
			}
		}
	}
}
