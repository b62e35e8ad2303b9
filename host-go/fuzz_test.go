package kubernetai

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// Fuzz targets (`make fuzz`; `make test` runs each briefly). Their seed
// corpora are in testdata/fuzz/<target>/.

// examplesCorefile is the kubernetai stanzas of examples/Corefile, with
// the snapshots in dir.
func examplesCorefile(dir string) string {
	return fmt.Sprintf(`kubernetai cluster.local in-addr.arpa ip6.arpa {
    snapshot %s
    fallthrough cluster.local
}
kubernetai cluster.local {
    snapshot %s
}`, filepath.Join(dir, "cluster-a.yaml"), filepath.Join(dir, "cluster-b.yaml"))
}

// copyExamples copies the example snapshots into a temporary directory.
func copyExamples(f *testing.F) string {
	f.Helper()
	dir := f.TempDir()
	for _, name := range []string{"cluster-a.yaml", "cluster-b.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", name))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	return dir
}

// skipStale skips a test whose embedded core predates the contract:
// `make check-embed` is what catches a stale embed.
func skipStale(f *testing.F, err error) {
	f.Helper()
	if ve := (*engine.VersionError)(nil); errors.As(err, &ve) {
		f.Skipf("the embedded component predates this host's contract (%v); run `make embed`", err)
	}
	if err != nil {
		f.Fatal(err)
	}
}

// bigHeadless is a snapshot of a headless service, wide.big, of 2,000
// endpoints in two slices: its SRV answer (some 230 kB) is more than a
// DNS message holds, its A answer more than a UDP one.
func bigHeadless() string {
	var b strings.Builder
	b.WriteString("kind: List\nitems:\n- {kind: Namespace, metadata: {name: big}}\n" +
		"- {kind: Service, metadata: {name: wide, namespace: big}, spec: {clusterIP: None, ports: [{name: http, port: 80, protocol: TCP}]}}\n")
	for s := range 2 {
		fmt.Fprintf(&b, "- {kind: EndpointSlice, metadata: {name: wide-%d, namespace: big, labels: {kubernetes.io/service-name: wide}}, "+
			"addressType: IPv4, ports: [{name: http, port: 80, protocol: TCP}], endpoints: [", s)
		for i := range 1000 {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{addresses: [10.%d.%d.%d], conditions: {ready: true}}", 100+s, i>>8, i&255)
		}
		b.WriteString("]}\n")
	}
	return b.String()
}

// exampleServer runs the examples' stanzas, and a third one of zone
// big.local holding bigHeadless, with the embedded core in a CoreDNS
// server on loopback UDP and TCP ports, and returns their addresses. The
// server does not recover panics (Debug), so that one fails the fuzzing.
func exampleServer(f *testing.F) (udp, tcp string) {
	f.Helper()
	dir := copyExamples(f)
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(bigHeadless()), 0o600); err != nil {
		f.Fatal(err)
	}
	c := caddy.NewTestController("dns", examplesCorefile(dir)+"\nkubernetai big.local {\n    snapshot "+big+"\n}")
	k, err := fromCorefile(c)
	skipStale(f, err)
	if err := k.start(nil); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = k.stop() })
	cfg := &dnsserver.Config{Zone: ".", Port: "0", Transport: "dns", Debug: true,
		Plugin: []plugin.Plugin{func(next plugin.Handler) plugin.Handler { k.Next = next; return k }}}
	s, err := dnsserver.NewServer("dns://127.0.0.1:0", []*dnsserver.Config{cfg})
	if err != nil {
		f.Fatal(err)
	}
	pc, err := s.ListenPacket()
	if err != nil {
		f.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go func() { _ = s.ServePacket(pc) }()
	go func() { _ = s.Serve(l) }()
	f.Cleanup(func() { _ = s.Stop() })
	return pc.LocalAddr().String(), l.Addr().String()
}

// expected is what CoreDNS's server (miekg/dns underneath) does with the
// bytes of a query before any plugin sees them: nothing for a message
// whose header it cannot read or that is a response, FORMERR or NOTIMP
// for one it refuses, and otherwise the request, unpacked. Over UDP it
// reads at most 512 bytes of a datagram (its default buffer).
func expected(query []byte, udp bool) (reply bool, req *dns.Msg) {
	if udp {
		query = query[:min(len(query), dns.MinMsgSize)]
	}
	if len(query) < 12 {
		return false, nil
	}
	word := func(i int) uint16 { return binary.BigEndian.Uint16(query[i:]) }
	hdr := dns.Header{Id: word(0), Bits: word(2), Qdcount: word(4), Ancount: word(6), Nscount: word(8), Arcount: word(10)}
	switch dns.DefaultMsgAcceptFunc(hdr) {
	case dns.MsgIgnore:
		return false, nil
	case dns.MsgAccept:
		req = new(dns.Msg)
		if req.Unpack(query) != nil {
			req = nil
		}
	}
	return true, req
}

// FuzzServeDNS sends arbitrary bytes as a query, over UDP and over TCP,
// to a CoreDNS server running the examples with the real core: every
// query CoreDNS answers gets a well-formed message (see checkAnswer);
// none makes anything panic.
func FuzzServeDNS(f *testing.F) {
	udp, tcp := exampleServer(f)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"web.shop.svc.cluster.local.", dns.TypeA}, {"_http._tcp.web.shop.svc.cluster.local.", dns.TypeSRV}, {"cluster.local.", dns.TypeAXFR},
		{"wide.big.svc.big.local.", dns.TypeSRV}, {"wide.big.svc.big.local.", dns.TypeA}} {
		m := new(dns.Msg).SetQuestion(q.name, q.qtype)
		for _, edns := range []bool{false, true} {
			if edns {
				m.SetEdns0(dns.MaxMsgSize, false)
			}
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		if len(query) > dns.MaxMsgSize {
			t.Skip("larger than a DNS message")
		}
		if len(query) <= 65000 {
			exchange(t, "udp", udp, query)
		}
		exchange(t, "tcp", tcp, query)
	})
}

// exchange sends query to addr and checks the answer, if CoreDNS is to
// give one.
func exchange(t *testing.T, network, addr string, query []byte) {
	t.Helper()
	reply, req := expected(query, network == "udp")
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	co := &dns.Conn{Conn: conn, UDPSize: dns.MaxMsgSize} // reads whatever comes
	if _, err := co.Write(query); err != nil {
		t.Fatalf("%s: %v", network, err)
	}
	if !reply {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a guard, not a measure
	answer, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatalf("%s: no answer: %v", network, err)
	}
	limit := dns.MaxMsgSize
	if network == "udp" {
		limit = udpLimit(req)
	}
	checkAnswer(t, query, req, answer, limit)
}

// udpLimit is the size a UDP answer to req must fit: the client's EDNS
// buffer, at least 512 bytes.
func udpLimit(req *dns.Msg) int {
	if req == nil || req.IsEdns0() == nil {
		return dns.MinMsgSize
	}
	return max(dns.MinMsgSize, int(req.IsEdns0().UDPSize()))
}

// checkAnswer checks the answer to query (req: as CoreDNS read it, or nil
// if it could not): it unpacks, packs again to the same message, says in
// its header as many records as each section has, fits limit, and echoes
// the query's ID and, for a query CoreDNS could read, its (first)
// question.
func checkAnswer(t *testing.T, query []byte, req *dns.Msg, answer []byte, limit int) {
	t.Helper()
	if len(answer) > limit {
		t.Errorf("an answer of %d bytes, over the %d the client can take", len(answer), limit)
	}
	var m dns.Msg
	if err := m.Unpack(answer); err != nil {
		t.Fatalf("the answer does not unpack: %v\n%x", err, answer)
	}
	counts := [4]int{len(m.Question), len(m.Answer), len(m.Ns), len(m.Extra)}
	for i, n := range counts {
		if int(binary.BigEndian.Uint16(answer[4+2*i:])) != n {
			t.Fatalf("header counts %x, sections of %v records:\n%v", answer[4:12], counts, &m)
		}
	}
	packed, err := m.Pack()
	if err != nil {
		t.Fatalf("the answer does not pack again: %v\n%v", err, &m)
	}
	var again dns.Msg
	if err := again.Unpack(packed); err != nil || again.String() != m.String() {
		t.Fatalf("the answer packed again reads otherwise (%v):\n%v\n%v", err, &m, &again)
	}
	if m.Id != binary.BigEndian.Uint16(query) || !m.Response {
		t.Errorf("answer ID %d, QR %v: want the query's ID, a response", m.Id, m.Response)
	}
	if req == nil {
		return
	}
	if len(req.Question) == 0 { // CoreDNS's server answers SERVFAIL
		if len(m.Question) != 0 {
			t.Errorf("question %v, to a query without one", m.Question)
		}
		return
	}
	q := req.Question[0]
	if len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, q.Name) ||
		m.Question[0].Qtype != q.Qtype || m.Question[0].Qclass != q.Qclass {
		t.Errorf("question %v, want the query's %v", m.Question, q)
	}
}

// The paths a fuzz input must not reach: files that never end.
var endless = regexp.MustCompile(`/(dev|proc|sys)\b`)

// FuzzCorefile runs arbitrary kubernetai blocks through the plugin's
// setup, up to the pool: the core configures them (one compiled module
// serves every input) and each stanza's source is prepared. Each is
// accepted or refused with an error naming a stanza; none panics.
func FuzzCorefile(f *testing.F) {
	dir := copyExamples(f)
	ctx := context.Background()
	mod, err := engine.Compile(ctx, defaultComponent)
	skipStale(f, err)
	f.Cleanup(func() { _ = mod.Close(ctx) })
	stanza := regexp.MustCompile(`\bstanza (\d+)\b`)
	f.Add(examplesCorefile("."))
	f.Fuzz(func(t *testing.T, corefile string) {
		if endless.MatchString(corefile) {
			t.Skip("names a file that never ends")
		}
		c := caddy.NewTestController("dns", corefile)
		c.ServerBlockKeys = []string{"cluster.local.:53"}
		dnsserver.GetConfig(c).Root = dir
		cf := readCorefile(c)
		if len(cf.stanzas) == 0 {
			t.Skip("CoreDNS calls the setup only for a kubernetai directive")
		}
		err := setupUpToThePool(ctx, cf, mod)
		if err == nil {
			return
		}
		m := stanza.FindStringSubmatch(err.Error())
		if m == nil {
			t.Fatalf("a refusal that names no stanza: %v", err)
		}
		if n, _ := strconv.Atoi(m[1]); n < 1 || n > len(cf.stanzas) {
			t.Fatalf("a refusal that names stanza %d of %d: %v", n, len(cf.stanzas), err)
		}
	})
}

// setupUpToThePool is fromCorefile with mod as the module, short of the
// engine's pool: the `wasm` file read, the core's configuration, each
// stanza's source prepared.
func setupUpToThePool(ctx context.Context, cf *corefile, mod *engine.Module) error {
	if _, _, err := cf.module(); err != nil {
		return err
	}
	conf, err := cf.configure(ctx, mod)
	if err != nil {
		return err
	}
	return (&Kubernetai{}).addStanzas(cf, conf.Stanzas)
}
