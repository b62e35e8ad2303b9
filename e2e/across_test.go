package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const transferSnapshot = `apiVersion: v1
kind: List
items:
- {kind: Namespace, metadata: {name: shop}}
- kind: Service
  metadata: {name: web, namespace: shop}
  spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80, protocol: TCP}]}
- kind: Service
  metadata: {name: db, namespace: shop}
  spec: {clusterIP: None, ports: [{name: pg, port: 5432, protocol: TCP}]}
- kind: EndpointSlice
  metadata: {name: db-1, namespace: shop, labels: {kubernetes.io/service-name: db}}
  addressType: IPv4
  endpoints: [{addresses: [10.1.0.1], hostname: db-0}]
  ports: [{name: pg, port: 5432, protocol: TCP}]
`

// waitFor polls until check passes or the bounded wait ends.
func waitFor(t testing.TB, what string, limit time.Duration, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func axfr(t *testing.T, addr, zone string, ixfrSerial uint32) []dns.RR {
	t.Helper()
	m := new(dns.Msg)
	if ixfrSerial == 0 {
		m.SetAxfr(zone)
	} else {
		m.SetIxfr(zone, ixfrSerial, "ns.dns."+zone, "hostmaster."+zone)
	}
	tr := &dns.Transfer{ReadTimeout: 10 * time.Second}
	envs, err := tr.In(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	var rrs []dns.RR
	for e := range envs {
		if e.Error != nil {
			t.Fatal(e.Error)
		}
		rrs = append(rrs, e.RR...)
	}
	return rrs
}

func TestZoneTransfer(t *testing.T) {
	s := start(t, map[string]string{
		"cluster.yaml": transferSnapshot,
		"Corefile": `.:{port} {
    bind 127.0.0.1
    transfer cluster.local {
        to *
    }
    kubernetai cluster.local {
        snapshot cluster.yaml
    }
}`,
	})
	rrs := axfr(t, s.addr, "cluster.local.", 0)
	if len(rrs) < 2 {
		t.Fatalf("transfer: %v", rrs)
	}
	first, last := rrs[0].(*dns.SOA), rrs[len(rrs)-1].(*dns.SOA)
	if first.Serial != last.Serial || first.Hdr.Name != "cluster.local." {
		t.Errorf("SOA first and last: %v %v", first, last)
	}
	got := records(rrs[1 : len(rrs)-1])
	for _, want := range []string{
		"web.shop.svc.cluster.local. 5 IN A 10.96.0.10",
		"_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.",
		"db-0.db.shop.svc.cluster.local. 5 IN A 10.1.0.1",
		"_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 100 5432 db-0.db.shop.svc.cluster.local.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transfer lacks %q:\n%s", want, got)
		}
	}
	// Services in namespace/name order: db before web.
	if strings.Index(got, "db.shop") > strings.Index(got, "web.shop") {
		t.Errorf("not in namespace, name order:\n%s", got)
	}
	// An up-to-date (or newer) IXFR client gets the SOA alone.
	for _, serial := range []uint32{first.Serial, first.Serial + 100} {
		if up := axfr(t, s.addr, "cluster.local.", serial); len(up) != 1 || up[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("IXFR from %d: %d records", serial, len(up))
		}
	}
	if older := axfr(t, s.addr, "cluster.local.", first.Serial-100); len(older) != len(rrs) {
		t.Errorf("IXFR from an older serial: %d records, want the full %d", len(older), len(rrs))
	}
	// Over UDP, the transfer plugin refuses.
	if r := s.ask(t, "udp", "cluster.local.", dns.TypeAXFR); r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR over UDP: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestNotifyReachesASecondary runs a second CoreDNS as a secondary of the
// kubernetai zone: after a change in the cluster it must serve the new
// name within seconds, which only a NOTIFY can make happen (its SOA refresh
// is two hours).
func TestNotifyReachesASecondary(t *testing.T) {
	secondaryPort := freePort(t)
	primary := start(t, map[string]string{
		"cluster.yaml": transferSnapshot,
		"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    transfer cluster.local {
        to 127.0.0.1:%d
    }
    kubernetai cluster.local {
        snapshot cluster.yaml
        notify_interval 1s
    }
}`, secondaryPort),
	})
	secondary := startOn(t, secondaryPort, map[string]string{
		"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    secondary cluster.local {
        transfer from %s
    }
}`, primary.addr),
	})
	answers := func(name string) bool {
		r := secondary.ask(t, "udp", name, dns.TypeA)
		return r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
	}
	waitFor(t, "the secondary's first transfer", 20*time.Second, func() bool { return answers("web.shop.svc.cluster.local.") })
	// Serials are seconds: make sure the next one is larger.
	time.Sleep(1100 * time.Millisecond)
	added := transferSnapshot + `- kind: Service
  metadata: {name: fresh, namespace: shop}
  spec: {clusterIP: 10.96.0.77, ports: [{name: http, port: 80, protocol: TCP}]}
`
	replaceFile(t, filepath.Join(primary.dir, "cluster.yaml"), added)
	waitFor(t, "the new service on the secondary", 20*time.Second, func() bool { return answers("fresh.shop.svc.cluster.local.") })
}

// replaceFile writes a new version next to path and renames it over.
func replaceFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

const autopathSnapshotA = `kind: List
items:
- {kind: Namespace, metadata: {name: shop}}
- kind: Service
  metadata: {name: web, namespace: shop}
  spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80, protocol: TCP}]}
`

// In the second cluster lives the client's pod, at 127.0.0.1 (only data:
// nothing dials pod addresses).
const autopathSnapshotB = `kind: List
items:
- {kind: Namespace, metadata: {name: shop}}
- {kind: Namespace, metadata: {name: team}}
- kind: Service
  metadata: {name: web, namespace: shop}
  spec: {clusterIP: 10.97.0.10, ports: [{name: http, port: 80, protocol: TCP}]}
- kind: Pod
  metadata: {name: client, namespace: team, labels: {app: tester}}
  status: {phase: Running, podIP: 127.0.0.1, podIPs: [{ip: 127.0.0.1}]}
`

func TestAutopathAndMetadataAcrossClusters(t *testing.T) {
	s := start(t, map[string]string{
		"a.yaml": autopathSnapshotA,
		"b.yaml": autopathSnapshotB,
		"Corefile": `.:{port} {
    bind 127.0.0.1
    metadata
    log . "META {/kubernetes/client-namespace} {/kubernetes/client-pod-name} {/kubernetes/client-label/app} {/kubernetes/service} {/kubernetes/namespace} {/kubernetai/stanza} {/kubernetai/cluster}"
    autopath @kubernetai
    kubernetai cluster.local {
        snapshot a.yaml
        pods verified
    }
    kubernetai remote.local {
        snapshot b.yaml
        pods verified
        cluster east
    }
}`,
	})
	// The pod (namespace team, cluster B) looks up "web.shop" through its
	// first search domain; autopath answers from the right one at once.
	// Only the second stanza knows the pod: upstream kubernetai would have
	// given no search path at all.
	r := s.ask(t, "udp", "web.shop.team.svc.remote.local.", dns.TypeA)
	got := records(r.Answer)
	want := "web.shop.team.svc.remote.local. 5 IN CNAME web.shop.svc.remote.local.\nweb.shop.svc.remote.local. 5 IN A 10.97.0.10"
	if got != want {
		t.Errorf("autopath:\n%s\nwant:\n%s", got, want)
	}
	// From an address no stanza knows (127.0.0.2), no autopath: NXDOMAIN.
	m := new(dns.Msg)
	m.SetQuestion("web.shop.team.svc.remote.local.", dns.TypeA)
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.0.0.2")}}}
	r2, _, err := c.Exchange(m, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Rcode != dns.RcodeNameError {
		t.Errorf("unknown client: %s %v", dns.RcodeToString[r2.Rcode], r2.Answer)
	}
	// Metadata as the log plugin prints it.
	s.ask(t, "udp", "web.shop.svc.remote.local.", dns.TypeA)
	waitFor(t, "the log line with metadata", 5*time.Second, func() bool {
		return strings.Contains(s.out.String(), "META team client tester web shop 2 east")
	})
}

func TestReady(t *testing.T) {
	readyPort := freePort(t)
	start(t, map[string]string{
		"cluster.yaml": transferSnapshot,
		"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    kubernetai cluster.local {
        snapshot cluster.yaml
    }
}`, readyPort),
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort)
	waitFor(t, "ready", 10*time.Second, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == http.StatusOK
	})
}
