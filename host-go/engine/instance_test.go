package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// These tests check every function of the interface through the real
// canonical ABI: the test guest's results are derived from its inputs, so
// each nested layout is checked byte for byte.

func TestConfigure(t *testing.T) {
	mod := compileGuest(t)
	tests := []struct {
		name    string
		stanzas []Stanza
		want    []StanzaPlan
		wantErr *ConfigError
	}{
		{name: "no stanzas", stanzas: nil, want: []StanzaPlan{}},
		{
			name:    "empty lists",
			stanzas: []Stanza{{Line: 3}},
			want:    []StanzaPlan{{Zones: []string{}, Kinds: []Kind{KindNamespace, KindService, KindEndpointSlice}}},
		},
		{
			name: "nested lists and unicode",
			stanzas: []Stanza{
				{
					Zones: []string{"Cluster.Local.", "10.in-addr.arpa."},
					Properties: []Property{
						{Name: "pods", Args: []string{"verified"}, Line: 5},
						{Name: "fallthrough", Args: nil, Line: 6},
					},
					Line: 4,
				},
				{
					Zones:      []string{"ÄÖÜ.Example.", ""},
					Properties: []Property{{Name: "ttl", Args: []string{"30", "ünïcödé", ""}, Line: 9}},
					Line:       8,
				},
			},
			want: []StanzaPlan{
				{Zones: []string{"cluster.local.", "10.in-addr.arpa."}, Kinds: []Kind{KindNamespace, KindService, KindEndpointSlice, KindPod}},
				{Zones: []string{"äöü.example.", ""}, Kinds: []Kind{KindNamespace, KindService, KindEndpointSlice}},
			},
		},
		{
			name: "config error",
			stanzas: []Stanza{
				{Zones: []string{"a."}, Properties: []Property{{Name: "pods", Line: 2}}, Line: 1},
				{Zones: []string{"b."}, Properties: []Property{
					{Name: "ttl", Args: []string{"5"}, Line: 41},
					{Name: "bad", Args: []string{"föö", "bär", "🙂"}, Line: 42},
					{Name: "bad", Args: []string{"second"}, Line: 43},
				}, Line: 40},
			},
			wantErr: &ConfigError{Stanza: 1, Line: 42, Property: "bad", Reason: "föö bär 🙂"},
		},
		{
			name:    "config error without args",
			stanzas: []Stanza{{Properties: []Property{{Name: "bad", Line: 7}}}},
			wantErr: &ConfigError{Stanza: 0, Line: 7, Property: "bad", Reason: ""},
		},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := mod.Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close(ctx)
			plans, err := in.Configure(ctx, tt.stanzas, 7)
			if tt.wantErr != nil {
				var ce *ConfigError
				if !errors.As(err, &ce) || !reflect.DeepEqual(ce, tt.wantErr) {
					t.Fatalf("Configure error = %#v, want %#v", err, tt.wantErr)
				}
				if in.Err() != nil {
					t.Fatalf("instance dead after a ConfigError: %v", in.Err())
				}
				// Still usable: a good configuration goes through.
				if _, err := in.Configure(ctx, nil, 7); err != nil {
					t.Fatalf("Configure after ConfigError: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			if !reflect.DeepEqual(plans, tt.want) {
				t.Errorf("plans = %#v\nwant %#v", plans, tt.want)
			}
		})
	}
}

func TestConfigureRefusesInvalidUTF8(t *testing.T) {
	in := newInstance(t, compileGuest(t), nil)
	_, err := in.Configure(context.Background(), []Stanza{{Zones: []string{"a\xffb."}}}, 1)
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Fatalf("Configure = %v, want a UTF-8 error", err)
	}
	if in.Err() != nil {
		t.Fatalf("instance dead after a refused argument: %v", in.Err())
	}
}

// stateOf returns the test guest's dump of its replicated state.
func stateOf(t testing.TB, in *Instance) string {
	t.Helper()
	out, err := in.Lookup(context.Background(), query("state.x."), nil)
	if err != nil || out.Kind != OutcomeAnswer {
		t.Fatalf("Lookup(state) = %v, %v", out, err)
	}
	return string(out.Answer)
}

// countsOf returns the number of events each stanza of the guest received.
func countsOf(t testing.TB, in *Instance) []uint32 {
	t.Helper()
	out, err := in.Lookup(context.Background(), query("count.x."), nil)
	if err != nil || out.Kind != OutcomeAnswer {
		t.Fatalf("Lookup(count) = %v, %v", out, err)
	}
	counts := make([]uint32, len(out.Answer)/4)
	for i := range counts {
		counts[i] = binary.BigEndian.Uint32(out.Answer[4*i:])
	}
	return counts
}

func TestApply(t *testing.T) {
	big := append(append([]byte(`{"metadata":{"namespace":"big","name":"one"},"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...), `"}`...)
	many := make([]Event, 10000)
	for i := range many {
		many[i] = Event{Kind: KindService, Object: fmt.Appendf(nil, `{"metadata":{"namespace":"n","name":"s%d"}}`, i)}
	}
	tests := []struct {
		name   string
		stanza uint32
		now    int64
		events []Event
		want   ApplyReport
	}{
		{name: "no events", now: 100, want: ApplyReport{Serial: 100, Problems: []string{}}},
		{
			name:   "mixed",
			stanza: 1,
			now:    1<<32 + 7, // the serial is now truncated to 32 bits
			events: []Event{
				{Change: ChangeUpsert, Kind: KindNamespace, Object: []byte(`{"metadata":{"name":"default"}}`)},
				{Change: ChangeUpsert, Kind: KindPod, Object: []byte("not json")},
				{Change: ChangeDelete, Kind: KindService, Object: []byte(`{"metadata":{"namespace":"a","name":"b"}}`)},
				{Change: ChangeUpsert, Kind: KindMulticlusterEndpointSlice, Object: nil},
			},
			want: ApplyReport{Applied: 4, Skipped: 2, Serial: 7, Problems: []string{
				"event 1: pod object is not JSON",
				"event 3: multicluster-endpoint-slice object is not JSON",
			}},
		},
		{name: "negative now", now: -1, events: many[:1], want: ApplyReport{Applied: 1, Serial: 0xffffffff, Problems: []string{}}},
		{name: "1 MiB object", now: 5, events: []Event{{Kind: KindService, Object: big}}, want: ApplyReport{Applied: 1, Serial: 5, Problems: []string{}}},
		{name: "10k events", now: 6, events: many, want: ApplyReport{Applied: 10000, Serial: 6, Problems: []string{}}},
	}
	in := newInstance(t, compileGuest(t), []Stanza{{}, {}})
	ctx := context.Background()
	var counts [2]uint32
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.Apply(ctx, tt.stanza, tt.now, tt.events)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("report = %#v\nwant %#v", got, tt.want)
			}
			counts[tt.stanza] += uint32(len(tt.events))
			if got := countsOf(t, in); !reflect.DeepEqual(got, counts[:]) {
				t.Errorf("events per stanza = %v, want %v", got, counts)
			}
		})
	}
	dump := stateOf(t, in)
	for _, want := range []string{
		"stanza 1 synced=false objects=1\n1 namespace /default {\"metadata\":{\"name\":\"default\"}}\n",
		"0 service n/s9999 {\"metadata\":{\"namespace\":\"n\",\"name\":\"s9999\"}}\n",
		"0 service big/one " + string(big) + "\n",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("state lacks %.80q", want)
		}
	}
}

func TestSetLocalIPsAndSynced(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}, {}})
	ctx := context.Background()
	ips := []string{"10.0.0.1", "fd00::53", "ünï", ""}
	if err := in.SetLocalIPs(ctx, ips); err != nil {
		t.Fatal(err)
	}
	if err := in.SetSynced(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	want := "seed=42\nips=10.0.0.1,fd00::53,ünï,\nstanza 0 synced=false objects=0\nstanza 1 synced=true objects=0\n"
	if got := stateOf(t, in); got != want {
		t.Errorf("state = %q, want %q", got, want)
	}
	if err := in.SetLocalIPs(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := in.SetSynced(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	want = "seed=42\nips=\nstanza 0 synced=false objects=0\nstanza 1 synced=false objects=0\n"
	if got := stateOf(t, in); got != want {
		t.Errorf("state = %q, want %q", got, want)
	}
	if err := in.SetLocalIPs(ctx, []string{"\xff"}); err == nil || in.Err() != nil {
		t.Errorf("SetLocalIPs(invalid UTF-8) = %v (instance error %v), want a refusal", err, in.Err())
	}
}

func TestTransfer(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	tests := []struct {
		name   string
		synced bool
		zone   string
		serial uint32
		want   [][]byte
		auth   bool
	}{
		{name: "not authoritative", zone: "none.", serial: 1},
		{name: "zone", zone: "cluster.local.", serial: 12345, auth: true,
			want: [][]byte{[]byte("cluster.local."), []byte("12345"), []byte("false")}},
		{name: "synced", synced: true, zone: "bücher.example.", serial: 0xffffffff, auth: true,
			want: [][]byte{[]byte("bücher.example."), []byte("4294967295"), []byte("true")}},
		{name: "empty zone", synced: true, zone: "", serial: 0, auth: true,
			want: [][]byte{{}, []byte("0"), []byte("true")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := in.SetSynced(ctx, 0, tt.synced); err != nil {
				t.Fatal(err)
			}
			msgs, auth, err := in.Transfer(ctx, tt.zone, tt.serial)
			if err != nil {
				t.Fatal(err)
			}
			if auth != tt.auth || !reflect.DeepEqual(msgs, tt.want) {
				t.Errorf("Transfer = %q, %v; want %q, %v", msgs, auth, tt.want, tt.auth)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	ips := []string{"192.0.2.1", "2001:db8::1"}
	if err := in.SetLocalIPs(ctx, ips); err != nil {
		t.Fatal(err)
	}
	bigQuery := append(query("big.example."), bytes.Repeat([]byte{0xa5}, 1<<20)...)
	tests := []struct {
		name    string
		query   []byte
		replies []UpstreamReply
		want    Outcome
	}{
		{name: "answer", query: query("www.example."), want: Outcome{Kind: OutcomeAnswer, Answer: echo(query("www.example."), ips...)}},
		{name: "empty query", query: nil, want: Outcome{Kind: OutcomeAnswer, Answer: []byte("192.0.2.1,2001:db8::1")}},
		{name: "1 MiB query", query: bigQuery, want: Outcome{Kind: OutcomeAnswer, Answer: echo(bigQuery, ips...)}},
		{name: "fallthrough", query: query("fall.example."), want: Outcome{Kind: OutcomeFallthrough}},
		{name: "rcode", query: query("REFUSE.example."), want: Outcome{Kind: OutcomeRcode, Rcode: 5}},
		{name: "upstream", query: query("up.example."), want: Outcome{Kind: OutcomeUpstream, Upstream: []UpstreamQuery{
			{Name: "target.example.", Qtype: 1}, {Name: "other.example.", Qtype: 28},
		}}},
		{
			name:  "upstream replies",
			query: query("up.example."),
			replies: []UpstreamReply{
				{Name: "target.example.", Qtype: 1, Message: []byte{1, 2, 3}},
				{Name: "ötherß.example.", Qtype: 0xabcd, Message: nil},
				{Name: "", Qtype: 28, Message: bytes.Repeat([]byte{9}, 70000)},
			},
			want: Outcome{Kind: OutcomeAnswer, Answer: bytes.Join([][]byte{
				[]byte("target.example."), {0, 1}, {1, 2, 3},
				[]byte("ötherß.example."), {0xab, 0xcd},
				{0, 28}, bytes.Repeat([]byte{9}, 70000),
			}, nil)},
		},
		{
			name:    "replies to an ordinary query",
			query:   query("www.example."),
			replies: []UpstreamReply{{Name: "x.", Qtype: 1}},
			want:    Outcome{Kind: OutcomeAnswer, Answer: echo(query("www.example."), ips...)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.Lookup(ctx, tt.query, tt.replies)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if got.Kind != tt.want.Kind || !bytes.Equal(got.Answer, tt.want.Answer) ||
				!reflect.DeepEqual(got.Upstream, tt.want.Upstream) || got.Rcode != tt.want.Rcode {
				t.Errorf("Lookup = %v %.60q %v %d\nwant %v %.60q %v %d", got.Kind, got.Answer, got.Upstream, got.Rcode,
					tt.want.Kind, tt.want.Answer, tt.want.Upstream, tt.want.Rcode)
			}
		})
	}
}

func TestGuestFailures(t *testing.T) {
	const limit = 32 << 20
	mod := compileGuest(t, WithMemoryLimit(limit))
	tests := []struct {
		name    string
		query   string
		timeout time.Duration
		check   func(t *testing.T, in *Instance, err error)
	}{
		{name: "trap", query: "trap.x.", check: func(t *testing.T, _ *Instance, err error) {
			if !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("error %q does not say the guest hit unreachable", err)
			}
		}},
		{name: "loop cut off", query: "loop.x.", timeout: 100 * time.Millisecond, check: func(t *testing.T, _ *Instance, err error) {
			if !errors.Is(err, ErrCutOff) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v is not a cut-off at the context's deadline", err)
			}
		}},
		{name: "memory limit", query: "grow.x.", check: func(t *testing.T, in *Instance, err error) {
			if size := in.MemorySize(); size > limit || size < limit-(2<<20) {
				t.Errorf("memory size %d after growing without end, want close to the %d limit", size, limit)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInstance(t, mod, []Stanza{{}})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := in.Lookup(ctx, query(tt.query), nil)
			var ce *CallError
			if !errors.As(err, &ce) || ce.Func != "lookup" {
				t.Fatalf("Lookup = %v, want a *CallError from lookup", err)
			}
			if tt.timeout > 0 && time.Since(start) > tt.timeout+2*time.Second {
				t.Errorf("cut off after %v, want about %v", time.Since(start), tt.timeout)
			}
			tt.check(t, in, err)
			if in.Err() != err {
				t.Errorf("Err() = %v, want %v", in.Err(), err)
			}
			if _, err2 := in.Lookup(context.Background(), query("www.x."), nil); err2 != err {
				t.Errorf("Lookup on a dead instance = %v, want the first error again", err2)
			}
		})
	}
}

// Arguments and results are freed by the guest (cabi_post_*), so memory
// must not grow over many calls.
func TestLookupDoesNotLeak(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	if err := in.SetLocalIPs(ctx, []string{"10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	queries := [][]byte{query("www.x."), query("fall.x."), query("up.x."), query("refuse.x.")}
	replies := []UpstreamReply{{Name: "target.example.", Qtype: 1, Message: make([]byte, 512)}}
	run := func(n int) {
		for i := range n {
			var r []UpstreamReply
			if i%8 == 0 {
				r = replies
			}
			if _, err := in.Lookup(ctx, queries[i%len(queries)], r); err != nil {
				t.Fatal(err)
			}
			if i%1000 == 0 {
				if _, _, err := in.Transfer(ctx, "cluster.local.", uint32(i)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	run(1000) // let the allocator settle
	before := in.MemorySize()
	run(100000)
	if after := in.MemorySize(); after != before {
		t.Errorf("guest memory grew from %d to %d bytes over 100k lookups", before, after)
	}
}

func TestCallErrorMessage(t *testing.T) {
	err := &CallError{Func: "lookup", Err: errors.New("wasm error: unreachable")}
	if got, want := err.Error(), "kubernetai core: lookup: wasm error: unreachable"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
