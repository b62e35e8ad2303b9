package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// listCounter is a TLS reverse proxy on loopback in front of one
// apiserver, which counts what CoreDNS asks of it: initial lists (a LIST,
// or a watch that starts with the current state) per resource, and the
// watches open now per resource and label selector. The apiserver's own
// request metrics would not do: informers list by streaming (a watch with
// sendInitialEvents, not counted as a LIST), and the apiserver's repair
// loops list services too.
type listCounter struct {
	url    string
	caFile string
	mu     sync.Mutex
	lists  map[string]int // resource → initial lists
	open   map[string]int // "resource?selector" → open watches
}

func startListCounter(t *testing.T, c *kube.Cluster, dir string) *listCounter {
	t.Helper()
	target, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no CA certificate in " + c.CAFile)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	proxy.FlushInterval = -1 // watches stream
	lc := &listCounter{lists: map[string]int{}, open: map[string]int{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		resource := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		watching := q.Get("watch") == "true" || q.Get("watch") == "1"
		if r.Method == http.MethodGet && (!watching || q.Get("sendInitialEvents") == "true") {
			lc.mu.Lock()
			lc.lists[resource]++
			lc.mu.Unlock()
		}
		if watching {
			key := resource + "?" + q.Get("labelSelector")
			lc.mu.Lock()
			lc.open[key]++
			lc.mu.Unlock()
			defer func() {
				lc.mu.Lock()
				lc.open[key]--
				lc.mu.Unlock()
			}()
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.StartTLS() // on 127.0.0.1
	t.Cleanup(srv.Close)
	lc.url = srv.URL
	lc.caFile = filepath.Join(dir, "proxy-ca.crt")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(lc.caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return lc
}

// kubeconfig reaches the apiserver through the proxy as the plugin's
// least-privilege user.
func (lc *listCounter) kubeconfig(t *testing.T, c *kube.Cluster, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "proxy.kubeconfig")
	body := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: proxy
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: plugin
  user:
    token: %s
contexts:
- name: proxy
  context:
    cluster: proxy
    user: plugin
current-context: proxy
`, lc.url, lc.caFile, c.Token(kube.Plugin))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (lc *listCounter) listed(resource string) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.lists[resource]
}

func (lc *listCounter) allLists() string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return fmt.Sprint(lc.lists)
}

func (lc *listCounter) watching(resource, selector string) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.open[resource+"?"+selector]
}

// apiserverLists sums the apiserver's own count of LIST requests for a
// resource (every client's; logged for reference).
func apiserverLists(t *testing.T, c *kube.Cluster, resource string) float64 {
	t.Helper()
	raw, err := c.AdminClient.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("apiserver metrics: %v", err)
	}
	var sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `verb="LIST"`) ||
			!strings.Contains(line, `resource="`+resource+`"`) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// answerTTL asks name A over UDP: its rcode and the TTL of its first
// answer (or -1 when there is none, or no response).
func answerTTL(addr, name string) (int, int) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return -1, -1
	}
	if len(r.Answer) == 0 {
		return r.Rcode, -1
	}
	return r.Rcode, int(r.Answer[0].Header().Ttl)
}

// rewriteCorefile replaces old by new in the served Corefile, which the
// reload plugin notices.
func rewriteCorefile(t *testing.T, s *liveServer, old, new string) {
	t.Helper()
	path := filepath.Join(s.dir, "Corefile")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(old)) {
		t.Fatalf("Corefile has no %q:\n%s", old, body)
	}
	if err := os.WriteFile(path, bytes.Replace(body, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadLive: CoreDNS's reload plugin re-runs the setup on a changed
// Corefile. A live stanza whose source is unchanged takes over the running
// feed (nothing is listed again; the objects are replayed from the feed's
// store, and later changes arrive); one whose source changed (another
// label selector) lists again, serves the new selection, and the old
// feed's watches end.
func TestReloadLive(t *testing.T) {
	env := kube.Start(t, kube.Options{Clusters: 1})
	c := env.Clusters[0]
	c.ApplyRBAC(t)
	dir := t.TempDir()
	lc := startListCounter(t, c, dir)
	kubeconfig := lc.kubeconfig(t, c, dir)
	bin := corednsBinary(t)

	ns := c.NewNamespace(t, "reload")
	labelled := func(name, tier string) string {
		svc := kube.ClusterIPService(ns, name, kube.TCPPort("http", 80))
		svc.Labels = map[string]string{"tier": tier}
		return serviceName(c.CreateService(t, svc), "cluster.local")
	}
	front, back := labelled("front", "front"), labelled("back", "back")

	s := startBinary(t, bin, map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    reload 2s 1s
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    kubernetai cluster.local {
        kubeconfig %s
        ttl 30
    }
}`, kubeconfig)})
	s.waitReady(t)
	for _, name := range []string{front, back} {
		if rcode, ttl := answerTTL(s.addr, name); rcode != dns.RcodeSuccess || ttl != 30 {
			t.Fatalf("%s before the reload: rcode %d, ttl %d", name, rcode, ttl)
		}
	}
	services, all := lc.listed("services"), lc.allLists()
	if services == 0 || lc.listed("namespaces") == 0 || lc.listed("endpointslices") == 0 {
		t.Fatalf("initial lists through the proxy: %s", all)
	}
	waitFor(t, "one watch of services", liveWait, func() bool { return lc.watching("services", "") == 1 })
	apiBefore := apiserverLists(t, c, "services")

	// Same source, another ttl: the reload takes over the running feed.
	rewriteCorefile(t, s, "ttl 30", "ttl 7")
	waitFor(t, "the reloaded Corefile's ttl", liveWait, func() bool {
		s.checkAlive(t)
		rcode, ttl := answerTTL(s.addr, front)
		return rcode == dns.RcodeSuccess && ttl == 7
	})
	s.waitReady(t)
	// Replayed: every object the old instance had; and changes made after
	// the reload reach the new one.
	expect(t, s, back, dns.TypeA, dns.RcodeSuccess, addrRecordsOf(t, c, ns, "back")...)
	after := labelled("after", "back")
	expect(t, s, after, dns.TypeA, dns.RcodeSuccess, addrRecordsOf(t, c, ns, "after")...)
	deleteService(t, c, ns, "front")
	expect(t, s, front, dns.TypeA, dns.RcodeNameError)
	if lists := lc.allLists(); lists != all {
		t.Errorf("the reload listed again: before %s, after %s", all, lists)
	}
	if n := lc.watching("services", ""); n != 1 {
		t.Errorf("%d watches of services open after the reload, want 1 (the one feed)", n)
	}
	if !strings.Contains(s.out.String(), "Reloading complete") {
		t.Errorf("no completed reload in the log")
	}
	t.Logf("apiserver LIST services (all clients): %v before the reload, %v after", apiBefore, apiserverLists(t, c, "services"))

	// A reload that fails after the new instance's kubernetai started (a
	// second server block on a port taken): the new instance is stopped,
	// the old one serves on from the same feed, and nothing is listed.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	good, err := os.ReadFile(filepath.Join(s.dir, "Corefile"))
	if err != nil {
		t.Fatal(err)
	}
	failing := strings.Replace(string(good), "ttl 7", "ttl 9", 1) +
		fmt.Sprintf("\n.:%d {\n    bind 127.0.0.1\n    whoami\n}\n", busy.Addr().(*net.TCPAddr).Port)
	if err := os.WriteFile(filepath.Join(s.dir, "Corefile"), []byte(failing), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", liveWait, func() bool {
		s.checkAlive(t)
		return strings.Contains(s.out.String(), "reload failed: stopped 1 new kubernetai instance")
	})
	during := labelled("during", "back")
	expect(t, s, during, dns.TypeA, dns.RcodeSuccess, addrRecordsOf(t, c, ns, "during")...)
	if rcode, ttl := answerTTL(s.addr, during); rcode != dns.RcodeSuccess || ttl != 7 {
		t.Errorf("after the failed reload: rcode %d, ttl %d (want the old instance's 7)", rcode, ttl)
	}
	if lists := lc.allLists(); lists != all {
		t.Errorf("the failed reload listed again: before %s, after %s", all, lists)
	}

	// Another label selector: another source, listed anew; the new
	// selection serves and the old feed stops (no instance, old or
	// failed, holds it any more).
	selecting := strings.Replace(string(good), "ttl 7", "ttl 7\n        labels tier=back", 1)
	if err := os.WriteFile(filepath.Join(s.dir, "Corefile"), []byte(selecting), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new list after the selector changed", liveWait, func() bool {
		s.checkAlive(t)
		return lc.listed("services") > services
	})
	labelledFront := labelled("front2", "front")
	expect(t, s, back, dns.TypeA, dns.RcodeSuccess, addrRecordsOf(t, c, ns, "back")...)
	expect(t, s, after, dns.TypeA, dns.RcodeSuccess, addrRecordsOf(t, c, ns, "after")...)
	later := labelled("later", "back")
	expect(t, s, later, dns.TypeA, dns.RcodeSuccess, addrRecordsOf(t, c, ns, "later")...)
	expect(t, s, labelledFront, dns.TypeA, dns.RcodeNameError)
	waitFor(t, "the old feed's watches to end", liveWait, func() bool {
		return lc.watching("services", "") == 0 && lc.watching("services", "tier=back") == 1
	})
	s.waitReady(t)
	t.Logf("lists through the proxy: %s", lc.allLists())
}

// addrRecordsOf reads a service back from the API: its A records.
func addrRecordsOf(t *testing.T, c *kube.Cluster, ns, name string) []string {
	t.Helper()
	svc, err := c.AdminClient.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return clusterIPRecords(svc)
}
