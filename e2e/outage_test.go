package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// question is one name a load client asks, with the answer it must get.
type question struct {
	stanza, name string
	qtype        uint16
	want         observed
}

// queryLoad asks its questions in turn, over UDP and TCP alternately, until
// stopped, and keeps per stanza how many were asked and what went wrong.
type queryLoad struct {
	addr      string
	questions []question
	stop      chan struct{}
	done      sync.WaitGroup

	mu       sync.Mutex
	asked    map[string]int
	failures map[string][]string
}

func startQueries(addr string, questions []question, clients int) *queryLoad {
	l := &queryLoad{addr: addr, questions: questions, stop: make(chan struct{}),
		asked: map[string]int{}, failures: map[string][]string{}}
	for c := range clients {
		l.done.Add(1)
		go l.run(c)
	}
	return l
}

func (l *queryLoad) run(client int) {
	defer l.done.Done()
	networks := []string{"udp", "tcp"}
	for i := client; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		q := l.questions[i%len(l.questions)]
		network := networks[(i/len(l.questions))%2]
		got := observe(l.addr, network, q.name, q.qtype)
		l.mu.Lock()
		l.asked[q.stanza]++
		if got.String() != q.want.String() {
			l.failures[q.stanza] = append(l.failures[q.stanza],
				fmt.Sprintf("%s %s %s at %s: %s, want %s", network, q.name, dns.TypeToString[q.qtype],
					time.Now().Format("15:04:05.000"), got, q.want))
		}
		l.mu.Unlock()
	}
}

// finish stops the clients and checks that each stanza was asked at
// least `least` questions, none of them answered otherwise than wanted.
func (l *queryLoad) finish(t *testing.T, least int) {
	t.Helper()
	close(l.stop)
	l.done.Wait()
	stanzas := map[string]bool{}
	for _, q := range l.questions {
		stanzas[q.stanza] = true
	}
	for stanza := range stanzas {
		asked, failed := l.asked[stanza], l.failures[stanza]
		t.Logf("stanza %s: %d questions, %d failed", stanza, asked, len(failed))
		if asked < least {
			t.Errorf("stanza %s: only %d questions asked, want at least %d", stanza, asked, least)
		}
		if len(failed) > 0 {
			t.Errorf("stanza %s: %d of %d questions failed, the first: %s", stanza, len(failed), asked,
				strings.Join(failed[:min(len(failed), 5)], "; "))
		}
	}
}

// noerror is the observed answer of records (NOERROR).
func noerror(records ...string) observed {
	sort.Strings(records)
	return observed{rcode: dns.RcodeSuccess, records: records}
}

// TestClusterOutageUnderLoad: a remote cluster's kube-apiserver is killed
// (SIGKILL: connections cut, no goodbye) and restarted while two clients
// query every stanza, over UDP and TCP: the local cluster, the remote one
// and a snapshot. Not one query fails or changes its answer, the killed
// cluster's names included (served from the last state it delivered);
// /ready stays 200 (the remote stanza had synced); the outage shows in
// the stanza's API client metrics and log under its cluster name; after
// the restart, changes in the remote cluster reach the answers.
func TestClusterOutageUnderLoad(t *testing.T) {
	env := kube.Start(t, kube.Options{Clusters: 2})
	local, remote := env.Clusters[0], env.Clusters[1]
	local.ApplyRBAC(t)
	remote.ApplyRBAC(t)
	kubeconfig := env.Kubeconfig(t, kube.Plugin)

	nsA, nsB := local.NewNamespace(t, "outage"), remote.NewNamespace(t, "outage")
	web := local.CreateService(t, kube.ClusterIPService(nsA, "web", kube.TCPPort("http", 80)))
	api := remote.CreateService(t, kube.ClusterIPService(nsB, "api", kube.TCPPort("http", 80)))
	redis := []discoveryv1.EndpointPort{kube.EndpointPort("redis", corev1.ProtocolTCP, 6379)}
	cache := remote.CreateService(t, kube.HeadlessService(nsB, "cache", kube.TCPPort("redis", 6379)))
	cacheSlice := remote.CreateEndpointSlice(t, kube.EndpointSliceFor(nsB, "cache", "cache-1", redis,
		kube.ReadyEndpoint("10.245.0.10"), kube.ReadyEndpoint("10.245.0.11")))

	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = remote.Start()
		}
	})
	s := startBinary(t, corednsBinary(t), map[string]string{
		"cluster.yaml": transferSnapshot, // web.shop: 10.96.0.10
		"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    kubernetai cluster.local {
        cluster local
        kubeconfig %[1]s %[2]s
    }
    kubernetai remote.local {
        cluster remote
        kubeconfig %[1]s %[3]s
    }
    kubernetai files.local {
        cluster files
        snapshot cluster.yaml
    }
}`, kubeconfig, local.Name, remote.Name),
	})
	s.waitReady(t)
	cacheName := serviceName(cache, "remote.local")
	questions := []question{
		{"local", serviceName(web, "cluster.local"), dns.TypeA, noerror(clusterIPRecords(web)...)},
		{"remote", serviceName(api, "remote.local"), dns.TypeA, noerror(clusterIPRecords(api)...)},
		{"remote", cacheName, dns.TypeA, noerror(readyRecords(cacheSlice)...)},
		{"remote", "_redis._tcp." + cacheName, dns.TypeSRV,
			noerror("SRV 6379 10-245-0-10."+cacheName, "SRV 6379 10-245-0-11."+cacheName)},
		{"files", "web.shop.svc.files.local.", dns.TypeA, noerror("A 10.96.0.10")},
	}
	for _, q := range questions {
		expect(t, s, q.name, q.qtype, q.want.rcode, q.want.records...)
	}

	l := startQueries(s.addr, questions, 2)
	time.Sleep(2 * time.Second)
	errSeries := `coredns_kubernetai_rest_client_requests_total{code="error",method="GET",` + serverLabel(s.server) + `,stanza="remote"}`
	before, _ := metric(s.scrape(t), errSeries)
	remote.Kill()
	logged := waitLog(t, s, regexp.MustCompile(`stanza 2 \(cluster remote\): kubeconfig [^ ]+ \(context `+remote.Name+`\): watching [a-z]+: [^\n]*refused[^\n]*retrying`))
	t.Logf("logged: %s", logged)
	waitMetric(t, s, errSeries, func(v float64) bool { return v > before })
	time.Sleep(3 * time.Second) // the remote stanza's names served from its last state meanwhile
	if got := s.readyStatus(); got != http.StatusOK {
		t.Errorf("/ready during the outage of a synced cluster: %d, want 200", got)
	}
	if v, ok := metric(s.scrape(t), stanzaSeries(s.server, "coredns_kubernetai_synced", "remote")); !ok || v != 1 {
		t.Errorf("synced{stanza=remote} = %v (present %v) during the outage, want 1", v, ok)
	}

	if err := remote.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitLog(t, s, regexp.MustCompile(`stanza 2 \(cluster remote\): kubeconfig [^ ]+ \(context `+remote.Name+`\): watching [a-z]+ again`))
	late := remote.CreateService(t, kube.ClusterIPService(nsB, "late", kube.TCPPort("http", 80)))
	expect(t, s, serviceName(late, "remote.local"), dns.TypeA, dns.RcodeSuccess, clusterIPRecords(late)...)
	time.Sleep(2 * time.Second) // the load goes on past the relist
	l.finish(t, 20)

	// The cluster's objects changed after its return reach the answers.
	cacheSlice = updateSlice(t, remote, nsB, "cache-1", func(es *discoveryv1.EndpointSlice) {
		es.Endpoints = append(es.Endpoints, kube.ReadyEndpoint("10.245.0.12"))
	})
	expect(t, s, cacheName, dns.TypeA, dns.RcodeSuccess, readyRecords(cacheSlice)...)
	deleteService(t, remote, nsB, "api")
	expect(t, s, serviceName(api, "remote.local"), dns.TypeA, dns.RcodeNameError)
	s.checkAlive(t)
}
