package kubernetai

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// stanzaKey is the metadata key naming the stanza that answered (its
// position, from 1); clusterKey names its `cluster`, empty when it has
// none.
const (
	stanzaKey  = "kubernetai/stanza"
	clusterKey = "kubernetai/cluster"
)

// answered carries, from ServeDNS to the metadata plugin's readers, which
// stanza answered (the log plugin reads metadata after the answer).
type answered struct {
	stanza atomic.Int32
	// clusters is the answer's Clusters: the members of a cluster set
	// whose records it holds (bit per stanza), zero for other answers.
	clusters atomic.Uint64
}

type answeredKey struct{}

// Metadata implements the metadata plugin's Provider: the values the
// kubernetes plugin publishes (`kubernetes/*`: the parts of the name, the
// client's pod), `kubernetai/stanza`, the stanza that answered (or, when
// none did, the first whose zones hold the name), and `kubernetai/cluster`,
// that stanza's cluster name.
func (k *Kubernetai) Metadata(ctx context.Context, state request.Request) context.Context {
	cctx, cancel := context.WithTimeout(context.Background(), autopathTimeout)
	defer cancel()
	var (
		entries []engine.MetadataEntry
		err     error
	)
	k.calls.Do(func() { entries, err = k.engine.Metadata(cctx, state.Name(), state.IP()) })
	if err != nil {
		countGuestFailure([]string{metrics.WithServer(ctx)}, "metadata", err)
		return ctx
	}
	for _, e := range entries {
		if e.Key == stanzaKey {
			a := &answered{}
			fallback := e.Value
			ctx = context.WithValue(ctx, answeredKey{}, a)
			position := func() string {
				if n := a.stanza.Load(); n > 0 {
					return strconv.Itoa(int(n))
				}
				return fallback
			}
			metadata.SetValueFunc(ctx, stanzaKey, position)
			metadata.SetValueFunc(ctx, clusterKey, func() string {
				if set := a.clusters.Load(); set != 0 {
					return k.clusterNames(set)
				}
				return k.clusterName(position())
			})
			continue
		}
		value := e.Value
		metadata.SetValueFunc(ctx, e.Key, func() string { return value })
	}
	return ctx
}

// noteAnswer records the answering stanza for `kubernetai/stanza`, and
// the cluster set members whose records the answer holds for
// `kubernetai/cluster`.
func noteAnswer(ctx context.Context, stanza uint32, clusters uint64) {
	if a, ok := ctx.Value(answeredKey{}).(*answered); ok {
		a.stanza.Store(int32(stanza) + 1)
		a.clusters.Store(clusters)
	}
}

// clusterNames is the `cluster` names of the stanzas in set (bit per
// stanza), comma-separated in Corefile order.
func (k *Kubernetai) clusterNames(set uint64) string {
	var names []string
	for i, st := range k.stanzas {
		if set&(1<<i) != 0 && st.named {
			names = append(names, st.label)
		}
	}
	return strings.Join(names, ",")
}

// clusterName is the `cluster` name of the stanza at position (from 1, as
// `kubernetai/stanza` gives it), "" when it has none.
func (k *Kubernetai) clusterName(position string) string {
	n, err := strconv.Atoi(position)
	if err != nil || n < 1 || n > len(k.stanzas) || !k.stanzas[n-1].named {
		return ""
	}
	return k.stanzas[n-1].label
}
