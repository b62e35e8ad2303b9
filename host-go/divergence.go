package kubernetai

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// Kinds of divergence between the module serving and a shadow, the `kind`
// label of coredns_kubernetai_shadow_divergences_total: the first that
// applies, in this order.
const (
	divergedFailure    = "failure"    // the shadow trapped or was cut off
	divergedOutcome    = "outcome"    // answer, pass on, ask upstream or leave the rcode to CoreDNS: another one, or other stanzas or names
	divergedUnreadable = "unreadable" // the shadow's answer is not a DNS message
	divergedRcode      = "rcode"
	divergedFlags      = "flags"
	divergedAnswer     = "answer"
	divergedAuthority  = "authority"
	divergedAdditional = "additional"
)

// serialSlack is how far apart two SOA serials may be and still agree.
// The core defines a serial as the Unix time of the zone's last change,
// and the serving and the shadow cores apply each change a moment apart,
// so a serial may differ across a second's boundary.
const serialSlack = 10

// diverges compares the shadow's outcome (and error) for a query with the
// serving module's: "" when they agree, else the kind of the first
// difference. Messages agree when their rcode and flags are the same and
// each section holds the same records in any order, TTLs included; SOA
// serials within serialSlack.
func diverges(served, shadow engine.Outcome, err error) string {
	if err != nil {
		return divergedFailure
	}
	if served.Kind != shadow.Kind {
		return divergedOutcome
	}
	switch served.Kind {
	case engine.OutcomeFallthrough:
		if served.Fallthrough != shadow.Fallthrough {
			return divergedOutcome
		}
	case engine.OutcomeRcode:
		if served.Rcode != shadow.Rcode {
			return divergedRcode
		}
	case engine.OutcomeUpstream:
		if !slices.Equal(served.Upstream, shadow.Upstream) {
			return divergedOutcome
		}
	case engine.OutcomeAnswer:
		a, b := served.Answer, shadow.Answer
		if a.Stanza != b.Stanza || a.FellThrough != b.FellThrough || a.Clusters != b.Clusters {
			return divergedOutcome
		}
		return messagesDiverge(served.Answer.Message, shadow.Answer.Message)
	}
	return ""
}

// messagesDiverge compares two answers as DNS messages. Two cores with
// the same state mostly write the same bytes: those agree without being
// read.
func messagesDiverge(served, shadow []byte) string {
	if bytes.Equal(served, shadow) {
		return ""
	}
	a, b := new(dns.Msg), new(dns.Msg)
	if err := b.Unpack(shadow); err != nil {
		return divergedUnreadable
	}
	if err := a.Unpack(served); err != nil {
		// The serving answer was answered SERVFAIL as unreadable: the
		// shadow's readable one differs from what the client got.
		return divergedUnreadable
	}
	switch {
	case a.Rcode != b.Rcode:
		return divergedRcode
	case flags(a) != flags(b):
		return divergedFlags
	case !sameRecords(a.Answer, b.Answer):
		return divergedAnswer
	case !sameRecords(a.Ns, b.Ns):
		return divergedAuthority
	case !sameRecords(a.Extra, b.Extra):
		return divergedAdditional
	}
	return ""
}

// flags are a message's header bits and opcode, for comparing.
func flags(m *dns.Msg) string {
	return fmt.Sprint(m.Opcode, m.Response, m.Authoritative, m.Truncated, m.RecursionDesired,
		m.RecursionAvailable, m.Zero, m.AuthenticatedData, m.CheckingDisabled)
}

// sameRecords says whether two sections hold the same records, as
// multisets, SOA serials within serialSlack.
func sameRecords(a, b []dns.RR) bool {
	if len(a) != len(b) {
		return false
	}
	ka, sa := recordKeys(a)
	kb, sb := recordKeys(b)
	if !slices.Equal(ka, kb) {
		return false
	}
	for i := range sa {
		if d := int32(sa[i] - sb[i]); d > serialSlack || d < -serialSlack {
			return false
		}
	}
	return true
}

// recordKeys are a section's records as sorted text, each SOA's serial
// left out and returned apart, in the order of their records' text.
func recordKeys(rrs []dns.RR) ([]string, []uint32) {
	type key struct {
		text   string
		serial uint32
	}
	keys := make([]key, len(rrs))
	for i, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			c := *soa
			c.Serial = 0
			keys[i] = key{c.String(), soa.Serial}
			continue
		}
		keys[i] = key{rr.String(), 0}
	}
	slices.SortFunc(keys, func(x, y key) int {
		if c := strings.Compare(x.text, y.text); c != 0 {
			return c
		}
		return int(int64(x.serial) - int64(y.serial))
	})
	texts, serials := make([]string, len(keys)), make([]uint32, len(keys))
	for i, k := range keys {
		texts[i], serials[i] = k.text, k.serial
	}
	return texts, serials
}

// questionOf is a query's question, for logs.
func questionOf(query []byte) string {
	m := new(dns.Msg)
	if err := m.Unpack(query); err != nil || len(m.Question) != 1 {
		return "an unreadable query"
	}
	q := m.Question[0]
	return q.Name + " " + dns.TypeToString[q.Qtype]
}

// summarize says compactly what an outcome was, for logs: an answer's
// rcode, flags and answer records, and how many records the other
// sections hold.
func summarize(o engine.Outcome, err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	switch o.Kind {
	case engine.OutcomeFallthrough:
		return fmt.Sprintf("passed on (fallthrough %#x)", o.Fallthrough)
	case engine.OutcomeRcode:
		return "rcode " + dns.RcodeToString[int(o.Rcode)]
	case engine.OutcomeUpstream:
		return fmt.Sprintf("asks upstream for %d names", len(o.Upstream))
	}
	m := new(dns.Msg)
	if err := m.Unpack(o.Answer.Message); err != nil {
		return "unreadable answer: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "stanza %d %s", o.Answer.Stanza+1, dns.RcodeToString[m.Rcode])
	if m.Authoritative {
		b.WriteString(" aa")
	}
	if m.Truncated {
		b.WriteString(" tc")
	}
	records := make([]string, len(m.Answer))
	for i, rr := range m.Answer {
		records[i] = dns.TypeToString[rr.Header().Rrtype] + " " + strings.TrimPrefix(rr.String(), rr.Header().String())
	}
	fmt.Fprintf(&b, " [%s] ns %d extra %d", strings.Join(records, "; "), len(m.Ns), len(m.Extra))
	return b.String()
}
