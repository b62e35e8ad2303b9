package e2e

import (
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

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// BenchmarkVersusStock measures kubernetai against CoreDNS's own
// kubernetes plugin in the same run: both binaries (same CoreDNS release,
// same builder) watch the same real kube-apiserver holding
// KUBERNETAI_BENCH_SERVICES services (default 10,000; each with a port and
// an EndpointSlice of two addresses), and dnsperf sends each the same
// query file over UDP for KUBERNETAI_BENCH_SECONDS (default 20) per round,
// the two servers taking turns for three rounds so that drift in the
// shared machine's load falls on both. Reported: each one's median
// queries per second and average latency, their ratio, queries lost, and
// each process's resident memory after the runs.
//
//	make bench-versus
func BenchmarkVersusStock(b *testing.B) {
	dnsperf, err := exec.LookPath("dnsperf")
	if err != nil {
		b.Fatalf("dnsperf is not installed (Debian package dnsperf; `make bench-versus` installs it): %v", err)
	}
	services := envInt(b, "KUBERNETAI_BENCH_SERVICES", 10_000)
	seconds := envInt(b, "KUBERNETAI_BENCH_SECONDS", 20)

	env := kube.Start(b, kube.Options{Clusters: 1})
	c := env.Clusters[0]
	c.ApplyRBAC(b)
	kubeconfig := c.Kubeconfig(b, kube.Plugin)
	created := time.Now()
	names := populate(b, c, services)
	b.Logf("created %d services and their EndpointSlices in %v", services, time.Since(created).Round(time.Second))

	corefile := func(plugin string) map[string]string {
		return map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    %s cluster.local in-addr.arpa {
        kubeconfig %s
        pods insecure
    }
}
`, plugin, kubeconfig)}
	}
	servers := []struct {
		name string
		s    *liveServer
	}{
		{"stock", startBinary(b, stockBinary(b), corefile("kubernetes"))},
		{"kubernetai", startBinary(b, corednsBinary(b), corefile("kubernetai"))},
	}
	last := names[len(names)-1].service + ".svc.cluster.local."
	for _, sv := range servers {
		sv.s.waitReady(b)
		waitFor(b, sv.name+" serves "+last, 120*time.Second, func() bool {
			r, err := exchange("udp", sv.s.addr, diffQuery{last, dns.TypeA})
			return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1
		})
	}

	queryFile := filepath.Join(b.TempDir(), "queries")
	if err := os.WriteFile(queryFile, []byte(queryMix(names)), 0o600); err != nil {
		b.Fatal(err)
	}
	qps := map[string][]float64{}
	latency := map[string][]float64{}
	lost := map[string]int{}
	for b.Loop() {
		for round := range 3 {
			for _, sv := range servers {
				r := runDNSPerf(b, dnsperf, sv.s.addr, queryFile, seconds)
				b.Logf("round %d %-10s %9.0f q/s, average latency %6.0f µs, %d lost", round+1, sv.name, r.qps, r.latency*1e6, r.lost)
				lost[sv.name] += r.lost
				qps[sv.name] = append(qps[sv.name], r.qps)
				latency[sv.name] = append(latency[sv.name], r.latency)
			}
		}
	}
	for _, sv := range servers {
		sv.s.checkAlive(b)
		rss, hwm := memory(b, sv.s.cmd.Process.Pid)
		b.ReportMetric(median(qps[sv.name]), "qps-"+sv.name)
		b.ReportMetric(median(latency[sv.name])*1e6, "µs-"+sv.name)
		b.ReportMetric(float64(rss)/(1<<20), "MiB-rss-"+sv.name)
		b.ReportMetric(float64(lost[sv.name]), "lost-"+sv.name)
		b.Logf("%-10s median %9.0f q/s, median latency %6.0f µs, RSS %d MiB (peak %d MiB)",
			sv.name, median(qps[sv.name]), median(latency[sv.name])*1e6, rss>>20, hwm>>20)
	}
	b.ReportMetric(median(qps["kubernetai"])/median(qps["stock"]), "qps-ratio")
}

// benchName is a service of the benchmark cluster.
type benchName struct {
	service   string // svcN.nsM
	clusterIP string
}

// populate creates n ClusterIP services in namespaces of 100, each with a
// named port and an EndpointSlice of two ready addresses, from 8 clients
// at once, and returns them as the apiserver stored them.
func populate(b *testing.B, c *kube.Cluster, n int) []benchName {
	const perNamespace = 100
	for ns := range (n + perNamespace - 1) / perNamespace {
		c.CreateNamespace(b, fmt.Sprintf("bench%d", ns))
	}
	names := make([]benchName, n)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := createBenchService(c, i, perNamespace, &names[i]); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return names
}

func createBenchService(c *kube.Cluster, i, perNamespace int, out *benchName) error {
	ctx := context.Background()
	ns, name := fmt.Sprintf("bench%d", i/perNamespace), fmt.Sprintf("svc%d", i)
	svc, err := c.AdminClient.CoreV1().Services(ns).Create(ctx,
		kube.ClusterIPService(ns, name, kube.TCPPort("http", 80)), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create service %s/%s: %w", ns, name, err)
	}
	es := kube.EndpointSliceFor(ns, name, name+"-1",
		[]discoveryv1.EndpointPort{kube.EndpointPort("http", corev1.ProtocolTCP, 80)},
		kube.ReadyEndpoint(fmt.Sprintf("10.1.%d.%d", i/250, i%250)),
		kube.ReadyEndpoint(fmt.Sprintf("10.2.%d.%d", i/250, i%250)))
	if _, err := c.AdminClient.DiscoveryV1().EndpointSlices(ns).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice %s/%s: %w", ns, es.Name, err)
	}
	*out = benchName{service: name + "." + ns, clusterIP: svc.Spec.ClusterIP}
	return nil
}

// queryMix is a dnsperf query file of 20,000 questions over random
// services: 60% service A, 10% SRV of the named port, 10% an endpoint's
// A (through the pod-style dashed name the plugins give endpoints without
// hostnames), 10% a missing service (NXDOMAIN) and 10% PTR of a ClusterIP.
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
			fmt.Fprintf(&sb, "10-1-%d-%d.%s.svc.cluster.local A\n", i/250, i%250, n.service)
		case p < 9:
			fmt.Fprintf(&sb, "missing%d.%s.svc.cluster.local A\n", i, n.service[strings.IndexByte(n.service, '.')+1:])
		default:
			ptr, _ := dns.ReverseAddr(n.clusterIP)
			fmt.Fprintf(&sb, "%s PTR\n", ptr)
		}
	}
	return sb.String()
}

type perfResult struct {
	qps, latency float64
	lost         int
}

var (
	perfQPS     = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	perfLatency = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	perfLost    = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
)

// runDNSPerf runs dnsperf against addr for seconds, with 20 queries
// outstanding from one client thread (it shares the two cores with the
// server).
func runDNSPerf(b *testing.B, dnsperf, addr, queries string, seconds int) perfResult {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command(dnsperf, "-s", host, "-p", port, "-d", queries,
		"-l", strconv.Itoa(seconds), "-q", "20", "-t", "2").CombinedOutput()
	if err != nil {
		b.Fatalf("dnsperf: %v\n%s", err, out)
	}
	get := func(re *regexp.Regexp) string {
		m := re.FindSubmatch(out)
		if m == nil {
			b.Fatalf("dnsperf printed no %s:\n%s", re, out)
		}
		return string(m[1])
	}
	var r perfResult
	r.qps, _ = strconv.ParseFloat(get(perfQPS), 64)
	r.latency, _ = strconv.ParseFloat(get(perfLatency), 64)
	r.lost, _ = strconv.Atoi(get(perfLost))
	return r
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
