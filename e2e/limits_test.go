package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// What no file, object or cluster size may do to DNS (issue 10): these run
// the real core in the CoreDNS binary.

// serviceList is a snapshot of the namespace shop and n ClusterIP
// services svc0, svc1... in it, one line each.
func serviceList(n int) string {
	var b strings.Builder
	b.WriteString("kind: List\nitems:\n- {kind: Namespace, metadata: {name: shop}}\n")
	for i := range n {
		fmt.Fprintf(&b, "- {kind: Service, metadata: {name: svc%d, namespace: shop}, spec: {clusterIP: 10.%d.%d.%d, "+
			"ports: [{name: http, port: 80, protocol: TCP}]}}\n", i, 96+i>>16, i>>8&255, i&255)
	}
	return b.String()
}

// asker sends A queries for random names of a set until stopped, and
// counts the answers by response code; a query left unanswered counts as
// -1.
type asker struct {
	mu     sync.Mutex
	rcodes map[int]int
	stop   chan struct{}
	done   sync.WaitGroup
}

func startAsking(s *server, names func() string) *asker {
	a := &asker{rcodes: map[int]int{}, stop: make(chan struct{})}
	a.done.Go(func() {
		// A guard, not a measure: in issue 10 queries went unanswered for
		// as long as the state stayed large, not late.
		c := &dns.Client{Net: "udp", Timeout: 20 * time.Second}
		for {
			select {
			case <-a.stop:
				return
			default:
			}
			m := new(dns.Msg)
			m.SetQuestion(names(), dns.TypeA)
			rcode := -1
			if r, _, err := c.Exchange(m, s.addr); err == nil {
				rcode = r.Rcode
			}
			a.mu.Lock()
			a.rcodes[rcode]++
			a.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})
	return a
}

func (a *asker) finish() map[int]int {
	close(a.stop)
	a.done.Wait()
	return a.rcodes
}

// A snapshot file rewritten in place is read only once it is stable and
// complete (issue 10: `: > s.yaml; sleep 2.5; cat good.yaml > s.yaml` made
// existing names answer NXDOMAIN ~118 times each, and so did a file cut at
// a line boundary): a name there before and after never answers NXDOMAIN.
func TestSnapshotRewrittenInPlace(t *testing.T) {
	good := serviceList(50)
	s := start(t, map[string]string{
		"s.yaml": good,
		"Corefile": `.:{port} {
    bind 127.0.0.1
    kubernetai cluster.local {
        snapshot s.yaml
    }
}`,
	})
	a := startAsking(s, func() string { return fmt.Sprintf("svc%d.shop.svc.cluster.local.", rand.IntN(50)) })
	path := filepath.Join(s.dir, "s.yaml")
	cut := good[:strings.Index(good, "- {kind: Service, metadata: {name: svc15,")] // at a line boundary
	for _, body := range []string{"", cut} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil { // in place, as a shell's > does
			t.Fatal(err)
		}
		if body == "" {
			// Seen (stable over a poll), then held back: the wait is for
			// the log line, as a busy machine may take more than the
			// issue's 2.5 s to poll twice. The hold lasts 30 s from then.
			waitFor(t, "the emptied file held back", time.Minute, func() bool {
				return strings.Contains(s.out.String(), "held back: the new version would delete 51 of the 51 objects")
			})
		} else {
			time.Sleep(2500 * time.Millisecond)
		}
		if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
	}
	rcodes := a.finish()
	t.Logf("answers by response code (-1: none): %v", rcodes)
	if rcodes[dns.RcodeNameError] != 0 || rcodes[-1] != 0 || rcodes[dns.RcodeSuccess] == 0 {
		t.Errorf("answers by response code %v: want every query answered, none NXDOMAIN", rcodes)
	}
}

// A cluster state bigger than wasm_memory is not an outage (issue 10:
// with wasm_memory 16Mi and 100k services no query was answered). The
// snapshot grows from 10 services to 20,000 under the smallest
// wasm_memory (4Mi: since the compact index, 20,000 services fit in 8Mi):
// the part that does not fit is refused (logged and counted), every
// query is answered, the services there before still answer, and names
// the stanza does not know answer SERVFAIL rather than NXDOMAIN.
func TestStateLargerThanMemory(t *testing.T) {
	s, metrics := startWithMetrics(t, map[string]string{
		"s.yaml": serviceList(10),
		"Corefile": `.:{port} {
    bind 127.0.0.1
    prometheus {metrics}
    kubernetai cluster.local {
        snapshot s.yaml
        wasm_memory 4Mi
    }
}`,
	})
	name := func(i int) string { return fmt.Sprintf("svc%d.shop.svc.cluster.local.", i) }
	old := startAsking(s, func() string { return name(rand.IntN(10)) })
	replaceFile(t, filepath.Join(s.dir, "s.yaml"), serviceList(20000))
	refused := `coredns_kubernetai_objects_refused_total{server="dns://` + s.addr + `",stanza="1"}`
	waitFor(t, "the refusal", 2*time.Minute, func() bool { return swapMetric(t, metrics, refused) > 0 })
	time.Sleep(time.Second) // queries after the refusal too
	rcodes := old.finish()
	t.Logf("the services there before, answers by response code (-1: none): %v", rcodes)
	if len(rcodes) != 1 || rcodes[dns.RcodeSuccess] == 0 {
		t.Errorf("the services there before, answers by response code %v: want every one answered", rcodes)
	}
	// Every name is answered: those that fit, or SERVFAIL; none NXDOMAIN.
	all := startAsking(s, func() string { return name(rand.IntN(20000)) })
	time.Sleep(2 * time.Second)
	rcodes = all.finish()
	t.Logf("every service, answers by response code: %v", rcodes)
	if rcodes[-1] != 0 || rcodes[dns.RcodeNameError] != 0 || rcodes[dns.RcodeSuccess] == 0 || rcodes[dns.RcodeServerFailure] == 0 {
		t.Errorf("every service, answers by response code %v: want answers and SERVFAIL, no NXDOMAIN, none unanswered", rcodes)
	}
	if r := s.ask(t, "udp", name(19999), dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("%s, refused: %s, want SERVFAIL", name(19999), dns.RcodeToString[r.Rcode])
	}
	line := regexp.MustCompile(`stanza 1: (\d+) of \d+ changes refused \(service shop/svc\d+, .*wasm_memory \(4Mi\) free; about (\d+)Mi would hold them`)
	m := line.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("the log lacks the refusal:\n%s", s.out)
	}
	if n := swapMetric(t, metrics, refused); fmt.Sprint(n) != m[1] {
		t.Errorf("objects_refused_total = %v, the log says %s", n, m[1])
	}
	t.Logf("refused %s changes; wasm_memory of about %sMi would hold them", m[1], m[2])
}
