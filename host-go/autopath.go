package kubernetai

import (
	"context"
	"time"

	"github.com/coredns/coredns/request"
)

// autopathTimeout bounds the core's work for autopath and metadata, which
// CoreDNS asks for without a deadline.
const autopathTimeout = time.Second

// AutoPath implements the autopath plugin's AutoPather (`autopath
// @kubernetai`): the search path of the client's pod, from the first
// stanza (with `pods verified`) that holds the name and knows the pod, then
// the host's resolv.conf search list. Upstream kubernetai returned nothing
// unless every stanza knew the pod.
func (k *Kubernetai) AutoPath(state request.Request) []string {
	ctx, cancel := context.WithTimeout(context.Background(), autopathTimeout)
	defer cancel()
	var (
		search []string
		ok     bool
		err    error
	)
	k.calls.Do(func() { search, ok, err = k.engine.AutoPath(ctx, state.Name(), state.IP()) })
	if err != nil {
		countGuestFailure(k.metricServers(), "autopath", err)
		return nil
	}
	if !ok {
		return nil
	}
	return search
}
