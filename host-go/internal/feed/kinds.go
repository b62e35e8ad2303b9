package feed

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// resource is how the Kubernetes API serves one kind the core reads.
type resource struct {
	apiKind string // the objects' kind field, as snapshots hold it
	plural  string // the resource, for log lines
	// object is a new, empty object of the kind, to decode into: typed,
	// or unstructured for a custom resource.
	object func() runtime.Object
}

// resources are the kinds, in engine.Kind order: namespaces first, so
// that a replaying core never sees an object in a namespace it has not
// heard of yet (harmless either way, but easier to read in logs).
var resources = [...]resource{
	engine.KindNamespace:     {"Namespace", "namespaces", func() runtime.Object { return &corev1.Namespace{} }},
	engine.KindService:       {"Service", "services", func() runtime.Object { return &corev1.Service{} }},
	engine.KindEndpointSlice: {"EndpointSlice", "endpointslices", func() runtime.Object { return &discoveryv1.EndpointSlice{} }},
	engine.KindPod:           {"Pod", "pods", func() runtime.Object { return &corev1.Pod{} }},
	engine.KindServiceImport: {"ServiceImport", "serviceimports", func() runtime.Object { return &unstructured.Unstructured{} }},
}

// serviceImports is the Multi-Cluster Services API's ServiceImport.
var serviceImports = schema.GroupVersionResource{Group: "multicluster.x-k8s.io", Version: "v1alpha1", Resource: "serviceimports"}

// kindOf maps an object's kind field to the core's kind.
func kindOf(apiKind string) (engine.Kind, bool) {
	for k, r := range resources {
		if r.apiKind == apiKind {
			return engine.Kind(k), true
		}
	}
	return 0, false
}

// watchedKinds are the kinds of watches, as a set.
func watchedKinds(watches []engine.Watch) map[engine.Kind]bool {
	kinds := make(map[engine.Kind]bool, len(watches))
	for _, w := range watches {
		kinds[w.Kind] = true
	}
	return kinds
}
