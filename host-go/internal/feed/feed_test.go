package feed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

const listYAML = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
    labels: {team: a}
    annotations: {big: "drop me"}
    managedFields: [{manager: kubectl}]
- apiVersion: v1
  kind: Namespace
  metadata: {name: other, labels: {team: b}}
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop, labels: {app: web}, resourceVersion: "9"}
  spec: {type: ClusterIP, clusterIP: 10.96.0.10, ports: [{name: http, port: 80, protocol: TCP}]}
  status: {loadBalancer: {}, conditions: [{type: x}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web, app: web}}
  addressType: IPv4
  endpoints: [{addresses: [10.1.0.1]}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: imported, namespace: shop, labels: {multicluster.kubernetes.io/service-name: web}}
  addressType: IPv4
  endpoints: []
- apiVersion: v1
  kind: Pod
  metadata: {name: running, namespace: shop, labels: {app: web}}
  spec: {containers: [{name: c, image: big}]}
  status: {phase: Running, podIPs: [{ip: 10.1.0.1}], conditions: [{type: Ready}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: done, namespace: shop, labels: {app: web}}
  status: {phase: Succeeded}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cm, namespace: shop}
- apiVersion: v1
  kind: Service
  metadata: {namespace: shop}
`

func write(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func keys(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Kind.String()+":"+o.Key())
	}
	return out
}

// watching is a watch of each kind, without selectors.
func watching(kinds ...engine.Kind) []engine.Watch {
	out := make([]engine.Watch, len(kinds))
	for i, k := range kinds {
		out[i] = engine.Watch{Kind: k}
	}
	return out
}

var everyKind = watching(engine.KindNamespace, engine.KindService, engine.KindEndpointSlice, engine.KindPod, engine.KindServiceImport)

// A snapshot delivers every object of the kinds watched, whatever their
// labels or phase: the core applies the watches' selectors.
func TestSnapshotDeliversWatchedKinds(t *testing.T) {
	path := write(t, listYAML)
	selective := []engine.Watch{
		{Kind: engine.KindNamespace, LabelSelector: "team=a"},
		{Kind: engine.KindEndpointSlice, LabelSelector: "app=web"},
		{Kind: engine.KindPod, LabelSelector: "app=web", FieldSelector: "status.phase!=Succeeded"},
	}
	// The ConfigMap is of a kind the core does not read: left out
	// quietly. The nameless Service cannot be read: listed when services
	// are watched.
	tests := []struct {
		name       string
		watches    []engine.Watch
		want       string
		unreadable []string
	}{
		{"every kind", everyKind,
			"namespace:shop namespace:other service:shop/web endpoint-slice:shop/web-1 endpoint-slice:shop/imported pod:shop/running pod:shop/done",
			[]string{"item 9: Service without a name"}},
		{"no pods or endpoints", watching(engine.KindNamespace, engine.KindService),
			"namespace:shop namespace:other service:shop/web", []string{"item 9: Service without a name"}},
		{"selectors are the core's to apply", selective,
			"namespace:shop namespace:other endpoint-slice:shop/web-1 endpoint-slice:shop/imported pod:shop/running pod:shop/done", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSnapshot(path, tt.watches)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(keys(s.objects), " "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if got := s.Unreadable(); !slices.Equal(got, tt.unreadable) {
				t.Errorf("unreadable %q, want %q", got, tt.unreadable)
			}
		})
	}
}

func TestSnapshotTrims(t *testing.T) {
	s, err := LoadSnapshot(write(t, listYAML), watching(engine.KindNamespace, engine.KindService, engine.KindPod))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range s.objects {
		js := string(o.JSON)
		for _, gone := range []string{"annotations", "managedFields", "\"image\"", "conditions"} {
			if strings.Contains(js, gone) {
				t.Errorf("%s still holds %s: %s", o.Key(), gone, js)
			}
		}
	}
	svc := s.objects[2]
	for _, kept := range []string{`"resourceVersion":"9"`, "10.96.0.10", `"labels":{"app":"web"}`} {
		if !strings.Contains(string(svc.JSON), kept) {
			t.Errorf("service lost %s: %s", kept, svc.JSON)
		}
	}
}

func TestSnapshotFormats(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
		err        string
	}{
		{"json list", `{"kind":"List","items":[{"kind":"Namespace","metadata":{"name":"a"}}]}`, 1, ""},
		{"documents", "kind: Namespace\nmetadata: {name: a}\n---\nkind: Namespace\nmetadata: {name: b}\n", 2, ""},
		{"empty documents", "---\n---\nkind: Namespace\nmetadata: {name: a}\n", 1, ""},
		{"broken yaml", "kind: [unclosed\n", 0, "document 1"},
		{"not an object", "- a\n- b\n", 0, "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSnapshot(write(t, tt.body), watching(engine.KindNamespace))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.objects) != tt.want {
				t.Errorf("%d objects, want %d", len(s.objects), tt.want)
			}
		})
	}
	if _, err := LoadSnapshot(filepath.Join(t.TempDir(), "missing.yaml"), everyKind); err == nil {
		t.Error("a missing file must be an error")
	}
}

type recorder struct {
	batches [][]Change
	synced  chan struct{}
}

func (r *recorder) Apply(b []Change) { r.batches = append(r.batches, b) }
func (r *recorder) Synced()          { close(r.synced) }
func (r *recorder) Skipped([]string) {}

func TestSnapshotRun(t *testing.T) {
	s, err := LoadSnapshot(write(t, listYAML), watching(engine.KindNamespace, engine.KindService))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{synced: make(chan struct{})}
	done := make(chan error)
	go func() { done <- s.Run(ctx, rec) }()
	select {
	case <-rec.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("never synced")
	}
	if len(rec.batches) != 1 || len(rec.batches[0]) != 3 {
		t.Errorf("batches: %v", rec.batches)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestSnapshotFollowsTheFile(t *testing.T) {
	path := write(t, "kind: List\nitems:\n- {kind: Namespace, metadata: {name: a}}\n- {kind: Namespace, metadata: {name: b}}\n")
	s, err := LoadSnapshot(path, watching(engine.KindNamespace))
	if err != nil {
		t.Fatal(err)
	}
	s.Poll = 20 * time.Millisecond
	var logged []string
	var mu sync.Mutex
	s.Logf = func(f string, a ...any) { mu.Lock(); logged = append(logged, fmt.Sprintf(f, a...)); mu.Unlock() }
	s.Warnf = s.Logf
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := newCollector()
	go func() { _ = s.Run(ctx, sink) }()
	<-sink.synced
	// A new version renamed over the file: b changes, a goes, c comes.
	next := path + ".new"
	body := "kind: List\nitems:\n- {kind: Namespace, metadata: {name: b, labels: {x: z}}}\n- {kind: Namespace, metadata: {name: c}}\n"
	if err := os.WriteFile(next, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "-namespace a")
	got := strings.Join(sink.seen(), ", ")
	if got != "namespace a, namespace b, namespace b, namespace c, -namespace a" {
		t.Errorf("changes: %s", got)
	}
	// A broken version is logged and ignored. Renamed over the file: a
	// file rewritten in place may be seen empty, then broken.
	if err := os.WriteFile(next, []byte("kind: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(logged)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) < 2 || !strings.Contains(logged[len(logged)-1], "keeping the last version") {
		t.Errorf("logged %q", logged)
	}
}
