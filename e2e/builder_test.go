package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// helloModule is a second, external CoreDNS plugin: `hello TEXT` answers
// every TXT question with TEXT and passes any other question on.
var helloModule = map[string]string{
	"go.mod": `module example.com/hello

go 1.26.0

require (
	github.com/coredns/caddy v1.1.4
	github.com/coredns/coredns v1.15.0
	github.com/miekg/dns v1.1.73
)
`,
	"hello.go": `// Package hello answers TXT questions with a fixed text.
package hello

import (
	"context"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
)

const name = "hello"

func init() { plugin.Register(name, setup) }

func setup(c *caddy.Controller) error {
	c.Next()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return plugin.Error(name, c.ArgErr())
	}
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		return handler{next: next, text: args[0]}
	})
	return nil
}

type handler struct {
	next plugin.Handler
	text string
}

func (h handler) Name() string { return name }

func (h handler) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := r.Question[0]
	if q.Qtype != dns.TypeTXT {
		return plugin.NextOrFailure(name, h.next, ctx, w, r)
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 5},
		Txt: []string{h.text},
	}}
	return dns.RcodeSuccess, w.WriteMsg(m)
}
`,
}

// TestBuilderExternalPlugin builds a real CoreDNS with kubernetai and a
// second plugin from a module written here, as a user would with
// kubernetai-build, then serves a Corefile that uses both. It reuses the Go
// build cache that building bin/coredns warmed, so only the new packages
// and the link are compiled. Before that, the builder must refuse, without
// compiling and without touching --output, a plugin module that nothing
// places and a CoreDNS release the kubernetai module cannot be built with.
func TestBuilderExternalPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds CoreDNS")
	}
	hostGo, err := filepath.Abs("../host-go")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	helloDir := filepath.Join(work, "hello")
	if err := os.Mkdir(helloDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, helloDir, helloModule)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	builder := filepath.Join(work, "kubernetai-build")
	build := exec.CommandContext(ctx, "go", "build", "-o", builder, "./cmd/kubernetai-build")
	build.Dir = hostGo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubernetai-build: %v\n%s", err, out)
	}
	runBuilder := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, builder, args...)
		cmd.Dir = hostGo
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := runBuilder("version"); err != nil || !strings.HasPrefix(out, "kubernetai-build ") {
		t.Errorf("kubernetai-build version: %v\n%s", err, out)
	}

	output := filepath.Join(work, "bin", "coredns")
	kai := "--with=github.com/kubernetai/kubernetai/host-go=."
	hello := "--with=example.com/hello=" + helloDir
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"plugin module not placed", []string{kai, hello},
			`--with example.com/hello registers CoreDNS plugin "hello", which no --plugin places`},
		{"CoreDNS older than kubernetai needs", []string{kai, "--coredns", "v1.14.7"},
			"--coredns v1.14.7: cannot build it: github.com/kubernetai/kubernetai/host-go@v0.0.0 requires github.com/coredns/coredns v1.15.0"},
		{"anchor CoreDNS lacks", []string{kai, hello, "--plugin", "hello:after=nosuch"},
			`--plugin hello:after=nosuch: CoreDNS v1.15.0 has no directive "nosuch"`},
	}
	for _, r := range refusals {
		start := time.Now()
		out, err := runBuilder(append(r.args, "--output", output)...)
		if err == nil || !strings.Contains(out, r.want) {
			t.Errorf("%s: kubernetai-build %v: err %v, want a refusal with %q; output:\n%s", r.name, r.args, err, r.want, out)
		}
		if strings.Contains(out, "building CoreDNS") {
			t.Errorf("%s: refused only after compiling:\n%s", r.name, out)
		}
		if _, err := os.Stat(filepath.Dir(output)); !os.IsNotExist(err) {
			t.Errorf("%s: refused build created %s (or failed to stat it: %v)", r.name, filepath.Dir(output), err)
		}
		t.Logf("%s: refused in %v", r.name, time.Since(start).Round(time.Millisecond))
	}

	start := time.Now()
	out, err := runBuilder(kai, hello, "--plugin", "hello:before=kubernetai", "--output", output)
	if err != nil {
		t.Fatalf("kubernetai-build: %v\n%s", err, out)
	}
	t.Logf("built in %v:\n%s", time.Since(start).Round(time.Second), out)

	plugins, err := exec.CommandContext(ctx, output, "-plugins").Output()
	if err != nil {
		t.Fatalf("coredns -plugins: %v", err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Fields(string(plugins)) {
		listed[strings.TrimPrefix(l, "dns.")] = true
	}
	for _, want := range []string{"kubernetai", "hello", "kubernetes", "forward"} {
		if !listed[want] {
			t.Errorf("coredns -plugins does not list %s:\n%s", want, plugins)
		}
	}

	snapshot, err := os.ReadFile("../examples/cluster-a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := startBinary(t, output, map[string]string{
		"cluster-a.yaml": string(snapshot),
		"Corefile": `.:{port} {
    bind 127.0.0.1
    kubernetai cluster.local {
        snapshot cluster-a.yaml
    }
    hello "greetings from hello"
}
`,
	})
	// kubernetai answers from the snapshot...
	a := s.ask(t, "udp", "web.shop.svc.cluster.local.", dns.TypeA)
	if a.Rcode != dns.RcodeSuccess || records(a.Answer) != "web.shop.svc.cluster.local. 5 IN A 10.96.0.10" {
		t.Errorf("A web.shop: rcode %s, answer:\n%s", dns.RcodeToString[a.Rcode], records(a.Answer))
	}
	nx := s.ask(t, "udp", "nosuch.shop.svc.cluster.local.", dns.TypeA)
	if nx.Rcode != dns.RcodeNameError {
		t.Errorf("A nosuch.shop: rcode %s, want NXDOMAIN", dns.RcodeToString[nx.Rcode])
	}
	// ...and hello runs before it, whatever the Corefile's order: it
	// answers TXT even at a name kubernetai has (where kubernetai itself
	// would answer NODATA).
	for _, name := range []string{"web.shop.svc.cluster.local.", "example.org."} {
		txt := s.ask(t, "udp", name, dns.TypeTXT)
		want := name + ` 5 IN TXT "greetings from hello"`
		if txt.Rcode != dns.RcodeSuccess || records(txt.Answer) != want {
			t.Errorf("TXT %s: rcode %s, answer:\n%s\nwant %s", name, dns.RcodeToString[txt.Rcode], records(txt.Answer), want)
		}
	}
}
