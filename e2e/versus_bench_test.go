package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// BenchmarkVersusStock measures kubernetai against CoreDNS's own
// kubernetes plugin in the same run: both binaries (same CoreDNS release,
// same builder) watch the same real kube-apiserver, which holds in turn
// each size of KUBERNETAI_BENCH_SERVICES (default "10000,100000": the
// cluster grows from one size to the next) services, each with a port and
// an EndpointSlice of two addresses: the first KUBERNETAI_BENCH_CLUSTERIPS
// (default 10,000) ClusterIP services, the rest headless. A kube-apiserver
// on two cores allocates ClusterIPs one at a time, each slower than the
// last (under 20 a second past 17,000, and falling), so 100,000 ClusterIP
// services would take hours to create; headless ones go as fast as any
// other object. At each size the two servers are started afresh twice,
// without and with `cache 30` (the Corefile kube clusters ship), and
// dnsperf sends each the same query file over UDP for
// KUBERNETAI_BENCH_SECONDS (default 20) per round, the two servers taking
// turns for KUBERNETAI_BENCH_ROUNDS (default 3) rounds so that drift in
// the shared machine's load falls on both. Reported per size and
// Corefile: each one's time from start to serving, median queries per
// second over the rounds, latency percentiles over all the rounds'
// queries, queries lost, resident memory once settled (after 10 s idle)
// and its peak since start, the server's CPU time per answered query, and
// the ratios.
//
//	make bench-versus
func BenchmarkVersusStock(b *testing.B) {
	dnsperf, err := exec.LookPath("dnsperf")
	if err != nil {
		b.Fatalf("dnsperf is not installed (Debian package dnsperf; `make bench-versus` installs it): %v", err)
	}
	sizes := envInts(b, "KUBERNETAI_BENCH_SERVICES", "10000,100000")
	clusterIPs := envInt(b, "KUBERNETAI_BENCH_CLUSTERIPS", 10_000)
	load := versusLoad{
		dnsperf: dnsperf,
		seconds: envInt(b, "KUBERNETAI_BENCH_SECONDS", 20),
		rounds:  envInt(b, "KUBERNETAI_BENCH_ROUNDS", 3),
	}

	// A /12 service range: 100k ClusterIPs do not fit the default /16.
	env := kube.Start(b, kube.Options{Clusters: 1, ServicePrefix: 12})
	c := env.Clusters[0]
	c.ApplyRBAC(b)
	kubeconfig := c.Kubeconfig(b, kube.Plugin)
	var names []benchName
	for b.Loop() {
		for _, size := range sizes {
			created := time.Now()
			names = append(names, populate(b, c, len(names), size, clusterIPs)...)
			b.Logf("%d services and their EndpointSlices in the cluster (%v to create)", len(names), time.Since(created).Round(time.Second))
			load.queries = filepath.Join(b.TempDir(), "queries")
			if err := os.WriteFile(load.queries, []byte(queryMix(names)), 0o600); err != nil {
				b.Fatal(err)
			}
			for _, cached := range []bool{false, true} {
				runs := load.compare(b, kubeconfig, names, cached)
				reportVersus(b, len(names), cached, runs)
			}
		}
	}
}

// versusLoad is the dnsperf load both servers get.
type versusLoad struct {
	dnsperf, queries string
	seconds, rounds  int
}

// versusRun is what one server did under the load.
type versusRun struct {
	name      string
	startup   time.Duration // process start to serving the last service
	qps       []float64     // per round
	latencies []float64     // every answered query of every round, seconds
	lost      int
	cpu       time.Duration // the server's CPU time (user and system) over the rounds
	settled   int64         // RSS after 10 s idle following the rounds, bytes
	peak      int64         // VmHWM, bytes
}

// compare starts stock and kubernetai (one after the other, so that each
// starts on an idle machine), loads them in turns, and stops them.
func (l versusLoad) compare(b *testing.B, kubeconfig string, names []benchName, cached bool) []*versusRun {
	cache := ""
	if cached {
		cache = "cache 30"
	}
	corefile := func(plugin string) map[string]string {
		return map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    %s
    %s cluster.local in-addr.arpa {
        kubeconfig %s
        pods insecure
    }
}
`, cache, plugin, kubeconfig)}
	}
	last := names[len(names)-1].service + ".svc.cluster.local."
	type running struct {
		run *versusRun
		s   *liveServer
	}
	var servers []running
	for _, sv := range []struct{ name, binary, plugin string }{
		{"stock", stockBinary(b), "kubernetes"},
		{"kubernetai", corednsBinary(b), "kubernetai"},
	} {
		started := time.Now()
		s := startBinary(b, sv.binary, corefile(sv.plugin))
		s.waitReady(b)
		waitFor(b, sv.name+" serves "+last, 300*time.Second, func() bool {
			r, err := exchange("udp", s.addr, diffQuery{last, dns.TypeA})
			return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
		})
		servers = append(servers, running{&versusRun{name: sv.name, startup: time.Since(started)}, s})
	}
	for round := range l.rounds {
		for _, sv := range servers {
			pid := sv.s.cmd.Process.Pid
			before := cpuTime(b, pid)
			r := l.dnsperf1(b, sv.s.addr)
			sv.run.cpu += cpuTime(b, pid) - before
			b.Logf("%d services, %-9s round %d %-10s %9.0f q/s, p50 %5.0f µs, p99 %6.0f µs, %d lost", len(names), cacheName(cached),
				round+1, sv.run.name, r.qps, percentile(r.latencies, 0.5)*1e6, percentile(r.latencies, 0.99)*1e6, r.lost)
			sv.run.qps = append(sv.run.qps, r.qps)
			sv.run.latencies = append(sv.run.latencies, r.latencies...)
			sv.run.lost += r.lost
		}
	}
	time.Sleep(10 * time.Second)
	runs := make([]*versusRun, len(servers))
	for i, sv := range servers {
		sv.s.checkAlive(b)
		sv.run.settled, sv.run.peak = memory(b, sv.s.cmd.Process.Pid)
		sv.s.stop()
		runs[i] = sv.run
	}
	return runs
}

func cacheName(cached bool) string {
	if cached {
		return "cache 30"
	}
	return "no cache"
}

// reportVersus logs one size and Corefile as a row per server (the
// columns of BENCHMARKS.md's table) and reports the ratios as metrics.
func reportVersus(b *testing.B, services int, cached bool, runs []*versusRun) {
	byName := map[string]*versusRun{}
	for _, r := range runs {
		slices.Sort(r.latencies)
		byName[r.name] = r
		b.Logf("| %d | %s | %s | %.1f s | %.0f | %.1f µs | %.0f µs | %.0f µs | %d | %d MiB | %d MiB |",
			services, cacheName(cached), r.name, r.startup.Seconds(), median(r.qps), r.cpuPerQuery()*1e6,
			percentile(r.latencies, 0.5)*1e6, percentile(r.latencies, 0.99)*1e6, r.lost, r.settled>>20, r.peak>>20)
	}
	stock, ours := byName["stock"], byName["kubernetai"]
	tag := fmt.Sprintf("%d-%s", services, strings.ReplaceAll(cacheName(cached), " ", ""))
	b.ReportMetric(median(ours.qps)/median(stock.qps), "qps-ratio-"+tag)
	b.ReportMetric(ours.cpuPerQuery()/stock.cpuPerQuery(), "cpu-per-query-ratio-"+tag)
	b.ReportMetric(percentile(ours.latencies, 0.99)/percentile(stock.latencies, 0.99), "p99-ratio-"+tag)
	b.ReportMetric(float64(ours.settled)/float64(stock.settled), "rss-ratio-"+tag)
	b.ReportMetric(float64(ours.peak)/float64(stock.peak), "peak-ratio-"+tag)
}

// cpuPerQuery is the server's CPU time per answered query, in seconds:
// steadier than queries per second on a shared machine, where dnsperf and
// other work compete with the server for the same cores.
func (r *versusRun) cpuPerQuery() float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.cpu.Seconds() / float64(len(r.latencies))
}

// cpuTime is the CPU time (user and system) process pid has used, from
// /proc/PID/stat (in clock ticks, which Linux gives as 1/100 s).
func cpuTime(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is the first, utime and stime the 12th and 13th.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	fields := strings.Fields(string(rest))
	if len(fields) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// benchName is a service of the benchmark cluster.
type benchName struct {
	service string // svcN.nsM
	// The address whose PTR the query mix asks for: the ClusterIP, or a
	// headless service's first endpoint.
	address string
}

// populate creates services from..to-1 (ClusterIP below clusterIPs, else
// headless; in namespaces of 100, each with a named port and an
// EndpointSlice of two ready addresses)
// from 16 clients at once, with no client-side rate limit, and returns
// them as the apiserver stored them.
func populate(b *testing.B, c *kube.Cluster, from, to, clusterIPs int) []benchName {
	const perNamespace = 100
	cfg := c.RestConfig(kube.Admin)
	cfg.QPS = -1 // no client-side limiter: the apiserver is the bottleneck
	// Protobuf spares the apiserver a JSON decode and encode per create:
	// on two cores it is what limits how fast the cluster fills.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for ns := from / perNamespace; ns < (to+perNamespace-1)/perNamespace; ns++ {
		if from%perNamespace != 0 && ns == from/perNamespace {
			continue // made with the previous size
		}
		c.CreateNamespace(b, fmt.Sprintf("bench%d", ns))
	}
	names := make([]benchName, to-from)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := createBenchService(client, i, perNamespace, i < clusterIPs, &names[i-from]); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return names
}

// endpointIPs are service i's two endpoint addresses, distinct for up to
// 250^3 services.
func endpointIPs(i int) [2]string {
	a, bb, cc := i/62_500, i/250%250, i%250
	return [2]string{fmt.Sprintf("10.%d.%d.%d", 1+a, bb, cc), fmt.Sprintf("10.%d.%d.%d", 129+a, bb, cc)}
}

func createBenchService(client kubernetes.Interface, i, perNamespace int, clusterIP bool, out *benchName) error {
	ctx := context.Background()
	ns, name := fmt.Sprintf("bench%d", i/perNamespace), fmt.Sprintf("svc%d", i)
	svc := kube.HeadlessService(ns, name, kube.TCPPort("http", 80))
	if clusterIP {
		svc = kube.ClusterIPService(ns, name, kube.TCPPort("http", 80))
	}
	svc, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create service %s/%s: %w", ns, name, err)
	}
	ips := endpointIPs(i)
	address := ips[0]
	if clusterIP {
		address = svc.Spec.ClusterIP
	}
	es := kube.EndpointSliceFor(ns, name, name+"-1",
		[]discoveryv1.EndpointPort{kube.EndpointPort("http", corev1.ProtocolTCP, 80)},
		kube.ReadyEndpoint(ips[0]), kube.ReadyEndpoint(ips[1]))
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice %s/%s: %w", ns, es.Name, err)
	}
	*out = benchName{service: name + "." + ns, address: address}
	return nil
}

// queryMix is a dnsperf query file of 20,000 questions over random
// services: 60% service A, 10% SRV of the named port, 10% an endpoint's
// A (through the pod-style dashed name the plugins give endpoints without
// hostnames), 10% a missing service (NXDOMAIN) and 10% PTR of a ClusterIP
// (of a headless service's first endpoint).
func queryMix(names []benchName) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for range 20_000 {
		i := rng.IntN(len(names))
		n := names[i]
		switch p := rng.IntN(10); {
		case p < 6:
			fmt.Fprintf(&sb, "%s.svc.cluster.local A\n", n.service)
		case p < 7:
			fmt.Fprintf(&sb, "_http._tcp.%s.svc.cluster.local SRV\n", n.service)
		case p < 8:
			fmt.Fprintf(&sb, "%s.%s.svc.cluster.local A\n", strings.ReplaceAll(endpointIPs(i)[0], ".", "-"), n.service)
		case p < 9:
			fmt.Fprintf(&sb, "missing%d.%s.svc.cluster.local A\n", i, n.service[strings.IndexByte(n.service, '.')+1:])
		default:
			ptr, _ := dns.ReverseAddr(n.address)
			fmt.Fprintf(&sb, "%s PTR\n", ptr)
		}
	}
	return sb.String()
}

// perfResult is one dnsperf run.
type perfResult struct {
	qps       float64
	latencies []float64 // of every answered query, seconds
	lost      int
}

var (
	perfQPS  = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	perfLost = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
)

// dnsperf1 runs dnsperf against addr for the load's seconds, with 20
// queries outstanding from two client threads (they share the two cores
// with the server). -v makes dnsperf print each answer's latency, from
// which the percentiles come (dnsperf itself gives only the average).
func (l versusLoad) dnsperf1(b *testing.B, addr string) perfResult {
	host, port, _ := strings.Cut(addr, ":")
	outFile := filepath.Join(b.TempDir(), "dnsperf.out")
	f, err := os.Create(outFile)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(l.dnsperf, "-s", host, "-p", port, "-d", l.queries,
		"-l", strconv.Itoa(l.seconds), "-q", "20", "-t", "2", "-v")
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	f.Close()
	out, rerr := os.ReadFile(outFile)
	if err != nil || rerr != nil {
		b.Fatalf("dnsperf: %v %v\n%.4000s", err, rerr, out)
	}
	get := func(re *regexp.Regexp) string {
		m := re.FindSubmatch(out)
		if m == nil {
			b.Fatalf("dnsperf printed no %s:\n%.4000s", re, out)
		}
		return string(m[1])
	}
	var r perfResult
	r.qps, _ = strconv.ParseFloat(get(perfQPS), 64)
	r.lost, _ = strconv.Atoi(get(perfLost))
	r.latencies = perQueryLatencies(out)
	slices.Sort(r.latencies)
	return r
}

// perQueryLatencies reads dnsperf -v's answer lines, "> RCODE NAME TYPE
// SECONDS" (a lost query is "> T NAME TYPE").
func perQueryLatencies(out []byte) []float64 {
	var lat []float64
	for line := range strings.Lines(string(out)) {
		if !strings.HasPrefix(line, "> ") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 5 {
			continue
		}
		if s, err := strconv.ParseFloat(fields[4], 64); err == nil {
			lat = append(lat, s)
		}
	}
	return lat
}

// memory is a process's resident set and its peak, in bytes.
func memory(b *testing.B, pid int) (rss, hwm int64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// envInts reads a comma-separated list of positive integers.
func envInts(b *testing.B, name, def string) []int {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var ns []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want positive integers separated by commas", name, v)
		}
		ns = append(ns, n)
	}
	if !slices.IsSorted(ns) {
		b.Fatalf("%s=%q: want sizes in increasing order (the cluster grows)", name, v)
	}
	return ns
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
