package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// triggerAnnotation is when the EndpointSlice controller saw the change
// that led to a slice update: the start of DNS programming latency.
const triggerAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

// metadataKept is every metadata field the core reads.
var metadataKept = []string{"name", "namespace", "labels", "resourceVersion", "deletionTimestamp"}

// trim drops what DNS never reads — managed fields, annotations, owner
// references, pod specs, most of any status — so that what is stored and
// handed to the core stays small. The informers' transform (storedOf)
// trims with it, and snapshot items are decoded into the same objects and
// trimmed by it, so both sources hand the core the same JSON for the same
// object (the type fields, which typed lists leave out, go too).
func trim(obj any) (any, error) {
	if o, ok := obj.(interface{ SetGroupVersionKind(schema.GroupVersionKind) }); ok {
		if _, custom := obj.(*unstructured.Unstructured); !custom {
			o.SetGroupVersionKind(schema.GroupVersionKind{})
		}
	}
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
		if m, ok := o.Object["metadata"].(map[string]any); ok {
			kept := make(map[string]any, len(metadataKept))
			for _, k := range metadataKept {
				if v, ok := m[k]; ok {
					kept[k] = v
				}
			}
			o.Object["metadata"] = kept
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

// toObject serialises a trimmed object for the core.
func toObject(kind engine.Kind, obj any) Object {
	o := Object{Kind: kind}
	if m, ok := obj.(metav1.Object); ok {
		o.Namespace, o.Name = m.GetNamespace(), m.GetName()
		if t, err := time.Parse(time.RFC3339Nano, m.GetAnnotations()[triggerAnnotation]); err == nil {
			o.Changed = t
		}
	}
	// A failure leaves JSON empty; the core reports the object as one it
	// could not decode, and the sink logs it.
	o.JSON, _ = json.Marshal(obj)
	return o
}

// stored is an object as a live feed keeps it, in the informers' stores
// and its own: trimmed and serialised as it arrives (the informers'
// transform), so that the typed object the client decoded is garbage at
// once, and the JSON is the one the core and the engine's mirror are
// given, not a copy. The typed objects cost about three times their JSON
// (RATIONALE.md in internal/engine, "One copy of each object").
type stored struct {
	Object
	resourceVersion string
}

// GetObjectMeta is what client-go reads of a stored object (through
// meta.Accessor): its name and namespace to key it, and its resource
// version, which tells an update from a relist's copy of an object
// unchanged.
func (s *stored) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, ResourceVersion: s.resourceVersion}
}

// storedOf trims and serialises an object of kind; an object stored
// already is returned as it is (a streamed list is transformed once into
// a temporary store, then replaced into the informer's).
func storedOf(kind engine.Kind, obj any) *stored {
	if s, ok := obj.(*stored); ok {
		return s
	}
	trimmed, _ := trim(obj)
	s := &stored{Object: toObject(kind, trimmed)}
	if m, ok := trimmed.(metav1.Object); ok {
		s.resourceVersion = m.GetResourceVersion()
	}
	return s
}

// decodeError is why a snapshot item could not be decoded, and what kind
// of object it is, as far as can be told.
type decodeError struct {
	kind engine.Kind
	// anyKind: the kind cannot be told; notServed: a kind the core does
	// not read (not an error to report).
	anyKind, notServed bool
	err                error
}

func (e *decodeError) Error() string { return e.err.Error() }

// decode reads one snapshot item as the object of its kind, trimmed, the
// way an informer would have delivered it. An error is a *decodeError.
func decode(raw []byte) (Object, error) {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Object{}, &decodeError{anyKind: true, err: fmt.Errorf("not a JSON object: %w", err)}
	}
	if head.Kind == "" {
		return Object{}, &decodeError{anyKind: true, err: errors.New("an object without a kind")}
	}
	kind, ok := kindOf(head.Kind)
	if !ok {
		return Object{}, &decodeError{notServed: true, err: fmt.Errorf("%s: kind not served", head.Kind)}
	}
	obj := resources[kind].object()
	if err := json.Unmarshal(raw, obj); err != nil {
		return Object{}, &decodeError{kind: kind, err: fmt.Errorf("%s: %w", head.Kind, err)}
	}
	trimmed, _ := trim(obj)
	o := toObject(kind, trimmed)
	if o.Name == "" {
		return Object{}, &decodeError{kind: kind, err: fmt.Errorf("%s without a name", head.Kind)}
	}
	return o, nil
}
