package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// The live tests run the CoreDNS built with kubernetai against real
// kube-apiservers (e2e/kube) and change objects through the API while it
// serves. Waits are bounded and generous; nothing is asserted about speed.

// liveWait bounds every wait for a change to reach the answers.
const liveWait = 90 * time.Second

// observed is what a server answered for one question: its rcode and its
// answer records as "TYPE data", sorted.
type observed struct {
	rcode   int
	records []string
}

func (o observed) String() string {
	return dns.RcodeToString[o.rcode] + " [" + strings.Join(o.records, ", ") + "]"
}

// observe asks name/qtype over network (no fatal error: a server being
// restarted may time out; that is then what was observed).
func observe(addr, network, name string, qtype uint16) observed {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return observed{rcode: -1, records: []string{err.Error()}}
	}
	var recs []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			recs = append(recs, "A "+rr.A.String())
		case *dns.AAAA:
			recs = append(recs, "AAAA "+rr.AAAA.String())
		case *dns.SRV:
			recs = append(recs, fmt.Sprintf("SRV %d %s", rr.Port, rr.Target))
		case *dns.CNAME:
			recs = append(recs, "CNAME "+rr.Target)
		default:
			recs = append(recs, strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	sort.Strings(recs)
	return observed{rcode: r.Rcode, records: recs}
}

// expect waits until name/qtype answers rcode with exactly the records
// want (any order, no duplicates), over UDP and over TCP.
func expect(t *testing.T, s *liveServer, name string, qtype uint16, rcode int, want ...string) {
	t.Helper()
	sort.Strings(want)
	target := observed{rcode: rcode, records: want}
	for _, network := range []string{"udp", "tcp"} {
		var last observed
		deadline := time.Now().Add(liveWait)
		for {
			s.checkAlive(t)
			last = observe(s.addr, network, name, qtype)
			if last.String() == target.String() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s %s: still %s after %v, want %s", network, name, dns.TypeToString[qtype], last, liveWait, target)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// serviceName is svc's name in zone.
func serviceName(svc *corev1.Service, zone string) string {
	return svc.Name + "." + svc.Namespace + ".svc." + zone + "."
}

// clusterIPRecords are the A records a ClusterIP service answers with.
func clusterIPRecords(svc *corev1.Service) []string {
	var out []string
	for _, ip := range svc.Spec.ClusterIPs {
		out = append(out, addrRecord(ip))
	}
	return out
}

// srvRecords are the SRV records of svc's port (name, protocol) for a
// ClusterIP service: one, to the service's name.
func srvRecords(svc *corev1.Service, zone string) map[string][]string {
	out := map[string][]string{}
	for _, p := range svc.Spec.Ports {
		q := "_" + p.Name + "._" + strings.ToLower(string(p.Protocol)) + "." + serviceName(svc, zone)
		out[q] = []string{fmt.Sprintf("SRV %d %s", p.Port, serviceName(svc, zone))}
	}
	return out
}

// readyRecords are the A/AAAA records of a headless service's ready
// endpoints across slices.
func readyRecords(slices ...*discoveryv1.EndpointSlice) []string {
	var out []string
	for _, es := range slices {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, addrRecord(a))
			}
		}
	}
	return out
}

// triggered marks a slice as the EndpointSlice controller does, with the
// time of the change that led to it (the start of DNS programming
// latency).
func triggered(es *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	if es.Annotations == nil {
		es.Annotations = map[string]string{}
	}
	es.Annotations["endpoints.kubernetes.io/last-change-trigger-time"] = time.Now().UTC().Format(time.RFC3339Nano)
	return es
}

func updateService(t *testing.T, c *kube.Cluster, ns, name string, change func(*corev1.Service)) *corev1.Service {
	t.Helper()
	ctx := context.Background()
	svcs := c.AdminClient.CoreV1().Services(ns)
	svc, err := svcs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(svc)
	if svc, err = svcs.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: update service %s/%s: %v", c.Name, ns, name, err)
	}
	return svc
}

func updateSlice(t *testing.T, c *kube.Cluster, ns, name string, change func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
	t.Helper()
	ctx := context.Background()
	slices := c.AdminClient.DiscoveryV1().EndpointSlices(ns)
	es, err := slices.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(es)
	triggered(es)
	if es, err = slices.Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s: update endpointslice %s/%s: %v", c.Name, ns, name, err)
	}
	return es
}

func deleteService(t *testing.T, c *kube.Cluster, ns, name string) {
	t.Helper()
	if err := c.AdminClient.CoreV1().Services(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("%s: delete service %s/%s: %v", c.Name, ns, name, err)
	}
}

// waitMetric waits until the series has a value for which ok holds.
func waitMetric(t *testing.T, s *liveServer, series string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	var found bool
	deadline := time.Now().Add(liveWait)
	for {
		v, found = metric(s.scrape(t), series)
		if found && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %s: found=%t value %v, not as expected within %v", series, found, v, liveWait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLog waits until the server's output matches re.
func waitLog(t *testing.T, s *liveServer, re *regexp.Regexp) string {
	t.Helper()
	var line string
	waitFor(t, "a log line matching "+re.String(), liveWait, func() bool {
		s.checkAlive(t)
		line = re.FindString(s.out.String())
		return line != ""
	})
	return line
}

// TestLive runs one etcd and two kube-apiservers for all its subtests.
func TestLive(t *testing.T) {
	env := kube.Start(t, kube.Options{Clusters: 2})
	a, b := env.Clusters[0], env.Clusters[1]
	a.ApplyRBAC(t)
	b.ApplyRBAC(t)
	// One kubeconfig, one context per cluster, as the plugin's user.
	kubeconfig := env.Kubeconfig(t, kube.Plugin)
	bin := corednsBinary(t)

	// A namespace of the same name in both clusters, and one only in a.
	shared := a.NewNamespace(t, "shared")
	b.CreateNamespace(t, shared)
	onlyA := a.NewNamespace(t, "live")

	// A subtest that fails with the second apiserver stopped leaves it
	// running again for the next.
	bDown := false
	restartB := func(t *testing.T) {
		if bDown {
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			bDown = false
		}
	}

	t.Run("ChangesFallthroughZonesAndOutage", func(t *testing.T) {
		t.Cleanup(func() { restartB(t) })
		// Objects there before CoreDNS starts.
		both := a.CreateService(t, kube.ClusterIPService(shared, "both", kube.TCPPort("http", 80)))
		b.CreateService(t, kube.ClusterIPService(shared, "both", kube.TCPPort("http", 80)))
		onlyB := b.CreateService(t, kube.ClusterIPService(shared, "only-b", kube.TCPPort("http", 80)))
		s := startBinary(t, bin, map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    kubernetai cluster.local {
        kubeconfig %[1]s %[2]s
        fallthrough
    }
    kubernetai cluster.local {
        kubeconfig %[1]s %[3]s
    }
    kubernetai remote.local {
        kubeconfig %[1]s %[3]s
    }
}`, kubeconfig, a.Name, b.Name)})
		s.waitReady(t)

		// Same zone: the first cluster answers what it has; a name only
		// the second has falls through to it. Another zone: its stanza.
		expect(t, s, serviceName(both, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(both)...)
		expect(t, s, serviceName(onlyB, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(onlyB)...)
		expect(t, s, serviceName(onlyB, "remote.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(onlyB)...)
		expect(t, s, "only-a."+shared+".svc.remote.local.", dns.TypeA, dns.RcodeNameError)
		expect(t, s, "nope."+shared+".svc.cluster.local.", dns.TypeA, dns.RcodeNameError)
		if !strings.HasPrefix(clusterIPRecords(both)[0], "A 10.96.") || !strings.HasPrefix(clusterIPRecords(onlyB)[0], "A 10.97.") {
			t.Fatalf("service CIDRs: %v %v", clusterIPRecords(both), clusterIPRecords(onlyB))
		}

		// Created through the API: a ClusterIP service appears.
		web := a.CreateService(t, kube.ClusterIPService(onlyA, "web", kube.TCPPort("http", 80)))
		expect(t, s, serviceName(web, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(web)...)
		for q, want := range srvRecords(web, "cluster.local") {
			expect(t, s, q, dns.TypeSRV, dns.RcodeSuccess, want...)
		}
		// Its ports change: the old SRV name goes, the new ones come.
		old := srvRecords(web, "cluster.local")
		web = updateService(t, a, onlyA, "web", func(svc *corev1.Service) {
			svc.Spec.Ports = []corev1.ServicePort{kube.TCPPort("https", 443), kube.UDPPort("dns", 53)}
		})
		for q, want := range srvRecords(web, "cluster.local") {
			expect(t, s, q, dns.TypeSRV, dns.RcodeSuccess, want...)
		}
		for q := range old {
			expect(t, s, q, dns.TypeSRV, dns.RcodeNameError)
		}

		// A headless service; its endpoints change.
		db := a.CreateService(t, kube.HeadlessService(onlyA, "db", kube.TCPPort("pg", 5432)))
		pg := []discoveryv1.EndpointPort{kube.EndpointPort("pg", corev1.ProtocolTCP, 5432)}
		es := a.CreateEndpointSlice(t, triggered(kube.EndpointSliceFor(onlyA, "db", "db-1", pg,
			kube.ReadyEndpoint("10.244.0.10"), kube.ReadyEndpoint("10.244.0.11"))))
		expect(t, s, serviceName(db, "cluster.local"), dns.TypeA, dns.RcodeSuccess, readyRecords(es)...)
		es = updateSlice(t, a, onlyA, "db-1", func(es *discoveryv1.EndpointSlice) {
			notReady := kube.ReadyEndpoint("10.244.0.11")
			f := false
			notReady.Conditions.Ready = &f
			es.Endpoints = []discoveryv1.Endpoint{kube.ReadyEndpoint("10.244.0.12"), notReady}
		})
		expect(t, s, serviceName(db, "cluster.local"), dns.TypeA, dns.RcodeSuccess, readyRecords(es)...)
		expect(t, s, "10-244-0-12.db."+onlyA+".svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.244.0.12")
		expect(t, s, "10-244-0-10.db."+onlyA+".svc.cluster.local.", dns.TypeA, dns.RcodeNameError)

		// Deleted: gone.
		deleteService(t, a, onlyA, "web")
		expect(t, s, serviceName(web, "cluster.local"), dns.TypeA, dns.RcodeNameError)

		// Metrics, per stanza: synced, changes applied, and the
		// programming latency of the slices changed above.
		for _, stanza := range []string{"1", "2", "3"} {
			waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_synced", stanza), func(v float64) bool { return v == 1 })
		}
		applied := waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_objects_applied_total", "1"), func(v float64) bool { return v > 0 })
		latency := waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_dns_programming_duration_seconds_count", "1"), func(v float64) bool { return v >= 2 })
		if _, ok := metric(s.scrape(t), stanzaSeries(s.server, "coredns_kubernetai_dns_programming_duration_seconds_bucket", "1", `le="+Inf"`)); !ok {
			t.Error("no programming latency histogram buckets for stanza 1")
		}
		es = updateSlice(t, a, onlyA, "db-1", func(es *discoveryv1.EndpointSlice) {
			es.Endpoints = append(es.Endpoints, kube.ReadyEndpoint("10.244.0.13"))
		})
		expect(t, s, "10-244-0-13.db."+onlyA+".svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.244.0.13")
		waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_objects_applied_total", "1"), func(v float64) bool { return v > applied })
		waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_dns_programming_duration_seconds_count", "1"), func(v float64) bool { return v > latency })

		// The second cluster's apiserver goes away: what is known keeps
		// being served, by both of its stanzas; the first cluster's too.
		cache := b.CreateService(t, kube.HeadlessService(shared, "cache", kube.TCPPort("redis", 6379)))
		redis := []discoveryv1.EndpointPort{kube.EndpointPort("redis", corev1.ProtocolTCP, 6379)}
		cacheSlice := b.CreateEndpointSlice(t, kube.EndpointSliceFor(shared, "cache", "cache-1", redis,
			kube.ReadyEndpoint("10.245.0.10"), kube.ReadyEndpoint("10.245.0.11")))
		expect(t, s, serviceName(cache, "cluster.local"), dns.TypeA, dns.RcodeSuccess, readyRecords(cacheSlice)...)
		b.Stop()
		bDown = true
		// The outage is logged, per stanza (client-go itself retries quietly).
		for _, stanza := range []string{"2", "3"} {
			logged := waitLog(t, s, regexp.MustCompile(`stanza `+stanza+`: kubeconfig [^ ]+ \(context `+b.Name+`\): watching [a-z]+: [^\n]*refused[^\n]*retrying`))
			t.Logf("logged: %s", logged)
		}
		expect(t, s, serviceName(onlyB, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(onlyB)...)
		expect(t, s, serviceName(onlyB, "remote.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(onlyB)...)
		expect(t, s, serviceName(cache, "cluster.local"), dns.TypeA, dns.RcodeSuccess, readyRecords(cacheSlice)...)
		expect(t, s, serviceName(db, "cluster.local"), dns.TypeA, dns.RcodeSuccess, readyRecords(es)...)

		// Back again; changes made now reach the answers without
		// restarting CoreDNS, nothing is lost or doubled.
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		bDown = false
		for _, stanza := range []string{"2", "3"} {
			waitLog(t, s, regexp.MustCompile(`stanza `+stanza+`: kubeconfig [^ ]+ \(context `+b.Name+`\): watching [a-z]+ again`))
		}
		late := b.CreateService(t, kube.ClusterIPService(shared, "late", kube.TCPPort("http", 80)))
		deleteService(t, b, shared, "only-b")
		cacheSlice = updateSlice(t, b, shared, "cache-1", func(es *discoveryv1.EndpointSlice) {
			es.Endpoints = append(es.Endpoints, kube.ReadyEndpoint("10.245.0.12"))
		})
		for _, zone := range []string{"cluster.local", "remote.local"} {
			expect(t, s, serviceName(late, zone), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(late)...)
			expect(t, s, serviceName(onlyB, zone), dns.TypeA, dns.RcodeNameError)
			expect(t, s, serviceName(cache, zone), dns.TypeA, dns.RcodeSuccess, readyRecords(cacheSlice)...)
			expect(t, s, "_redis._tcp."+serviceName(cache, zone), dns.TypeSRV, dns.RcodeSuccess,
				"SRV 6379 10-245-0-10."+serviceName(cache, zone),
				"SRV 6379 10-245-0-11."+serviceName(cache, zone),
				"SRV 6379 10-245-0-12."+serviceName(cache, zone))
		}
		expect(t, s, serviceName(both, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(both)...)
		if got := s.readyStatus(); got != http.StatusOK {
			t.Errorf("ready after the apiserver came back: %d", got)
		}
	})

	t.Run("ForbiddenStanza", func(t *testing.T) {
		web := a.CreateService(t, kube.ClusterIPService(onlyA, "web2", kube.TCPPort("http", 80)))
		nobody := a.Kubeconfig(t, kube.Nobody)
		// The other cluster's token: unknown here.
		stranger := filepath.Join(t.TempDir(), "stranger.kubeconfig")
		if err := a.WriteKubeconfig(stranger, b.Token(kube.Plugin)); err != nil {
			t.Fatal(err)
		}
		s := startBinary(t, bin, map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    kubernetai cluster.local {
        kubeconfig %s
    }
    kubernetai denied.local {
        kubeconfig %s
        startup_timeout 1s
        readiness hold
    }
    kubernetai unknown.local {
        kubeconfig %s
        startup_timeout 1s
    }
}`, a.Kubeconfig(t, kube.Plugin), nobody, stranger)})
		// The log names the stanza, its API server, the resource and that
		// the credentials were refused.
		line := waitLog(t, s, regexp.MustCompile(`stanza 2: kubeconfig `+regexp.QuoteMeta(nobody)+`: watching (namespaces|services|endpointslices): [^\n]*forbidden[^\n]*`))
		t.Logf("logged: %s", line)
		if !strings.Contains(line, `"nobody"`) {
			t.Errorf("the log line does not name the user refused: %s", line)
		}
		line = waitLog(t, s, regexp.MustCompile(`stanza 3: kubeconfig `+regexp.QuoteMeta(stranger)+`: watching [a-z]+: [^\n]*Unauthorized[^\n]*`))
		t.Logf("logged: %s", line)
		// The other stanza serves; the server is not ready.
		expect(t, s, serviceName(web, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(web)...)
		waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_synced", "1"), func(v float64) bool { return v == 1 })
		for _, stanza := range []string{"2", "3"} {
			// Not synced is an explicit 0, not a missing series.
			if v, ok := metric(s.scrape(t), stanzaSeries(s.server, "coredns_kubernetai_synced", stanza)); !ok || v != 0 {
				t.Errorf("stanza %s: synced = %v (present %v), want 0", stanza, v, ok)
			}
		}
		// Stanza 3 let go of readiness after its startup_timeout (explicit
		// credentials); stanza 2 holds it (`readiness hold`).
		waitMetric(t, s, stanzaSeries(s.server, "coredns_kubernetai_readiness_held", "3"), func(v float64) bool { return v == 0 })
		if v, ok := metric(s.scrape(t), stanzaSeries(s.server, "coredns_kubernetai_readiness_held", "2")); !ok || v != 1 {
			t.Errorf("stanza 2: readiness_held = %v (present %v), want 1", v, ok)
		}
		if got := s.readyStatus(); got != http.StatusServiceUnavailable {
			t.Errorf("ready with a stanza that cannot sync and holds readiness: %d, want 503", got)
		}
		// Still up and answering a while later.
		time.Sleep(2 * time.Second)
		expect(t, s, serviceName(web, "cluster.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(web)...)
	})

	t.Run("ReadyFlips", func(t *testing.T) {
		t.Cleanup(func() { restartB(t) })
		fresh := b.CreateService(t, kube.ClusterIPService(shared, "fresh", kube.TCPPort("http", 80)))
		b.Stop()
		bDown = true
		s := startBinary(t, bin, map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    kubernetai cluster.local {
        kubeconfig %[1]s %[2]s
        startup_timeout 1s
    }
    kubernetai remote.local {
        kubeconfig %[1]s %[3]s
        startup_timeout 1s
        readiness hold
    }
}`, kubeconfig, a.Name, b.Name)})
		// Not synced: not ready; the synced stanza answers, the other
		// one's names are SERVFAIL, never a cacheable NXDOMAIN.
		waitFor(t, "the ready plugin answering", liveWait, func() bool { return s.readyStatus() != 0 })
		both := "both." + shared + ".svc.cluster.local."
		want := clusterIPRecords(a.CreateService(t, kube.ClusterIPService(shared, "both-ready", kube.TCPPort("http", 80))))
		expect(t, s, "both-ready."+shared+".svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, want...)
		if o := observe(s.addr, "udp", both, dns.TypeA); o.rcode != dns.RcodeSuccess {
			t.Errorf("%s: %s", both, o)
		}
		expect(t, s, serviceName(fresh, "remote.local"), dns.TypeA, dns.RcodeServerFailure)
		if got := s.readyStatus(); got != http.StatusServiceUnavailable {
			t.Errorf("ready while stanza 2's apiserver is down: %d, want 503", got)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		bDown = false
		s.waitReady(t)
		expect(t, s, serviceName(fresh, "remote.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(fresh)...)
	})
}
