package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The hot-swap tests run CoreDNS on a `wasm` file and replace that file
// as an operator would: write the new module next to it, rename it over.

// component reads a component the Makefile builds, named by env (set by
// `make test-e2e`) or found at fallback, relative to e2e/.
func component(t testing.TB, env, fallback string) []byte {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = fallback
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (build it with make, or set %s)", path, err, env)
	}
	return b
}

// realCore is the real component: the copy embedded in the plugin, which
// `make check-embed` keeps equal to target/components/kubernetai.wasm.
func realCore(t testing.TB) []byte {
	return component(t, "KUBERNETAI_COMPONENT", "../host-go/kubernetai.wasm")
}

func probeCore(t *testing.T) []byte {
	return component(t, "KUBERNETAI_PROBE", "../target/components/kubernetai-probe.wasm")
}

func testGuest(t *testing.T) []byte {
	return component(t, "KUBERNETAI_TEST_GUEST", "../target/components/test-guest.wasm")
}

// deploy writes a module next to path and renames it over path.
func deploy(t *testing.T, path string, module []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, module, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startWithMetrics is startOn with {metrics} in the Corefile replaced by
// a free loopback address for the prometheus plugin; it returns the
// metrics URL.
func startWithMetrics(t *testing.T, files map[string]string) (*server, string) {
	t.Helper()
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	files["Corefile"] = strings.ReplaceAll(files["Corefile"], "{metrics}", metrics)
	return start(t, files), "http://" + metrics + "/metrics"
}

// serverLabel is the `server` label of s's series, as Prometheus prints it:
// the address CoreDNS serves the block on.
func serverLabel(s *server) string { return `server="dns://` + s.addr + `"` }

// swapMetric returns the value of one series of the text exposition, 0 when
// it is absent; series is the name with its labels as printed (sorted by
// name), e.g. `coredns_kubernetai_swaps_refused_total{reason="plans",server="dns://127.0.0.1:53"}`.
func swapMetric(t *testing.T, url, series string) float64 {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %q", series, sc.Text())
			}
			return v
		}
	}
	return 0
}

// eventually polls cond until it holds, failing after a generous bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servicesSnapshot is a cluster of n services in namespace load, as a
// Kubernetes List in JSON; svc-I has the ClusterIP serviceIP(I).
func servicesSnapshot(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"load"}}`)
	for i := range n {
		fmt.Fprintf(&b, `,{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-%d","namespace":"load"},`+
			`"spec":{"type":"ClusterIP","clusterIP":%q,"clusterIPs":[%q],"ports":[{"name":"http","port":80,"protocol":"TCP"}]}}`,
			i, serviceIP(i), serviceIP(i))
	}
	b.WriteString("]}\n")
	return b.String()
}

func serviceIP(i int) string { return fmt.Sprintf("10.96.%d.%d", i/256, i%256) }

// swapCorefile serves a snapshot from the `wasm` file core.wasm. The
// file plugin (after kubernetai in the chain) answers build.kubernetai. TXT
// "real-core" when the core passes the name on; the probe build answers it
// itself with "swap-probe".
const swapCorefile = `.:{port} {
    bind 127.0.0.1
    kubernetai cluster.local {
        snapshot services.json
        wasm core.wasm
    }
    file build.zone kubernetai.
    prometheus {metrics}
}
`

// buildZone is the zone file of the file plugin in swapCorefile.
const buildZone = `$ORIGIN kubernetai.
@ 3600 IN SOA ns.kubernetai. admin.kubernetai. 1 7200 3600 1209600 3600
build 0 IN TXT "real-core"
`

// build asks which build serves: "swap-probe" or "real-core".
func build(t *testing.T, s *server) string {
	t.Helper()
	r := s.ask(t, "udp", "build.kubernetai.", dns.TypeTXT)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Sprintf("rcode %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if txt, ok := r.Answer[0].(*dns.TXT); ok {
		return strings.Join(txt.Txt, "")
	}
	return r.Answer[0].String()
}

// checkService asks for svc-i's A record and says what is wrong with the
// answer, or "" when it is right.
func checkService(r *dns.Msg, i int) string {
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Sprintf("svc-%d: rcode %s, %d answers", i, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok || a.A.String() != serviceIP(i) {
		return fmt.Sprintf("svc-%d: answer %s, want A %s", i, r.Answer[0], serviceIP(i))
	}
	return ""
}

// load sends queries for random services over UDP and TCP from several
// goroutines until stopped, checking every answer.
type load struct {
	sent, failed [2]atomic.Int64 // by network: 0 udp, 1 tcp
	mu           sync.Mutex
	failures     []string
	stop         chan struct{}
	wg           sync.WaitGroup
}

var networks = [2]string{"udp", "tcp"}

func startLoad(t *testing.T, addr string, services, perNetwork int) *load {
	l := &load{stop: make(chan struct{})}
	for n, network := range networks {
		for range perNetwork {
			l.wg.Go(func() { l.run(addr, n, network, services) })
		}
	}
	return l
}

func (l *load) fail(n int, what string) {
	l.failed[n].Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, networks[n]+": "+what)
	}
}

func (l *load) run(addr string, n int, network string, services int) {
	client := &dns.Client{Net: network, Timeout: 5 * time.Second}
	var conn *dns.Conn
	for {
		select {
		case <-l.stop:
			if conn != nil {
				conn.Close()
			}
			return
		default:
		}
		if conn == nil {
			c, err := client.Dial(addr)
			if err != nil {
				l.fail(n, "dial: "+err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn = c
		}
		i := rand.IntN(services)
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("svc-%d.load.svc.cluster.local.", i), dns.TypeA)
		l.sent[n].Add(1)
		r, _, err := client.ExchangeWithConn(m, conn)
		if err != nil {
			l.fail(n, fmt.Sprintf("svc-%d: %v", i, err))
			conn.Close()
			conn = nil // a late reply must not be read as the next one's
			continue
		}
		if problem := checkService(r, i); problem != "" {
			l.fail(n, problem)
		}
		time.Sleep(time.Millisecond) // leave the shared machine some room
	}
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) total() (sent, failed int64) {
	for n := range networks {
		sent += l.sent[n].Load()
		failed += l.failed[n].Load()
	}
	return sent, failed
}

// swapTimes are the durations CoreDNS logged for its swaps.
var swapLogLine = regexp.MustCompile(`now serving module [0-9a-f]+ \(was [0-9a-f]+\); swapped in (\S+)`)

func swapTimes(t *testing.T, out string) []time.Duration {
	var ds []time.Duration
	for _, m := range swapLogLine.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatalf("swap log line %q: %v", m[0], err)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

// percentile is the p-quantile (0 < p < 1) of sorted ds, nearest rank.
func percentile[T cmp.Ordered](ds []T, p float64) T {
	if len(ds) == 0 {
		var zero T
		return zero
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// Swapping the module 20+ times under continuous UDP and TCP load, with
// 10k services: not one query fails or gets a wrong answer, and each swap
// changes the build that answers.
func TestSwapUnderLoad(t *testing.T) {
	const services, swaps = 10000, 22
	real, probe := realCore(t), probeCore(t)
	s, metrics := startWithMetrics(t, map[string]string{
		"Corefile":      swapCorefile,
		"build.zone":    buildZone,
		"services.json": servicesSnapshot(services),
		"core.wasm":     string(real),
	})
	if got := build(t, s); got != "real-core" {
		t.Fatalf("before any swap: build %q, want real-core", got)
	}
	for _, i := range []int{0, services - 1} {
		if problem := checkService(s.ask(t, "tcp", fmt.Sprintf("svc-%d.load.svc.cluster.local.", i), dns.TypeA), i); problem != "" {
			t.Fatal(problem)
		}
	}
	l := startLoad(t, s.addr, services, 3)
	wasm := filepath.Join(s.dir, "core.wasm")
	for i := range swaps {
		module, want := probe, "swap-probe"
		if i%2 == 1 {
			module, want = real, "real-core"
		}
		deploy(t, wasm, module)
		eventually(t, fmt.Sprintf("swap %d to %s", i+1, want), func() bool { return build(t, s) == want })
		eventually(t, fmt.Sprintf("swaps_total to reach %d", i+1), func() bool {
			return swapMetric(t, metrics, "coredns_kubernetai_swaps_total{"+serverLabel(s)+"}") == float64(i+1)
		})
	}
	time.Sleep(500 * time.Millisecond) // some load after the last swap too
	l.finish()
	sent, failed := l.total()
	if failed > 0 {
		t.Errorf("%d of %d queries failed during the swaps; first ones:\n%s", failed, sent, strings.Join(l.failures, "\n"))
	}
	if l.sent[0].Load() == 0 || l.sent[1].Load() == 0 {
		t.Errorf("queries sent: udp %d, tcp %d; want both", l.sent[0].Load(), l.sent[1].Load())
	}
	if n := swapMetric(t, metrics, "coredns_kubernetai_swap_duration_seconds_count{"+serverLabel(s)+"}"); n != swaps {
		t.Errorf("swap_duration_seconds counts %v swaps, want %d", n, swaps)
	}
	refusedAny := strings.Contains(s.out.String(), "refused (")
	if refusedAny {
		t.Errorf("a swap was refused:\n%s", s.out)
	}
	times := swapTimes(t, s.out.String())
	if len(times) != swaps {
		t.Fatalf("CoreDNS logged %d swaps, want %d", len(times), swaps)
	}
	t.Logf("hot swap under load: %d services, %d swaps (real core <-> probe build), %d queries sent (udp %d, tcp %d), %d failed; swap duration p50 %v, p99 %v, max %v",
		services, swaps, sent, l.sent[0].Load(), l.sent[1].Load(), failed,
		percentile(times, 0.50), percentile(times, 0.99), times[len(times)-1])
}

// Modules that must not serve are refused, each with a log line naming
// the file and the reason and a count in swaps_refused_total; the module
// serving goes on serving, and a good module after them still swaps in.
func TestSwapRefusals(t *testing.T) {
	real := realCore(t)
	s, metrics := startWithMetrics(t, map[string]string{
		"Corefile":      swapCorefile,
		"build.zone":    buildZone,
		"services.json": servicesSnapshot(10),
		"core.wasm":     string(real),
	})
	wasm := filepath.Join(s.dir, "core.wasm")
	otherWIT := otherContract(t, real)
	cases := []struct {
		name, reason string
		module       []byte
	}{
		{"a broken file", "not_wasm", []byte("this is not WebAssembly\n")},
		{"a truncated component", "malformed", real[:len(real)*2/3]},
		{"a core module that is not a component", "not_component", []byte("\x00asm\x01\x00\x00\x00")},
		{"a component of another WIT version", "contract", otherWIT},
		{"a component planning the stanzas otherwise", "plans", testGuest(t)},
	}
	for _, c := range cases {
		series := fmt.Sprintf(`coredns_kubernetai_swaps_refused_total{reason=%q,%s}`, c.reason, serverLabel(s))
		before := swapMetric(t, metrics, series)
		logLine := fmt.Sprintf("wasm core.wasm: refused (%s)", c.reason)
		lines := strings.Count(s.out.String(), logLine)
		deploy(t, wasm, c.module)
		eventually(t, c.name+" refused", func() bool { return swapMetric(t, metrics, series) == before+1 })
		eventually(t, c.name+" logged", func() bool { return strings.Count(s.out.String(), logLine) == lines+1 })
		if got := build(t, s); got != "real-core" {
			t.Errorf("after %s: build %q, want real-core", c.name, got)
		}
		if problem := checkService(s.ask(t, "udp", "svc-7.load.svc.cluster.local.", dns.TypeA), 7); problem != "" {
			t.Errorf("after %s: %s", c.name, problem)
		}
	}
	if n := swapMetric(t, metrics, "coredns_kubernetai_swaps_total{"+serverLabel(s)+"}"); n != 0 {
		t.Errorf("swaps_total = %v after refusals only", n)
	}
	deploy(t, wasm, probeCore(t))
	eventually(t, "the probe build after the refusals", func() bool { return build(t, s) == "swap-probe" })
	if problem := checkService(s.ask(t, "tcp", "svc-3.load.svc.cluster.local.", dns.TypeA), 3); problem != "" {
		t.Error(problem)
	}
}

// CoreDNS's reload plugin, on a changed Corefile naming another module,
// re-runs setup: the new module serves, with every stanza's data.
func TestSwapByReload(t *testing.T) {
	const services = 2000
	s, metrics := startWithMetrics(t, map[string]string{
		"Corefile":      strings.Replace(swapCorefile, "    bind 127.0.0.1\n", "    bind 127.0.0.1\n    reload 2s 1s\n", 1),
		"build.zone":    buildZone,
		"services.json": servicesSnapshot(services),
		"core.wasm":     string(realCore(t)),
		"probe.wasm":    string(probeCore(t)),
	})
	if got := build(t, s); got != "real-core" {
		t.Fatalf("build %q before the reload", got)
	}
	corefile := filepath.Join(s.dir, "Corefile")
	body, err := os.ReadFile(corefile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corefile, bytes.Replace(body, []byte("wasm core.wasm"), []byte("wasm probe.wasm"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the probe build after the reload", func() bool {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		m := new(dns.Msg)
		m.SetQuestion("build.kubernetai.", dns.TypeTXT)
		r, _, err := c.Exchange(m, s.addr)
		return err == nil && len(r.Answer) == 1 && strings.Contains(r.Answer[0].String(), "swap-probe")
	})
	for _, i := range []int{0, 1234, services - 1} {
		for _, network := range networks {
			if problem := checkService(s.ask(t, network, fmt.Sprintf("svc-%d.load.svc.cluster.local.", i), dns.TypeA), i); problem != "" {
				t.Errorf("after the reload, %s: %s", network, problem)
			}
		}
	}
	// The reloaded server watches its own `wasm` file.
	deploy(t, filepath.Join(s.dir, "probe.wasm"), realCore(t))
	eventually(t, "the real core by swap after the reload", func() bool { return build(t, s) == "real-core" })
	if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("CoreDNS is gone: %v", err)
	}
	// One module serves: the one the reloaded server swapped in.
	if n := strings.Count(scrape(t, metrics), "coredns_kubernetai_module_info{"); n != 1 {
		t.Errorf("module_info has %d series, want 1", n)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}
