package engine

import (
	"bytes"
	"context"
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
	withLine := func(p StanzaPlan, line uint32) StanzaPlan {
		p.SourceLine = line
		return p
	}
	tests := []struct {
		name    string
		stanzas []Stanza
		want    Configuration
		wantErr *ConfigError
	}{
		{name: "no stanzas", stanzas: nil, want: guestConfiguration()},
		{
			name:    "empty lists",
			stanzas: []Stanza{{Line: 3}},
			want:    guestConfiguration(withLine(guestPlan(nil), 3)),
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
			want: guestConfiguration(
				withLine(guestPlan([]string{"cluster.local.", "10.in-addr.arpa."}, KindPod), 4),
				withLine(guestPlan([]string{"äöü.example.", ""}), 8),
			),
		},
		{name: "every record", stanzas: everyOption, want: everyOptionConfiguration},
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
			in, err := mod.instantiate(ctx, defaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close(ctx)
			conf, err := in.Configure(ctx, tt.stanzas, 7)
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
			if !reflect.DeepEqual(conf, tt.want) {
				t.Errorf("configuration = %+v\nwant %+v", conf, tt.want)
			}
		})
	}
}

// everyOption are stanzas whose options fill every field of the test
// guest's configuration, everyOptionConfiguration (see its doc table).
var (
	everyOption = []Stanza{
		{
			Zones: []string{"Cluster.Local."},
			Properties: []Property{
				{Name: "labels", Args: []string{"app", "in", "(web,", "db)"}, Line: 10},
				{Name: "snapshot", Args: []string{"/data/ä.yaml"}, Line: 11},
				{Name: "namespace_labels", Args: []string{"team=a"}, Line: 12},
				{Name: "fields", Args: []string{"metadata.name!=x", "status.phase=Running"}, Line: 13},
				{Name: "multicluster", Line: 14},
				{Name: "pods", Args: []string{"verified"}, Line: 15},
				{Name: "startup_timeout", Args: []string{"12s"}, Line: 16},
			},
			Line: 9,
		},
		{
			Zones: []string{"b."},
			Properties: []Property{
				{Name: "fallthrough", Line: 21},
				{Name: "endpoint", Args: []string{"https://a.test:6443", "https://b.test:6443"}, Line: 22},
				{Name: "tls", Args: []string{"c.pem", "k.pem", "ca.pem"}, Line: 23},
				{Name: "kubeconfig", Args: []string{"kc", "east"}, Line: 24},
				{Name: "apiserver_qps", Args: []string{"2.5"}, Line: 25},
				{Name: "apiserver_burst", Args: []string{"7"}, Line: 26},
				{Name: "apiserver_max_inflight", Args: []string{"4"}, Line: 27},
				{Name: "wasm", Args: []string{"core.wasm"}, Line: 28},
				{Name: "pool", Args: []string{"3"}, Line: 29},
				{Name: "wasm_timeout", Args: []string{"250ms"}, Line: 30},
				{Name: "wasm_memory", Args: []string{"64Mi"}, Line: 31},
				{Name: "notify_interval", Args: []string{"2m"}, Line: 32},
			},
			Line: 20,
		},
	}
	everyOptionConfiguration = func() Configuration {
		const labels, fields = "app in (web, db)", "metadata.name!=x,status.phase=Running"
		a := guestPlan([]string{"cluster.local."})
		a.Watches = []Watch{
			{KindNamespace, "team=a", fields}, {KindService, labels, fields}, {KindEndpointSlice, labels, fields},
			{KindPod, labels, fields}, {KindServiceImport, "team=a", fields},
		}
		a.Source, a.SourceLine, a.StartupTimeoutNs = Source{Kind: SourceSnapshot, Snapshot: "/data/ä.yaml"}, 11, 12e9
		b := guestPlan([]string{"b."})
		b.Source = Source{Kind: SourceAPIServer, APIServer: Connection{
			Endpoint: "https://a.test:6443", IgnoredEndpoints: []string{"https://b.test:6443"},
			TLS: []string{"c.pem", "k.pem", "ca.pem"}, Kubeconfig: "kc", Context: "east", QPS: 2.5, Burst: 7, MaxInflight: 4,
		}}
		b.SourceLine = 22
		conf := guestConfiguration(a, b)
		conf.Runtime = Runtime{Wasm: "core.wasm", WasmLine: 28, Pool: 3, WasmTimeoutNs: 250e6, WasmMemory: 64 << 20, NotifyIntervalNs: 120e9}
		return conf
	}()
)

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
func stateOf(t testing.TB, in *instance) string {
	t.Helper()
	out, err := in.Lookup(context.Background(), query("state.x."), nil)
	if err != nil || out.Kind != OutcomeAnswer {
		t.Fatalf("Lookup(state) = %v, %v", out, err)
	}
	return string(out.Answer.Message)
}

// countsOf returns the number of events each stanza of the guest received.
func countsOf(t testing.TB, in *instance) []uint32 {
	t.Helper()
	return perStanza(t, in, "count")
}

func TestApply(t *testing.T) {
	big := append(append([]byte(`{"metadata":{"namespace":"big","name":"one"},"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...), `"}`...)
	many := make([]Event, 10000)
	for i := range many {
		many[i] = Event{Kind: KindService, Object: fmt.Appendf(nil, `{"metadata":{"namespace":"n","name":"s%d"}}`, i)}
	}
	manyZones := make([]string, 3000)
	for i := range manyZones {
		manyZones[i] = fmt.Sprintf("z%d.ünï.example.", i)
	}
	tests := []struct {
		name   string
		stanza uint32
		now    int64
		events []Event
		want   ApplyReport
	}{
		{name: "no events", now: 100, want: ApplyReport{Serials: serials(100, "a.", "ß.example."), Problems: []string{}}},
		{
			name:   "mixed, no zones",
			stanza: 1,
			now:    1<<32 + 7, // the serial is now truncated to 32 bits
			events: []Event{
				{Change: ChangeUpsert, Kind: KindNamespace, Object: []byte(`{"metadata":{"name":"default"}}`)},
				{Change: ChangeUpsert, Kind: KindPod, Object: []byte("not json")},
				{Change: ChangeDelete, Kind: KindService, Object: []byte(`{"metadata":{"namespace":"a","name":"b"}}`)},
				{Change: ChangeUpsert, Kind: KindServiceImport, Object: nil},
			},
			want: ApplyReport{Applied: 4, Skipped: 2, Serials: []ZoneSerial{}, Problems: []string{
				"event 1: pod object is not JSON",
				"event 3: service-import object is not JSON",
			}},
		},
		{name: "negative now", now: -1, events: many[:1], want: ApplyReport{Applied: 1, Serials: serials(0xffffffff, "a.", "ß.example."), Problems: []string{}}},
		{name: "1 MiB object", now: 5, events: []Event{{Kind: KindService, Object: big}}, want: ApplyReport{Applied: 1, Serials: serials(5, "a.", "ß.example."), Problems: []string{}}},
		{name: "10k events", now: 6, events: many, want: ApplyReport{Applied: 10000, Serials: serials(6, "a.", "ß.example."), Problems: []string{}}},
		{name: "3000 zones", stanza: 2, now: 0x80000001, want: ApplyReport{Serials: serials(0x80000001, manyZones...), Problems: []string{}}},
	}
	in := newInstance(t, compileGuest(t), []Stanza{{Zones: []string{"A.", "ß.Example."}}, {}, {Zones: manyZones}})
	ctx := context.Background()
	var counts [3]uint32
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

func TestSetHostAndSynced(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}, {}})
	ctx := context.Background()
	info := HostInfo{LocalIPs: []string{"10.0.0.1", "fd00::53", "ünï", ""}, Search: []string{"corp.example.", "", "bücher.example."}}
	if err := in.SetHost(ctx, info); err != nil {
		t.Fatal(err)
	}
	if err := in.SetSynced(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	want := "seed=42\nips=10.0.0.1,fd00::53,ünï,\nsearch=corp.example.,,bücher.example.\n" +
		"stanza 0 synced=false objects=0\nstanza 1 synced=true objects=0\n"
	if got := stateOf(t, in); got != want {
		t.Errorf("state = %q, want %q", got, want)
	}
	// Each list on its own, so that swapped pairs would show.
	for _, tt := range []struct {
		info HostInfo
		want string
	}{
		{HostInfo{LocalIPs: []string{"192.0.2.1"}}, "ips=192.0.2.1\nsearch=\n"},
		{HostInfo{Search: []string{"a.", "b."}}, "ips=\nsearch=a.,b.\n"},
		{HostInfo{}, "ips=\nsearch=\n"},
	} {
		if err := in.SetHost(ctx, tt.info); err != nil {
			t.Fatal(err)
		}
		if got := stateOf(t, in); !strings.Contains(got, tt.want) {
			t.Errorf("SetHost(%+v): state = %q, want it to hold %q", tt.info, got, tt.want)
		}
	}
	if err := in.SetSynced(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	want = "seed=42\nips=\nsearch=\nstanza 0 synced=false objects=0\nstanza 1 synced=false objects=0\n"
	if got := stateOf(t, in); got != want {
		t.Errorf("state = %q, want %q", got, want)
	}
	for _, bad := range []HostInfo{{LocalIPs: []string{"\xff"}}, {Search: []string{"ok.", "a\xfe."}}} {
		if err := in.SetHost(ctx, bad); err == nil || in.Err() != nil {
			t.Errorf("SetHost(%q) = %v (instance error %v), want a refusal", bad, err, in.Err())
		}
	}
}

func TestSetHostLargeLists(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	info := HostInfo{LocalIPs: make([]string, 5000), Search: make([]string, 7000)}
	for i := range info.LocalIPs {
		info.LocalIPs[i] = fmt.Sprintf("10.%d.%d.1", i/256, i%256)
	}
	for i := range info.Search {
		info.Search[i] = fmt.Sprintf("s%d.ëxample.", i)
	}
	if err := in.SetHost(context.Background(), info); err != nil {
		t.Fatal(err)
	}
	want := "ips=" + strings.Join(info.LocalIPs, ",") + "\nsearch=" + strings.Join(info.Search, ",") + "\n"
	if got := stateOf(t, in); !strings.Contains(got, want) {
		t.Errorf("state does not hold the %d addresses and %d search domains", len(info.LocalIPs), len(info.Search))
	}
}

func TestTransfer(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	page := func(zone, serial, synced, cursor, next string) TransferPage {
		p := TransferPage{Messages: [][]byte{[]byte(zone), []byte(serial), []byte(synced), []byte(cursor)}}
		if next != "" {
			p.Next = []byte(next)
		}
		return p
	}
	tests := []struct {
		name   string
		synced bool
		zone   string
		serial uint32
		want   []TransferPage // nil: not authoritative
	}{
		{name: "not authoritative", zone: "none.", serial: 1},
		{name: "zone", zone: "cluster.local.", serial: 12345,
			want: []TransferPage{page("cluster.local.", "12345", "false", "", "")}},
		{name: "synced", synced: true, zone: "bücher.example.", serial: 0xffffffff,
			want: []TransferPage{page("bücher.example.", "4294967295", "true", "", "")}},
		{name: "empty zone", synced: true, zone: "", serial: 0,
			want: []TransferPage{page("", "0", "true", "", "")}},
		// Each cursor comes back byte for byte in the next page.
		{name: "three pages", zone: "pages3.example.", serial: 9, want: []TransferPage{
			page("pages3.example.", "9", "false", "", "pages3.example.#1"),
			page("pages3.example.", "9", "false", "pages3.example.#1", "pages3.example.#2"),
			page("pages3.example.", "9", "false", "pages3.example.#2", ""),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := in.SetSynced(ctx, 0, tt.synced); err != nil {
				t.Fatal(err)
			}
			var got []TransferPage
			var cursor []byte
			for {
				p, auth, err := in.Transfer(ctx, tt.zone, tt.serial, cursor)
				if err != nil || !auth || len(got) > len(tt.want) {
					if err != nil || len(tt.want) > 0 {
						t.Fatalf("page %d: Transfer = %v, %v", len(got)+1, auth, err)
					}
					break
				}
				if got = append(got, p); p.Next == nil {
					break
				}
				cursor = p.Next
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Transfer pages = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A cursor the core did not give is the function's error result: the
// instance stays usable.
func TestTransferCursorError(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	for _, cursor := range []string{"pages3.example.#3", "other.example.#1", "\xff"} {
		_, _, err := in.Transfer(ctx, "pages3.example.", 1, []byte(cursor))
		var re *ResultError
		if !errors.As(err, &re) || re.Func != "transfer" || !strings.Contains(re.Message, "is not one this core gave for pages3.example.") {
			t.Errorf("Transfer(cursor %q) = %v, want a *ResultError naming the cursor", cursor, err)
		}
		if in.Err() != nil {
			t.Fatalf("instance dead after an error result: %v", in.Err())
		}
	}
	if p, ok, err := in.Transfer(ctx, "pages3.example.", 1, []byte("pages3.example.#2")); err != nil || !ok || p.Next != nil {
		t.Errorf("Transfer(last page) after the errors = %q, %v, %v", p.Next, ok, err)
	}
}

func TestLookup(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	ips := []string{"192.0.2.1", "2001:db8::1"}
	if err := in.SetHost(ctx, HostInfo{LocalIPs: ips}); err != nil {
		t.Fatal(err)
	}
	bigQuery := append(query("big.example."), bytes.Repeat([]byte{0xa5}, 1<<20)...)
	from := func(name string, stanza uint32, fell uint64) Outcome {
		out := answered(query(name), ips...)
		out.Answer.Stanza, out.Answer.FellThrough = stanza, fell
		return out
	}
	// Cases that set every field come before ordinary answers, which
	// must then read zeros: the guest reuses its return area.
	tests := []struct {
		name    string
		query   []byte
		replies []UpstreamReply
		want    Outcome
	}{
		{name: "answer after fallthrough, high bits", query: query("ans.8000000000000001.4294967295.x."),
			want: from("ans.8000000000000001.4294967295.x.", 0xffffffff, 0x8000000000000001)},
		{name: "answer after every stanza", query: query("ans.ffffffffffffffff.3.x."),
			want: from("ans.ffffffffffffffff.3.x.", 3, 0xffffffffffffffff)},
		{name: "answer, low word only", query: query("ans.00000000deadbeef.1.x."),
			want: from("ans.00000000deadbeef.1.x.", 1, 0xdeadbeef)},
		{name: "answer", query: query("www.example."), want: answered(query("www.example."), ips...)},
		{name: "empty query", query: nil, want: Outcome{Kind: OutcomeAnswer, Answer: Answer{Message: []byte("192.0.2.1,2001:db8::1")}}},
		{name: "1 MiB query", query: bigQuery, want: answered(bigQuery, ips...)},
		{name: "fallthrough, high word only", query: query("fall.ffffffff00000000.x."),
			want: Outcome{Kind: OutcomeFallthrough, Fallthrough: 0xffffffff00000000}},
		{name: "fallthrough, every bit", query: query("fall.ffffffffffffffff.x."),
			want: Outcome{Kind: OutcomeFallthrough, Fallthrough: 0xffffffffffffffff}},
		{name: "fallthrough, no stanza", query: query("fall.example."), want: Outcome{Kind: OutcomeFallthrough}},
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
			want: Outcome{Kind: OutcomeAnswer, Answer: Answer{Message: bytes.Join([][]byte{
				[]byte("target.example."), {0, 1}, {1, 2, 3},
				[]byte("ötherß.example."), {0xab, 0xcd},
				{0, 28}, bytes.Repeat([]byte{9}, 70000),
			}, nil)}},
		},
		{
			name:    "replies to an ordinary query",
			query:   query("www.example."),
			replies: []UpstreamReply{{Name: "x.", Qtype: 1}},
			want:    answered(query("www.example."), ips...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.Lookup(ctx, tt.query, tt.replies)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup = %s\nwant %s", describe(got), describe(tt.want))
			}
		})
	}
}

// describe prints an Outcome with its answer cut short.
func describe(o Outcome) string {
	return fmt.Sprintf("{%v answer %.60q stanza %d fell-through %#x fallthrough %#x upstream %v rcode %d}",
		o.Kind, o.Answer.Message, o.Answer.Stanza, o.Answer.FellThrough, o.Fallthrough, o.Upstream, o.Rcode)
}

func TestAutoPath(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	search := []string{"corp.example.", "ünï.example."}
	if err := in.SetHost(ctx, HostInfo{LocalIPs: []string{"192.0.2.1"}, Search: search}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, qname, client string
		want                []string
		ok                  bool
	}{
		{name: "search path", qname: "web.shop.svc.cluster.local.", client: "10.1.0.9", ok: true,
			want: []string{"web.shop.svc.cluster.local.", "10.1.0.9", "corp.example.", "ünï.example.", ""}},
		{name: "unknown client", qname: "web.shop.svc.cluster.local.", client: "none"},
		{name: "empty list", qname: "x.", client: "empty", ok: true, want: []string{}},
		{name: "empty strings", qname: "", client: "", ok: true, want: []string{"", "", "corp.example.", "ünï.example.", ""}},
		{name: "unicode", qname: "bücher.例え.", client: "fd00::🙂", ok: true,
			want: []string{"bücher.例え.", "fd00::🙂", "corp.example.", "ünï.example.", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := in.Autopath(ctx, tt.qname, tt.client)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AutoPath(%q, %q) = %q, %v; want %q, %v", tt.qname, tt.client, got, ok, tt.want, tt.ok)
			}
		})
	}
	t.Run("large list", func(t *testing.T) {
		big := make([]string, 5000)
		for i := range big {
			big[i] = fmt.Sprintf("d%d.example.", i)
		}
		if err := in.SetHost(ctx, HostInfo{Search: big}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := in.Autopath(ctx, "q.", "c")
		want := append(append([]string{"q.", "c"}, big...), "")
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("AutoPath = %d names, %v, %v; want %d names", len(got), ok, err, len(want))
		}
	})
	if _, _, err := in.Autopath(ctx, "a.", "\xff"); err == nil || in.Err() != nil {
		t.Errorf("AutoPath(invalid UTF-8) = %v (instance error %v), want a refusal", err, in.Err())
	}
}

func TestMetadata(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	if err := in.SetHost(ctx, HostInfo{Search: []string{"corp.example.", ""}}); err != nil {
		t.Fatal(err)
	}
	// fixed are the entries the test guest always gives, search ones after.
	fixed := func(qname, client string, search ...string) []MetadataEntry {
		out := []MetadataEntry{{"test/qname", qname}, {"test/client", client}, {"test/ünï", "✓ß🙂"}}
		for i, s := range search {
			out = append(out, MetadataEntry{fmt.Sprintf("test/search/%d", i), s})
		}
		return out
	}
	tests := []struct {
		name, qname, client string
		want                []MetadataEntry
	}{
		{name: "empty list", qname: "", client: "10.0.0.1", want: []MetadataEntry{}},
		{name: "entries", qname: "web.shop.svc.cluster.local.", client: "10.1.0.9",
			want: fixed("web.shop.svc.cluster.local.", "10.1.0.9", "corp.example.", "")},
		{name: "unicode and empty client", qname: "bücher.例え.", client: "",
			want: fixed("bücher.例え.", "", "corp.example.", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.Metadata(ctx, tt.qname, tt.client)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Metadata(%q, %q) = %q\nwant %q", tt.qname, tt.client, got, tt.want)
			}
		})
	}
	t.Run("large list", func(t *testing.T) {
		big := make([]string, 5000)
		for i := range big {
			big[i] = fmt.Sprintf("d%d.ëxample.", i)
		}
		if err := in.SetHost(ctx, HostInfo{Search: big}); err != nil {
			t.Fatal(err)
		}
		want := fixed("q.", "c", big...)
		if got, err := in.Metadata(ctx, "q.", "c"); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Metadata = %d entries, %v; want %d entries", len(got), err, len(want))
		}
	})
	if _, err := in.Metadata(ctx, "a\xff.", "c"); err == nil || in.Err() != nil {
		t.Errorf("Metadata(invalid UTF-8) = %v (instance error %v), want a refusal", err, in.Err())
	}
}

// AutoPath and Metadata fail like Lookup: a trap or a cut-off is a
// *CallError naming the function, and kills the instance.
func TestQueryCallFailures(t *testing.T) {
	mod := compileGuest(t)
	calls := []struct {
		name string
		call func(ctx context.Context, in *instance, client string) error
	}{
		{"autopath", func(ctx context.Context, in *instance, client string) error {
			_, _, err := in.Autopath(ctx, "q.", client)
			return err
		}},
		{"metadata", func(ctx context.Context, in *instance, client string) error {
			_, err := in.Metadata(ctx, "q.", client)
			return err
		}},
	}
	for _, c := range calls {
		for _, client := range []string{"trap", "loop"} {
			t.Run(c.name+"/"+client, func(t *testing.T) {
				in := newInstance(t, mod, []Stanza{{}})
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				err := c.call(ctx, in, client)
				var ce *CallError
				if !errors.As(err, &ce) || ce.Func != c.name {
					t.Fatalf("%s(%s) = %v, want a *CallError from %s", c.name, client, err, c.name)
				}
				if client == "loop" && !errors.Is(err, ErrCutOff) {
					t.Errorf("error %v is not a cut-off", err)
				}
				if in.Err() != err {
					t.Errorf("Err() = %v, want %v", in.Err(), err)
				}
			})
		}
	}
}

func TestGuestFailures(t *testing.T) {
	const limit = 32 << 20
	mod := compileGuest(t)
	tests := []struct {
		name    string
		query   string
		timeout time.Duration
		check   func(t *testing.T, in *instance, err error)
	}{
		{name: "trap", query: "trap.x.", check: func(t *testing.T, _ *instance, err error) {
			if !strings.Contains(err.Error(), "unreachable") || errors.Is(err, ErrOutOfMemory) {
				t.Errorf("error %q does not say the guest hit unreachable, or blames memory", err)
			}
		}},
		{name: "loop cut off", query: "loop.x.", timeout: 100 * time.Millisecond, check: func(t *testing.T, _ *instance, err error) {
			if !errors.Is(err, ErrCutOff) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v is not a cut-off at the context's deadline", err)
			}
		}},
		{name: "out of bounds", query: "oob.x.", check: func(t *testing.T, _ *instance, err error) {
			if !strings.Contains(err.Error(), "out of bounds memory access") {
				t.Errorf("error %q does not say the guest read outside its memory", err)
			}
		}},
		{name: "memory limit", query: "grow.x.", check: func(t *testing.T, in *instance, err error) {
			if size := in.memorySize(); size > limit || size < limit-(2<<20) {
				t.Errorf("memory size %d after growing without end, want close to the %d limit", size, limit)
			}
			if !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "lookup: out of memory: ") {
				t.Errorf("error %q does not say the guest ran out of memory", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newLimitedInstance(t, mod, limits{query: time.Minute, other: time.Minute, memory: limit}, []Stanza{{}})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := in.Lookup(ctx, query(tt.query), nil)
			var ce *CallError
			if !errors.As(err, &ce) || ce.Func != "lookup" {
				t.Fatalf("Lookup = %v, want a *CallError from lookup", err)
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
// must not grow over many calls: lookups, autopath, metadata, transfers.
func TestLookupDoesNotLeak(t *testing.T) {
	in := newInstance(t, compileGuest(t), []Stanza{{}})
	ctx := context.Background()
	if err := in.SetHost(ctx, HostInfo{LocalIPs: []string{"10.0.0.1"}, Search: []string{"a.example.", "b.example."}}); err != nil {
		t.Fatal(err)
	}
	queries := [][]byte{query("www.x."), query("fall.1.x."), query("up.x."), query("refuse.x."), query("ans.ff.2.x.")}
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
			if _, _, err := in.Autopath(ctx, "web.shop.svc.cluster.local.", "10.1.0.9"); err != nil {
				t.Fatal(err)
			}
			if _, err := in.Metadata(ctx, "web.shop.svc.cluster.local.", "10.1.0.9"); err != nil {
				t.Fatal(err)
			}
			if i%1000 == 0 {
				if _, _, err := in.Transfer(ctx, "pages2.local.", uint32(i), []byte("pages2.local.#1")); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	run(1000) // let the allocator settle
	before := in.memorySize()
	run(100000)
	if after := in.memorySize(); after != before {
		t.Errorf("guest memory grew from %d to %d bytes over 100k lookups", before, after)
	}
}

func TestCallErrorMessage(t *testing.T) {
	err := &CallError{Func: "lookup", Err: errors.New("wasm error: unreachable")}
	if got, want := err.Error(), "kubernetai core: lookup: wasm error: unreachable"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
