package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// exampleFiles is the example setup of `make run`: two clusters from
// snapshots in the same zone, the first falling through to the second,
// and a file zone as the next plugin.
func exampleFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"Corefile", "cluster-a.yaml", "cluster-b.yaml", "example.org.db"} {
		body, err := os.ReadFile(filepath.Join("..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(body)
	}
	files["Corefile"] = strings.Replace(files["Corefile"], ".:1053 {", ".:{port} {", 1)
	return files
}

const soaA = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "

func TestExampleAnswers(t *testing.T) {
	s := start(t, exampleFiles(t))
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		// want is the answer section; authority, when set, must prefix the
		// authority section (the SOA serial is a time).
		want      string
		authority string
		notAA     bool
	}{
		{name: "web.shop.svc.cluster.local.", qtype: dns.TypeA,
			want: "web.shop.svc.cluster.local. 5 IN A 10.96.0.10"},
		{name: "db.shop.svc.cluster.local.", qtype: dns.TypeA,
			want: "db.shop.svc.cluster.local. 5 IN A 10.244.1.20\ndb.shop.svc.cluster.local. 5 IN A 10.244.2.21"},
		{name: "db-1.db.shop.svc.cluster.local.", qtype: dns.TypeA,
			want: "db-1.db.shop.svc.cluster.local. 5 IN A 10.244.2.21"},
		{name: "docs.shop.svc.cluster.local.", qtype: dns.TypeCNAME,
			want: "docs.shop.svc.cluster.local. 5 IN CNAME www.example.org."},
		// The ExternalName target is resolved through CoreDNS (here by the
		// file plugin) and appended.
		{name: "docs.shop.svc.cluster.local.", qtype: dns.TypeA,
			want: "docs.shop.svc.cluster.local. 5 IN CNAME www.example.org.\nwww.example.org. 3600 IN A 192.0.2.80"},
		{name: "nope.shop.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soaA},
		{name: "shop.svc.cluster.local.", qtype: dns.TypeA, authority: soaA},
		{name: "web.shop.svc.cluster.local.", qtype: dns.TypeAAAA, authority: soaA},
		{name: "cluster.local.", qtype: dns.TypeSOA, want: soaA},
		// Only the second cluster has it: the first falls through.
		{name: "only-b.shop.svc.cluster.local.", qtype: dns.TypeA,
			want: "only-b.shop.svc.cluster.local. 5 IN A 10.97.0.5"},
		{name: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR,
			want: "10.0.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local."},
		// Outside both clusters: the next plugin answers.
		{name: "www.example.org.", qtype: dns.TypeA, want: "www.example.org. 3600 IN A 192.0.2.80"},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				r := s.ask(t, network, tt.name, tt.qtype)
				if r.Rcode != tt.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if !r.Authoritative {
					t.Error("AA not set")
				}
				if got := records(r.Answer); !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
					t.Errorf("answer:\n%s\nwant:\n%s", got, tt.want)
				}
				if got := records(r.Ns); tt.authority != "" && !strings.HasPrefix(got, tt.authority) {
					t.Errorf("authority:\n%s\nwant prefix:\n%s", got, tt.authority)
				}
			})
		}
	}
}
