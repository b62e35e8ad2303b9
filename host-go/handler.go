package kubernetai

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/plugin/pkg/upstream"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// maxUpstreamDepth bounds lookups that come back into kubernetai while it
// resolves ExternalName targets (a target in another stanza's zone whose
// service points back): past it the target counts as unresolvable, where
// the kubernetes plugin would recurse until the stack gives out.
const maxUpstreamDepth = 4

type upstreamDepthKey struct{}

// ServeDNS implements plugin.Handler. The core decides everything; the
// host moves bytes, resolves names the core cannot, and passes misses on.
// The work that needs a deep stack runs on k.calls (internal/callers).
func (k *Kubernetai) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	server := metrics.WithServer(ctx)
	var (
		query        []byte
		replies      []engine.UpstreamReply
		res          lookup
		packErr, err error
	)
	k.calls.Do(func() {
		if query, packErr = r.Pack(); packErr == nil {
			res, err = k.lookup(ctx, query, nil)
		}
	})
	if packErr != nil {
		// CoreDNS read this query off the wire, so a plugin before this one
		// made it unwritable (a rewrite to an over-long name, say): the core
		// cannot read it, as it cannot read a malformed query, so FORMERR.
		requests.WithLabelValues(server, "", "malformed").Inc()
		return dns.RcodeFormatError, fmt.Errorf("packing query: %w", packErr)
	}
	if err == nil && res.outcome.Kind == engine.OutcomeUpstream {
		upstreamLookups.WithLabelValues(server).Add(float64(len(res.outcome.Upstream)))
		replies = k.resolve(ctx, w, r, res.outcome.Upstream)
		k.calls.Do(func() { res, err = k.lookup(ctx, query, replies) })
		if err == nil && res.outcome.Kind == engine.OutcomeUpstream {
			err = errors.New("the core asked for upstream names it was given")
		}
	}
	if err != nil {
		requests.WithLabelValues(server, "", "failed").Inc()
		countGuestFailure([]string{server}, "lookup", err)
		return dns.RcodeServerFailure, err
	}
	if k.shadow != nil {
		// Off the query's path: the shadow's worker takes it from here.
		defer k.shadow.offer(shadowJob{server: server, query: query, replies: replies, served: res.outcome})
	}
	switch outcome := res.outcome; outcome.Kind {
	case engine.OutcomeAnswer:
		k.countPassed(server, outcome.Answer.FellThrough)
		return k.writeAnswer(ctx, w, server, res)
	case engine.OutcomeFallthrough:
		k.countPassed(server, outcome.Fallthrough)
		if outcome.Fallthrough == 0 {
			requests.WithLabelValues(server, "", "not_authoritative").Inc()
		}
		return plugin.NextOrFailure(k.Name(), k.Next, ctx, w, r)
	default:
		requests.WithLabelValues(server, "", rcodeOutcome(int(outcome.Rcode))).Inc()
		return int(outcome.Rcode), nil
	}
}

// lookup is what the core made of a query, with an answer read.
type lookup struct {
	outcome engine.Outcome
	// msg is the answer of an OutcomeAnswer, or nil when it could not be
	// read, for the reason in unreadable.
	msg        *dns.Msg
	unreadable error
}

// lookup asks the core about query and reads its answer, if it gave one.
func (k *Kubernetai) lookup(ctx context.Context, query []byte, replies []engine.UpstreamReply) (lookup, error) {
	out, err := k.engine.Lookup(ctx, query, replies)
	res := lookup{outcome: out}
	if err == nil && out.Kind == engine.OutcomeAnswer {
		res.msg = new(dns.Msg)
		if res.unreadable = res.msg.Unpack(out.Answer.Message); res.unreadable != nil {
			res.msg = nil
		}
	}
	return res, err
}

// writeAnswer writes the core's answer and counts it for the stanza that
// gave it. A FORMERR is no stanza's: the core answers it, on behalf of
// the first stanza, to a query it cannot read as one question. A SERVFAIL
// is the stanza's (it has not synced, or holds objects back for lack of
// memory) but counts as failed: a client got no answer, and an alert on
// failed must see a cluster that cannot answer.
func (k *Kubernetai) writeAnswer(ctx context.Context, w dns.ResponseWriter, server string, res lookup) (int, error) {
	if res.msg == nil {
		requests.WithLabelValues(server, "", "failed").Inc()
		return dns.RcodeServerFailure, fmt.Errorf("the core wrote an unreadable answer: %w", res.unreadable)
	}
	stanza, clusters := res.outcome.Answer.Stanza, res.outcome.Answer.Clusters
	switch res.msg.Rcode {
	case dns.RcodeFormatError:
		requests.WithLabelValues(server, "", "malformed").Inc()
	case dns.RcodeServerFailure:
		requests.WithLabelValues(server, k.label(stanza), "failed").Inc()
		noteAnswer(ctx, stanza, clusters)
	default:
		k.countAnswered(server, stanza, clusters)
		noteAnswer(ctx, stanza, clusters)
	}
	if err := w.WriteMsg(res.msg); err != nil {
		return dns.RcodeServerFailure, err
	}
	return dns.RcodeSuccess, nil
}

// countAnswered counts an answer for the stanza that gave it, or, for a
// merged answer of a cluster set, once for each member whose records it
// holds.
func (k *Kubernetai) countAnswered(server string, stanza uint32, clusters uint64) {
	if clusters == 0 {
		clusters = 1 << stanza
	}
	for i := uint32(0); clusters != 0; i, clusters = i+1, clusters>>1 {
		if clusters&1 != 0 {
			requests.WithLabelValues(server, k.label(i), "answered").Inc()
		}
	}
}

// rcodeOutcome names the outcome of a response code the core leaves to
// CoreDNS to write.
func rcodeOutcome(rcode int) string {
	switch rcode {
	case dns.RcodeRefused:
		return "refused"
	case dns.RcodeFormatError:
		return "malformed"
	default:
		return "failed"
	}
}

// countPassed counts, per stanza, the queries it passed on with
// `fallthrough`.
func (k *Kubernetai) countPassed(server string, passed uint64) {
	for i := 0; passed != 0; i, passed = i+1, passed>>1 {
		if passed&1 != 0 {
			requests.WithLabelValues(server, k.label(uint32(i)), "fallthrough").Inc()
		}
	}
}

// label is a stanza's metrics label.
func (k *Kubernetai) label(stanza uint32) string {
	if int(stanza) < len(k.stanzas) {
		return k.stanzas[stanza].label
	}
	return strconv.Itoa(int(stanza) + 1)
}

// countGuestFailure counts calls the core failed (a trap or a cut-off),
// not calls abandoned because the client went away, for each of servers:
// the query's server, or the block's servers for calls no query made.
func countGuestFailure(servers []string, function string, err error) {
	var ce *engine.CallError
	if errors.As(err, &ce) {
		for _, server := range servers {
			guestFailures.WithLabelValues(server, function).Inc()
		}
	}
}

// resolve looks names up through the whole CoreDNS server, as the
// kubernetes plugin resolves ExternalName targets outside its zones. A
// lookup that fails gives an empty reply: the core then drops the CNAME.
func (k *Kubernetai) resolve(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, queries []engine.UpstreamQuery) []engine.UpstreamReply {
	depth, _ := ctx.Value(upstreamDepthKey{}).(int)
	inner := context.WithValue(ctx, upstreamDepthKey{}, depth+1)
	state := request.Request{W: w, Req: r}
	up := upstream.New()
	replies := make([]engine.UpstreamReply, len(queries))
	for i, q := range queries {
		replies[i] = engine.UpstreamReply{Name: q.Name, Qtype: q.Qtype}
		if depth >= maxUpstreamDepth {
			continue
		}
		m, err := up.Lookup(inner, state, q.Name, q.Qtype)
		if err != nil || m == nil {
			continue
		}
		if b, err := m.Pack(); err == nil {
			replies[i].Message = b
		}
	}
	return replies
}
