package kubernetai

import (
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// message builds an answer to web.shop.svc.cluster.local. A: change edits
// it before it is packed.
func message(t *testing.T, change func(m *dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	m.Response, m.Authoritative = true, true
	for _, rr := range []string{
		"web.shop.svc.cluster.local. 5 IN A 10.0.0.1",
		"web.shop.svc.cluster.local. 5 IN A 10.0.0.2",
	} {
		m.Answer = append(m.Answer, mustRR(t, rr))
	}
	m.Ns = append(m.Ns, mustRR(t, "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5"))
	if change != nil {
		change(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func answerOutcome(msg []byte, stanza uint32) engine.Outcome {
	return engine.Outcome{Kind: engine.OutcomeAnswer, Answer: engine.Answer{Message: msg, Stanza: stanza}}
}

func TestDiverges(t *testing.T) {
	served := answerOutcome(message(t, nil), 0)
	serial := func(n uint32) func(*dns.Msg) { return func(m *dns.Msg) { m.Ns[0].(*dns.SOA).Serial = n } }
	tests := []struct {
		name   string
		shadow engine.Outcome
		err    error
		want   string
	}{
		{"the same", answerOutcome(message(t, nil), 0), nil, ""},
		{"records in another order", answerOutcome(message(t, func(m *dns.Msg) {
			m.Answer[0], m.Answer[1] = m.Answer[1], m.Answer[0]
		}), 0), nil, ""},
		{"a serial a few seconds apart", answerOutcome(message(t, serial(1700000003)), 0), nil, ""},
		{"a serial past the slack", answerOutcome(message(t, serial(1700000100)), 0), nil, divergedAuthority},
		{"the shadow failed", engine.Outcome{}, errors.New("trap"), divergedFailure},
		{"passed on instead", engine.Outcome{Kind: engine.OutcomeFallthrough}, nil, divergedOutcome},
		{"another stanza", answerOutcome(message(t, nil), 1), nil, divergedOutcome},
		{"other cluster set members", engine.Outcome{Kind: engine.OutcomeAnswer,
			Answer: engine.Answer{Message: message(t, nil), Clusters: 0b11}}, nil, divergedOutcome},
		{"another rcode", answerOutcome(message(t, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError }), 0), nil, divergedRcode},
		{"not authoritative", answerOutcome(message(t, func(m *dns.Msg) { m.Authoritative = false }), 0), nil, divergedFlags},
		{"another TTL", answerOutcome(message(t, func(m *dns.Msg) { m.Answer[1].Header().Ttl = 30 }), 0), nil, divergedAnswer},
		{"a record less", answerOutcome(message(t, func(m *dns.Msg) { m.Answer = m.Answer[:1] }), 0), nil, divergedAnswer},
		{"a duplicate instead of a record", answerOutcome(message(t, func(m *dns.Msg) { m.Answer[1] = m.Answer[0] }), 0), nil, divergedAnswer},
		{"no authority", answerOutcome(message(t, func(m *dns.Msg) { m.Ns = nil }), 0), nil, divergedAuthority},
		{"an additional record", answerOutcome(message(t, func(m *dns.Msg) {
			m.Extra = append(m.Extra, mustRR(t, "ns.dns.cluster.local. 5 IN A 10.0.0.10"))
		}), 0), nil, divergedAdditional},
		{"unreadable", answerOutcome([]byte{1, 2, 3}, 0), nil, divergedUnreadable},
	}
	for _, tt := range tests {
		if got := diverges(served, tt.shadow, tt.err); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}

	other := []struct {
		name           string
		served, shadow engine.Outcome
		want           string
	}{
		{"same fallthrough", engine.Outcome{Kind: engine.OutcomeFallthrough, Fallthrough: 2},
			engine.Outcome{Kind: engine.OutcomeFallthrough, Fallthrough: 2}, ""},
		{"other stanzas passed on", engine.Outcome{Kind: engine.OutcomeFallthrough, Fallthrough: 2},
			engine.Outcome{Kind: engine.OutcomeFallthrough, Fallthrough: 3}, divergedOutcome},
		{"another rcode left to CoreDNS", engine.Outcome{Kind: engine.OutcomeRcode, Rcode: dns.RcodeRefused},
			engine.Outcome{Kind: engine.OutcomeRcode, Rcode: dns.RcodeServerFailure}, divergedRcode},
		{"other upstream names", engine.Outcome{Kind: engine.OutcomeUpstream, Upstream: []engine.UpstreamQuery{{Name: "a.", Qtype: 1}}},
			engine.Outcome{Kind: engine.OutcomeUpstream, Upstream: []engine.UpstreamQuery{{Name: "b.", Qtype: 1}}}, divergedOutcome},
	}
	for _, tt := range other {
		if got := diverges(tt.served, tt.shadow, nil); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	got := summarize(answerOutcome(message(t, nil), 1), nil)
	want := "stanza 2 NOERROR aa [A 10.0.0.1; A 10.0.0.2] ns 1 extra 0"
	if got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got := summarize(engine.Outcome{}, errors.New("cut off")); got != "failed: cut off" {
		t.Errorf("failure summary %q", got)
	}
	if got := questionOf(message(t, nil)); got != "web.shop.svc.cluster.local. A" {
		t.Errorf("question %q", got)
	}
}
