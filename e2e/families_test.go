package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// familiesCorefile serves one cluster (testdata/families.yaml) through
// four stanzas with different options, so that one CoreDNS shows a
// representative answer of every family.
const familiesCorefile = `.:{port} {
    bind 127.0.0.1
    kubernetai cluster.local in-addr.arpa ip6.arpa {
        snapshot families.yaml
        pods verified
        ttl 10
    }
    kubernetai zonal.local {
        snapshot families.yaml
        zonal
        endpoint_pod_names
    }
    kubernetai insecure.local clusterset.local {
        snapshot families.yaml
        pods insecure
        namespaces shop
        ignore empty_service
        multicluster clusterset.local
    }
    kubernetai labelled.local {
        snapshot families.yaml
        namespace_labels team=shop
        labels tier notin (hidden)
        noendpoints
    }
}
`

func TestFamilies(t *testing.T) {
	snapshot, err := os.ReadFile("testdata/families.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, map[string]string{"Corefile": familiesCorefile, "families.yaml": string(snapshot)})
	tests := []struct {
		family, name  string
		qtype         uint16
		rcode         int
		answer, extra string
	}{
		{family: "services", name: "web.shop.svc.cluster.local.", qtype: dns.TypeAAAA,
			answer: "web.shop.svc.cluster.local. 10 IN AAAA fd00::10"},
		{family: "headless", name: "db.shop.svc.cluster.local.", qtype: dns.TypeA,
			answer: "db.shop.svc.cluster.local. 10 IN A 10.244.1.10\ndb.shop.svc.cluster.local. 10 IN A 10.244.2.11"},
		{family: "srv", name: "_http._tcp.web.shop.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: "_http._tcp.web.shop.svc.cluster.local. 10 IN SRV 0 50 80 web.shop.svc.cluster.local.",
			extra:  "web.shop.svc.cluster.local. 10 IN A 10.96.0.10\nweb.shop.svc.cluster.local. 10 IN AAAA fd00::10"},
		{family: "ptr", name: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: "10.0.96.10.in-addr.arpa. 10 IN PTR web.shop.svc.cluster.local."},
		{family: "ptr", name: "10.1.244.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: "10.1.244.10.in-addr.arpa. 10 IN PTR 10-244-1-10.db.shop.svc.cluster.local."},
		{family: "txt", name: "dns-version.cluster.local.", qtype: dns.TypeTXT,
			answer: "dns-version.cluster.local. 28800 IN TXT \"1.1.0\""},
		{family: "pods verified", name: "10-244-1-10.shop.pod.cluster.local.", qtype: dns.TypeA,
			answer: "10-244-1-10.shop.pod.cluster.local. 10 IN A 10.244.1.10"},
		// A finished pod is not listed, so not served.
		{family: "pods verified", name: "10-244-3-3.shop.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "pods insecure", name: "10-9-9-9.shop.pod.insecure.local.", qtype: dns.TypeA,
			answer: "10-9-9-9.shop.pod.insecure.local. 5 IN A 10.9.9.9"},
		{family: "pods disabled", name: "10-244-1-10.shop.pod.zonal.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "case", name: "WEB.Shop.SVC.Cluster.Local.", qtype: dns.TypeA,
			answer: "WEB.Shop.SVC.Cluster.Local. 10 IN A 10.96.0.10"},
		{family: "nodata", name: "shop.svc.cluster.local.", qtype: dns.TypeA},
		{family: "nodata", name: "web.shop.svc.cluster.local.", qtype: dns.TypeMX},
		{family: "nxdomain", name: "nope.shop.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "namespaces", name: "kube-dns.kube-system.svc.insecure.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "ignore empty_service", name: "empty.shop.svc.insecure.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "ignore empty_service", name: "empty.shop.svc.cluster.local.", qtype: dns.TypeA,
			answer: "empty.shop.svc.cluster.local. 10 IN A 10.96.0.20"},
		{family: "endpoint_pod_names", name: "db-pod-1.db.shop.svc.zonal.local.", qtype: dns.TypeA,
			answer: "db-pod-1.db.shop.svc.zonal.local. 5 IN A 10.244.2.11"},
		{family: "zonal", name: "zone-a.pin._zone.db.shop.svc.zonal.local.", qtype: dns.TypeA,
			answer: "zone-a.pin._zone.db.shop.svc.zonal.local. 5 IN A 10.244.1.10"},
		{family: "zonal", name: "zone-c.pin._zone.db.shop.svc.zonal.local.", qtype: dns.TypeA},
		{family: "multicluster", name: "web.shop.svc.clusterset.local.", qtype: dns.TypeA,
			answer: "web.shop.svc.clusterset.local. 5 IN A 10.9.0.1"},
		{family: "multicluster", name: "web-0.east.web.shop.svc.clusterset.local.", qtype: dns.TypeA,
			answer: "web-0.east.web.shop.svc.clusterset.local. 5 IN A 10.3.0.1"},
		{family: "namespace_labels", name: "web.shop.svc.labelled.local.", qtype: dns.TypeA,
			answer: "web.shop.svc.labelled.local. 5 IN A 10.96.0.10"},
		{family: "namespace_labels", name: "kube-dns.kube-system.svc.labelled.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "labels", name: "hidden.shop.svc.labelled.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "labels", name: "hidden.shop.svc.cluster.local.", qtype: dns.TypeA,
			answer: "hidden.shop.svc.cluster.local. 10 IN A 10.96.0.99"},
		{family: "noendpoints", name: "db.shop.svc.labelled.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "noendpoints", name: "10-244-1-10.db.shop.svc.labelled.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{family: "soa", name: "cluster.local.", qtype: dns.TypeSOA,
			answer: "cluster.local. 10 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "},
		{family: "axfr over the query path", name: "cluster.local.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			if tt.qtype == dns.TypeAXFR && network == "udp" {
				continue // zone transfers are TCP only
			}
			t.Run(network+"/"+tt.family+"/"+tt.name, func(t *testing.T) {
				r := s.ask(t, network, tt.name, tt.qtype)
				if r.Rcode != tt.rcode {
					t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if tt.rcode == dns.RcodeRefused {
					return
				}
				if !r.Authoritative {
					t.Error("AA not set")
				}
				// An expected answer ending in a space is a prefix (the SOA's
				// serial varies); any other must match whole.
				got := records(r.Answer)
				if prefix := strings.HasSuffix(tt.answer, " "); prefix && !strings.HasPrefix(got, tt.answer) || !prefix && got != tt.answer {
					t.Errorf("answer:\n%s\nwant:\n%s", got, tt.answer)
				}
				if tt.answer == "" && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA) {
					t.Errorf("negative answer without the SOA: %v", r.Ns)
				}
				if got := records(withoutOPT(r.Extra)); got != tt.extra {
					t.Errorf("additional:\n%s\nwant:\n%s", got, tt.extra)
				}
			})
		}
	}
}

// withoutOPT drops the EDNS record CoreDNS adds.
func withoutOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
