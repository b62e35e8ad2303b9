// Package feed delivers one stanza's Kubernetes objects to the core: the
// initial state, then every change, then word that the initial state is
// complete (synced). Sources differ in where objects come from — a
// snapshot file, a live API server — but deliver the same way.
package feed

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// Kinds of objects a source can deliver, as the Kubernetes API names them.
const (
	KindNamespace     = "Namespace"
	KindService       = "Service"
	KindEndpointSlice = "EndpointSlice"
	KindPod           = "Pod"
	KindServiceImport = "ServiceImport"
)

// LabelMulticlusterService marks the EndpointSlices of an imported
// multi-cluster service.
const LabelMulticlusterService = "multicluster.kubernetes.io/service-name"

// Object is one Kubernetes object, trimmed to what DNS reads.
type Object struct {
	Kind      string
	Namespace string
	Name      string
	Labels    map[string]string
	// JSON is the object as the API serialises it, minus what DNS never
	// reads (see Trim).
	JSON []byte
	// Changed is when the change behind an EndpointSlice update happened,
	// when the source knows (for the DNS programming latency metric).
	Changed time.Time
}

// Key identifies the object within its kind: namespace/name.
func (o *Object) Key() string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

// Change is an object that appeared, changed or went away.
type Change struct {
	Object  Object
	Deleted bool
}

// Sink receives one stanza's changes, in order.
type Sink interface {
	// Apply takes a batch of changes; batches are large while a source
	// delivers its initial state.
	Apply(batch []Change)
	// Synced reports that the initial state has been delivered.
	Synced()
}

// Source delivers one stanza's objects.
type Source interface {
	// Run delivers objects to sink until ctx is done.
	Run(ctx context.Context, sink Sink) error
	// String describes the source for log lines.
	String() string
}

// Filter is what a stanza asks of its source: the kinds it reads and the
// label selectors of the `labels` and `namespace_labels` options, applied
// with the API server's semantics.
type Filter struct {
	Kinds []string
	// Multicluster asks for the EndpointSlices of imported services too.
	Multicluster bool
	// Labels selects Services, EndpointSlices and Pods; nil selects all.
	Labels labels.Selector
	// NamespaceLabels selects Namespaces (and, as in the kubernetes
	// plugin, ServiceImports); nil selects all.
	NamespaceLabels labels.Selector
}

// Wants reports whether the stanza reads objects of this kind.
func (f *Filter) Wants(kind string) bool {
	return slices.Contains(f.Kinds, kind)
}

// Selects reports whether an object passes the filter, as a list or watch
// with the stanza's selectors would return it.
func (f *Filter) Selects(o *Object, phase string) bool {
	set := labels.Set(o.Labels)
	switch o.Kind {
	case KindNamespace, KindServiceImport:
		return f.Wants(o.Kind) && matches(f.NamespaceLabels, set)
	case KindService:
		return f.Wants(o.Kind) && matches(f.Labels, set)
	case KindEndpointSlice:
		_, imported := o.Labels[LabelMulticlusterService]
		return (f.Wants(o.Kind) || (f.Multicluster && imported)) && matches(f.Labels, set)
	case KindPod:
		// The kubernetes plugin's field selector: finished pods and pods in
		// an unknown phase are not listed.
		live := phase != "Succeeded" && phase != "Failed" && phase != "Unknown"
		return f.Wants(o.Kind) && live && matches(f.Labels, set)
	}
	return false
}

func matches(s labels.Selector, set labels.Set) bool {
	return s == nil || s.Matches(set)
}
