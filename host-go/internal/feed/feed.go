// Package feed delivers one stanza's Kubernetes objects to the core: the
// initial state, then every change, then word that the initial state is
// complete (synced). Sources differ in where objects come from — a
// snapshot file, a live API server — but deliver the same way: the kinds
// the stanza's plan watches, trimmed by one function, and no other
// selection (the API server applies the plan's selectors to a live
// source; the core applies them again to everything it is given).
package feed

import (
	"context"
	"time"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// Object is one Kubernetes object, trimmed to what DNS reads.
type Object struct {
	Kind      engine.Kind
	Namespace string
	Name      string
	// JSON is the object as the API serialises it, minus what DNS never
	// reads (see trim).
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
	// Skipped reports items of the source that could not be read, each
	// with the reason, for every version of the source that has them.
	Skipped(problems []string)
}

// Source delivers one stanza's objects.
type Source interface {
	// Run delivers objects to sink until ctx is done.
	Run(ctx context.Context, sink Sink) error
	// String describes the source for log lines.
	String() string
}
