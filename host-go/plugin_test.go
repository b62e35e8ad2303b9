package kubernetai

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// fakeCore answers with what a test chose, so that the plugin's handling
// of every outcome can be checked without a cluster or a component.
type fakeCore struct {
	outcome engine.Outcome
	err     error
	// transfers are the pages of each zone's transfer, each a list of
	// messages; the cursor of page i is "i". Transfer fails with err at
	// page failPage (from 1; 0: never).
	transfers map[string][][][]byte
	failPage  int
	cursors   [][]byte // given to Transfer, in order
	search    []string
	meta      []engine.MetadataEntry
}

func (f *fakeCore) Lookup(context.Context, []byte, []engine.UpstreamReply) (engine.Outcome, error) {
	return f.outcome, f.err
}

func (f *fakeCore) Transfer(_ context.Context, zone string, _ uint32, cursor []byte) (engine.TransferPage, bool, error) {
	f.cursors = append(f.cursors, cursor)
	page, _ := strconv.Atoi(string(cursor))
	if page+1 == f.failPage {
		return engine.TransferPage{}, false, f.err
	}
	pages, ok := f.transfers[zone]
	if !ok {
		return engine.TransferPage{}, false, nil
	}
	p := engine.TransferPage{Messages: pages[page]}
	if page+1 < len(pages) {
		p.Next = []byte(strconv.Itoa(page + 1))
	}
	return p, true, nil
}

func (f *fakeCore) AutoPath(context.Context, string, string) ([]string, bool, error) {
	return f.search, f.search != nil, f.err
}

func (f *fakeCore) Metadata(context.Context, string, string) ([]engine.MetadataEntry, error) {
	return f.meta, f.err
}

func (f *fakeCore) Apply(int, []engine.KeyedEvent) (engine.ApplyResult, error) {
	return engine.ApplyResult{}, f.err
}
func (f *fakeCore) SetSynced(int, bool)           {}
func (f *fakeCore) SetHost(engine.HostInfo) error { return nil }
func (f *fakeCore) Close(context.Context) error   { return nil }

func fakePlugin(f *fakeCore, stanzas int) *Kubernetai {
	k := &Kubernetai{engine: f, notifier: newNotifier(time.Second)}
	for i := range stanzas {
		k.stanzas = append(k.stanzas, &stanza{index: i, label: string(rune('1' + i)), engine: f})
	}
	return k
}

func answer(t *testing.T, rcode int) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	m.Response, m.Authoritative, m.Rcode = true, true, rcode
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(server, stanza, outcome string) float64 {
	return testutil.ToFloat64(requests.WithLabelValues(server, stanza, outcome))
}

func TestOutcomesAndStanzaMetrics(t *testing.T) {
	tests := []struct {
		name      string
		outcome   engine.Outcome
		err       error
		wantRcode int
		wantWrite bool
		wantNext  bool
		counted   [][2]string // (stanza, outcome) each counted once
		uncounted [][2]string // (stanza, outcome) not counted
	}{
		{"second stanza answers after the first passed", answerFrom(answer(t, dns.RcodeSuccess), 1, 1),
			nil, dns.RcodeSuccess, true, false, [][2]string{{"2", "answered"}, {"1", "fallthrough"}}, nil},
		{"a negative answer is still written", answerFrom(answer(t, dns.RcodeNameError), 0, 0),
			nil, dns.RcodeSuccess, true, false, [][2]string{{"1", "answered"}}, nil},
		{"every stanza passed it on", engine.Outcome{Kind: engine.OutcomeFallthrough, Fallthrough: 0b11},
			nil, dns.RcodeSuccess, false, true, [][2]string{{"1", "fallthrough"}, {"2", "fallthrough"}}, nil},
		{"in no stanza's zones", engine.Outcome{Kind: engine.OutcomeFallthrough},
			nil, dns.RcodeSuccess, false, true, [][2]string{{"", "not_authoritative"}}, nil},
		{"refused, left to CoreDNS", engine.Outcome{Kind: engine.OutcomeRcode, Rcode: dns.RcodeRefused},
			nil, dns.RcodeRefused, false, false, [][2]string{{"", "refused"}}, nil},
		{"the core failed", engine.Outcome{}, errors.New("trap"),
			dns.RcodeServerFailure, false, false, [][2]string{{"", "failed"}}, nil},
		// The core answers FORMERR, as stanza 0, to a query it cannot read
		// as one question: no stanza answered it.
		{"the core could not read the question", answerFrom(answer(t, dns.RcodeFormatError), 0, 0),
			nil, dns.RcodeSuccess, true, false, [][2]string{{"", "malformed"}}, [][2]string{{"1", "answered"}}},
		{"the core could not read the header", engine.Outcome{Kind: engine.OutcomeRcode, Rcode: dns.RcodeFormatError},
			nil, dns.RcodeFormatError, false, false, [][2]string{{"", "malformed"}}, [][2]string{{"", "refused"}}},
		{"another rcode left to CoreDNS", engine.Outcome{Kind: engine.OutcomeRcode, Rcode: dns.RcodeServerFailure},
			nil, dns.RcodeServerFailure, false, false, [][2]string{{"", "failed"}}, [][2]string{{"", "refused"}}},
		// A stanza that has not synced (or holds objects back) answers
		// SERVFAIL itself: the client got no answer, so it is failed, and
		// the stanza's.
		{"a stanza answers SERVFAIL", answerFrom(answer(t, dns.RcodeServerFailure), 0, 0),
			nil, dns.RcodeSuccess, true, false, [][2]string{{"1", "failed"}}, [][2]string{{"1", "answered"}, {"", "failed"}}},
		{"the second stanza answers SERVFAIL after the first passed", answerFrom(answer(t, dns.RcodeServerFailure), 1, 1),
			nil, dns.RcodeSuccess, true, false, [][2]string{{"2", "failed"}, {"1", "fallthrough"}}, [][2]string{{"2", "answered"}}},
		{"the core wrote an unreadable answer", answerFrom([]byte{1, 2, 3}, 0, 0),
			nil, dns.RcodeServerFailure, false, false, [][2]string{{"", "failed"}}, [][2]string{{"1", "answered"}, {"1", "failed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := fakePlugin(&fakeCore{outcome: tt.outcome, err: tt.err}, 2)
			nextCalled := false
			k.Next = test.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
				nextCalled = true
				return dns.RcodeSuccess, nil
			})
			before := make([]float64, len(tt.counted))
			for i, c := range tt.counted {
				before[i] = count("", c[0], c[1])
			}
			beforeUncounted := make([]float64, len(tt.uncounted))
			for i, c := range tt.uncounted {
				beforeUncounted[i] = count("", c[0], c[1])
			}
			r := new(dns.Msg)
			r.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
			w := dnstest.NewRecorder(&test.ResponseWriter{})
			rcode, _ := k.ServeDNS(context.Background(), w, r)
			if rcode != tt.wantRcode || (w.Msg != nil) != tt.wantWrite || nextCalled != tt.wantNext {
				t.Errorf("rcode %d written %v next %v", rcode, w.Msg != nil, nextCalled)
			}
			for i, c := range tt.counted {
				if got := count("", c[0], c[1]) - before[i]; got != 1 {
					t.Errorf("requests{stanza=%q,outcome=%q} grew by %v", c[0], c[1], got)
				}
			}
			for i, c := range tt.uncounted {
				if got := count("", c[0], c[1]) - beforeUncounted[i]; got != 0 {
					t.Errorf("requests{stanza=%q,outcome=%q} grew by %v, want no change", c[0], c[1], got)
				}
			}
		})
	}
}

// answerFrom is an answer outcome from stanza (index), after the
// stanzas of fell passed the name on.
func answerFrom(msg []byte, stanza uint32, fell uint64) engine.Outcome {
	return engine.Outcome{Kind: engine.OutcomeAnswer, Answer: engine.Answer{Message: msg, Stanza: stanza, FellThrough: fell}}
}

// soaMessage is a message holding the SOA of cluster.local. with serial.
func soaMessage(serial uint32) []byte {
	m := new(dns.Msg)
	m.Answer = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "cluster.local.", Rrtype: dns.TypeSOA, Class: dns.ClassINET},
		Ns: "ns.dns.cluster.local.", Mbox: "hostmaster.cluster.local.", Serial: serial}}
	b, _ := m.Pack()
	return b
}

// drainTransfer reads a transfer's channel to its end: the serials of the
// SOAs of each batch, one string per batch.
func drainTransfer(ch <-chan []dns.RR) []string {
	var batches []string
	for rrs := range ch {
		var serials []string
		for _, rr := range rrs {
			serials = append(serials, strconv.Itoa(int(rr.(*dns.SOA).Serial)))
		}
		batches = append(batches, strings.Join(serials, " "))
	}
	return batches
}

// A transfer pages through the core, each cursor passed back as given,
// and ends with the records of the last page; a failure after the first
// page ends it with the records sent so far, logged and counted.
func TestTransferPages(t *testing.T) {
	// Three pages: serials 1, 2 3, 4 (a page may hold several messages).
	pages := map[string][][][]byte{"cluster.local.": {{soaMessage(1)}, {soaMessage(2), soaMessage(3)}, {soaMessage(4)}}}
	callError := &engine.CallError{Func: "transfer", Err: errors.New("cut off")}
	cursorError := &engine.ResultError{Func: "transfer", Message: "cursor is not one this core gave"}
	tests := []struct {
		name        string
		failPage    int
		err         error
		want        []string // batches received
		cursors     []string // given to the core
		guestFailed bool
	}{
		{name: "every page", want: []string{"1", "2", "3", "4"}, cursors: []string{"", "1", "2"}},
		{name: "the core fails on page 2", failPage: 2, err: callError, want: []string{"1"}, cursors: []string{"", "1"}, guestFailed: true},
		{name: "the core refuses the cursor of page 3", failPage: 3, err: cursorError, want: []string{"1", "2", "3"}, cursors: []string{"", "1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCore{transfers: pages, failPage: tt.failPage, err: tt.err}
			failures := testutil.ToFloat64(transferFailures.WithLabelValues(""))
			guest := testutil.ToFloat64(guestFailures.WithLabelValues("", "transfer"))
			ch, err := fakePlugin(f, 1).Transfer("cluster.local.", 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := drainTransfer(ch); !slices.Equal(got, tt.want) {
				t.Errorf("batches %q, want %q", got, tt.want)
			}
			var cursors []string
			for _, c := range f.cursors {
				cursors = append(cursors, string(c))
			}
			if !slices.Equal(cursors, tt.cursors) {
				t.Errorf("cursors %q, want %q", cursors, tt.cursors)
			}
			wantFailures := 0.0
			if tt.err != nil {
				wantFailures = 1
			}
			if got := testutil.ToFloat64(transferFailures.WithLabelValues("")) - failures; got != wantFailures {
				t.Errorf("transfer_failures_total grew by %v, want %v", got, wantFailures)
			}
			if got := testutil.ToFloat64(guestFailures.WithLabelValues("", "transfer")) - guest; got != map[bool]float64{true: 1}[tt.guestFailed] {
				t.Errorf("guest_failures_total{transfer} grew by %v", got)
			}
		})
	}
}

// What goes wrong on the first page is the transfer plugin's to report:
// no stanza authoritative (not counted), a failure, an unreadable page.
func TestTransferFirstPage(t *testing.T) {
	pages := map[string][][][]byte{"cluster.local.": {{soaMessage(1)}}, "broken.local.": {{{1, 2, 3}}}}
	k := fakePlugin(&fakeCore{transfers: pages}, 1)
	failures := testutil.ToFloat64(transferFailures.WithLabelValues(""))
	if _, err := k.Transfer("other.local.", 0); !errors.Is(err, transfer.ErrNotAuthoritative) {
		t.Errorf("other zone: %v", err)
	}
	if _, err := k.Transfer("broken.local.", 0); err == nil {
		t.Error("an unreadable page must fail the transfer")
	}
	failing := fakePlugin(&fakeCore{transfers: pages, failPage: 1, err: errors.New("trap")}, 1)
	if _, err := failing.Transfer("cluster.local.", 0); err == nil || !strings.Contains(err.Error(), "trap") {
		t.Errorf("a failing core: %v", err)
	}
	if got := testutil.ToFloat64(transferFailures.WithLabelValues("")) - failures; got != 2 {
		t.Errorf("transfer_failures_total grew by %v, want 2 (not the zone no stanza serves)", got)
	}
}

func TestAutoPathAndMetadata(t *testing.T) {
	state := request.Request{W: &test.ResponseWriter{}, Req: new(dns.Msg)}
	state.Req.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	k := fakePlugin(&fakeCore{search: []string{"shop.svc.cluster.local.", ""}}, 1)
	if got := k.AutoPath(state); len(got) != 2 || got[0] != "shop.svc.cluster.local." {
		t.Errorf("autopath %q", got)
	}
	if got := fakePlugin(&fakeCore{}, 1).AutoPath(state); got != nil {
		t.Errorf("unknown client: %q", got)
	}

	f := &fakeCore{
		meta:    []engine.MetadataEntry{{Key: "kubernetes/service", Value: "web"}, {Key: stanzaKey, Value: "1"}},
		outcome: answerFrom(answer(t, dns.RcodeSuccess), 2, 3),
	}
	k = fakePlugin(f, 3)
	k.stanzas[2].label, k.stanzas[2].named = "east", true
	ctx := metadata.ContextWithMetadata(context.Background())
	ctx = k.Metadata(ctx, state)
	value := func(key string) string {
		fn := metadata.ValueFunc(ctx, key)
		if fn == nil {
			return "<unset>"
		}
		return fn()
	}
	if value("kubernetes/service") != "web" || value(stanzaKey) != "1" || value(clusterKey) != "" {
		t.Errorf("before answering: %q %q %q", value("kubernetes/service"), value(stanzaKey), value(clusterKey))
	}
	if _, err := k.ServeDNS(ctx, dnstest.NewRecorder(&test.ResponseWriter{}), state.Req); err != nil {
		t.Fatal(err)
	}
	if value(stanzaKey) != "3" || value(clusterKey) != "east" {
		t.Errorf("kubernetai/stanza, kubernetai/cluster after the third stanza answered: %q %q", value(stanzaKey), value(clusterKey))
	}
}

// A merged answer of a cluster set counts once for each member whose
// records it holds, and `kubernetai/cluster` names them all.
func TestMergedAnswerCountsEachMember(t *testing.T) {
	state := request.Request{W: &test.ResponseWriter{}, Req: new(dns.Msg)}
	state.Req.SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	out := answerFrom(answer(t, dns.RcodeSuccess), 0, 0)
	out.Answer.Clusters = 0b101
	f := &fakeCore{meta: []engine.MetadataEntry{{Key: stanzaKey, Value: "1"}}, outcome: out}
	k := fakePlugin(f, 3)
	for i, name := range []string{"east", "middle", "west"} {
		k.stanzas[i].label, k.stanzas[i].named = name, true
	}
	server := "" // no server in the context, as in TestOutcomesAndStanzaMetrics
	before := map[string]float64{}
	for _, name := range []string{"east", "middle", "west"} {
		before[name] = count(server, name, "answered")
	}
	ctx := metadata.ContextWithMetadata(context.Background())
	ctx = k.Metadata(ctx, state)
	if _, err := k.ServeDNS(ctx, dnstest.NewRecorder(&test.ResponseWriter{}), state.Req); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"east": 1, "middle": 0, "west": 1} {
		if got := count(server, name, "answered") - before[name]; got != want {
			t.Errorf("answered{stanza=%s} grew by %v, want %v", name, got, want)
		}
	}
	if fn := metadata.ValueFunc(ctx, clusterKey); fn == nil || fn() != "east,west" {
		t.Errorf("kubernetai/cluster of a merged answer: want east,west")
	}
}

// A change is notified at once; changes right after a NOTIFY wait for the
// interval and share one. No bound on time is asserted: with an hour's
// interval, a NOTIFY that comes at all came without waiting for it, and
// the changes after it must not come.
func TestNotifierSpacesNotifies(t *testing.T) {
	notifier := func(interval time.Duration) (*notifier, chan string) {
		n := newNotifier(interval)
		sent := make(chan string, 10)
		n.send = func(zone string) error { sent <- zone; return nil }
		return n, sent
	}
	next := func(sent chan string) string {
		t.Helper()
		select {
		case z := <-sent:
			return z
		case <-time.After(30 * time.Second): // a guard against a hang
			t.Fatal("no NOTIFY")
			return ""
		}
	}
	none := func(sent chan string, within time.Duration) {
		t.Helper()
		select {
		case z := <-sent:
			t.Errorf("an extra NOTIFY for %s", z)
		case <-time.After(within):
		}
	}

	n, sent := notifier(time.Hour)
	n.serial("cluster.local.", 1)
	if z := next(sent); z != "cluster.local." {
		t.Errorf("NOTIFY for %q", z)
	}
	n.serial("cluster.local.", 1) // unchanged: nothing to say
	n.serial("cluster.local.", 2) // changed, but an hour has not passed
	n.serial("cluster.local.", 3)
	none(sent, 200*time.Millisecond)

	n, sent = notifier(20 * time.Millisecond)
	n.serial("cluster.local.", 1)
	next(sent)
	n.serial("cluster.local.", 2)
	n.serial("cluster.local.", 3)
	next(sent) // one for both, once the interval has passed
	none(sent, 10*20*time.Millisecond)
}

func TestNotifierWaitsForTheTransferPlugin(t *testing.T) {
	const server = "dns://notify.test:53"
	sent := notifies.WithLabelValues(server, "cluster.local.")
	before := testutil.ToFloat64(sent)
	n := newNotifier(time.Millisecond)
	n.serial("cluster.local.", 1) // no transfer plugin yet: nothing sent
	done := make(chan string, 1)
	n.attachFunc(func(z string) error { done <- z; return nil }, []string{server})
	select {
	case z := <-done:
		if z != "cluster.local." {
			t.Errorf("zone %q", z)
		}
	case <-time.After(time.Second):
		t.Fatal("zones known before the transfer plugin were not notified")
	}
	// Counted once sent, for the server of the block whose transfer plugin sent it.
	waitUntil(t, "notifies_total", func() bool { return testutil.ToFloat64(sent) == before+1 })
}
