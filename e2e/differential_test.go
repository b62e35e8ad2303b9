package e2e

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// The differential test runs stock CoreDNS (the kubernetes plugin) and
// CoreDNS with kubernetai side by side against the same real apiserver,
// with the same options, asks both the same generated questions over UDP
// and TCP, and requires the same responses: rcode, header flags, and every
// section (records sorted, TTLs included). The only differences tolerated
// are README's deliberate ones, each by a narrow rule below naming its
// README entry.

const diffZone = "cluster.local."

// diffWorld is what the test created in the cluster; every query and
// every expectation is derived from it.
type diffWorld struct {
	nsA, nsB string
	services []*corev1.Service
	slices   []*discoveryv1.EndpointSlice
	pods     []*corev1.Pod
	created  time.Time // before the first object
}

func endpointRef(pod string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", Name: pod}
}

// buildDiffWorld creates a bit of everything DNS reads, in two namespaces.
func buildDiffWorld(t *testing.T, c *kube.Cluster) *diffWorld {
	w := &diffWorld{created: time.Now()}
	w.nsA, w.nsB = c.NewNamespace(t, "diffa"), c.NewNamespace(t, "diffb")
	a, b := w.nsA, w.nsB
	svc := func(s *corev1.Service) { w.services = append(w.services, c.CreateService(t, s)) }
	slice := func(es *discoveryv1.EndpointSlice) { w.slices = append(w.slices, c.CreateEndpointSlice(t, es)) }
	pod := func(ns, name string, ips ...string) {
		w.pods = append(w.pods, c.CreatePod(t, kube.NewPod(ns, name), ips...))
	}

	// ClusterIP, named TCP and UDP ports, with ready endpoints.
	svc(kube.ClusterIPService(a, "web", kube.TCPPort("http", 80), kube.UDPPort("dns", 53)))
	slice(kube.EndpointSliceFor(a, "web", "web-1",
		[]discoveryv1.EndpointPort{kube.EndpointPort("http", corev1.ProtocolTCP, 8080), kube.EndpointPort("dns", corev1.ProtocolUDP, 5353)},
		kube.ReadyEndpoint("10.244.1.10")))
	// ClusterIP with one unnamed port and no endpoints at all.
	svc(kube.ClusterIPService(a, "lonely", kube.TCPPort("", 8443)))
	// ClusterIP whose only endpoint is not ready.
	svc(kube.ClusterIPService(a, "sleepy", kube.TCPPort("http", 80)))
	notReady := kube.ReadyEndpoint("10.244.1.20")
	f := false
	notReady.Conditions.Ready = &f
	slice(kube.EndpointSliceFor(a, "sleepy", "sleepy-1",
		[]discoveryv1.EndpointPort{kube.EndpointPort("http", corev1.ProtocolTCP, 80)}, notReady))
	// Headless: a hostname, pod target refs, a not-ready endpoint, TCP and
	// UDP ports, an IPv4 and an IPv6 slice.
	svc(kube.HeadlessService(a, "db", kube.TCPPort("pg", 5432), kube.UDPPort("stats", 9125)))
	withHost := kube.ReadyEndpoint("10.244.2.10")
	host := "primary"
	withHost.Hostname = &host
	withHost.TargetRef = endpointRef("db-0")
	byPod := kube.ReadyEndpoint("10.244.2.11")
	byPod.TargetRef = endpointRef("db-1")
	bare := kube.ReadyEndpoint("10.244.2.12")
	down := kube.ReadyEndpoint("10.244.2.13")
	down.Conditions.Ready = &f
	down.TargetRef = endpointRef("db-3")
	ports := []discoveryv1.EndpointPort{kube.EndpointPort("pg", corev1.ProtocolTCP, 5432), kube.EndpointPort("stats", corev1.ProtocolUDP, 9125)}
	slice(kube.EndpointSliceFor(a, "db", "db-v4", ports, withHost, byPod, bare, down))
	v6 := kube.ReadyEndpoint("2001:db8::2:11")
	v6.TargetRef = endpointRef("db-1")
	slice(kube.EndpointSliceFor(a, "db", "db-v6", ports, v6))
	// Headless without endpoints.
	svc(kube.HeadlessService(a, "void", kube.TCPPort("x", 1)))
	// ExternalName: out of zone (resolved by the file plugin), in zone, and
	// to a name that does not exist.
	svc(kube.ExternalNameService(a, "ext-out", "www.example.org"))
	svc(kube.ExternalNameService(a, "ext-in", "web."+a+".svc.cluster.local"))
	svc(kube.ExternalNameService(a, "ext-gone", "gone.example.org"))
	// The same name in another namespace, and a headless service there.
	svc(kube.ClusterIPService(b, "web", kube.TCPPort("http", 80)))
	slice(kube.EndpointSliceFor(b, "web", "web-b", []discoveryv1.EndpointPort{kube.EndpointPort("http", corev1.ProtocolTCP, 80)},
		kube.ReadyEndpoint("10.244.3.10")))
	svc(kube.HeadlessService(b, "cache", kube.TCPPort("redis", 6379)))
	cacheEp := kube.ReadyEndpoint("10.244.3.20")
	cacheEp.TargetRef = endpointRef("cache-0")
	slice(kube.EndpointSliceFor(b, "cache", "cache-1", []discoveryv1.EndpointPort{kube.EndpointPort("redis", corev1.ProtocolTCP, 6379)}, cacheEp))
	// Pods (for pods verified), dual-stack and single.
	pod(a, "db-0", "10.244.2.10")
	pod(a, "db-1", "10.244.2.11", "2001:db8::2:11")
	pod(b, "cache-0", "10.244.3.20")
	pod(a, "pending") // no IP
	return w
}

// dashed is an address as a DNS label: 10-0-0-1, 2001-db8--1.
func dashed(ip string) string {
	a := netip.MustParseAddr(ip)
	if a.Is4() {
		return strings.ReplaceAll(ip, ".", "-")
	}
	return strings.ReplaceAll(a.String(), ":", "-")
}

// diffQuery is one question.
type diffQuery struct {
	name  string
	qtype uint16
}

// queries generates the question set from the objects: every name form the
// plugin knows, hits and misses, under every type.
func (w *diffWorld) queries() []diffQuery {
	z := diffZone
	names := map[string]bool{}
	add := func(n ...string) {
		for _, s := range n {
			names[dns.Fqdn(s)] = true
		}
	}
	add(z, "dns-version."+z, "ns.dns."+z, "dns."+z, "svc."+z, "pod."+z, "nope."+z, "a.b.c.d.e.f."+z,
		"CLUSTER.Local.", "NS.DNS.cluster.LOCAL.", "www.example.org.", "nowhere.example.net.", "gone.example.org.",
		"in-addr.arpa.", "ip6.arpa.", "10.in-addr.arpa.", "254.255.96.10.in-addr.arpa.")
	var ips []string
	for _, ns := range []string{w.nsA, w.nsB, "default", "kube-system", "nope-ns"} {
		add(ns+".svc."+z, ns+".pod."+z, "missing."+ns+".svc."+z, "10-244-9-9."+ns+".pod."+z)
	}
	add("kubernetes.default.svc."+z, "_https._tcp.kubernetes.default.svc."+z)
	for _, s := range w.services {
		base := s.Name + "." + s.Namespace + ".svc." + z
		add(base, strings.ToUpper(base), "x.y.z."+base, "*."+s.Namespace+".svc."+z, "_nope._tcp."+base)
		ips = append(ips, s.Spec.ClusterIPs...)
		for _, p := range s.Spec.Ports {
			proto := strings.ToLower(string(p.Protocol))
			name := p.Name
			if name == "" {
				name = "any"
			}
			add("_"+name+"._"+proto+"."+base, name+"."+proto+"."+base, "_"+name+"._sctp."+base,
				"extra._"+name+"._"+proto+"."+base, strings.ToUpper("_"+name+"._"+proto+"."+base))
		}
	}
	for _, es := range w.slices {
		service := es.Labels[discoveryv1.LabelServiceName]
		base := service + "." + es.Namespace + ".svc." + z
		for _, ep := range es.Endpoints {
			if ep.Hostname != nil {
				add(*ep.Hostname + "." + base)
			}
			if ep.TargetRef != nil {
				add(ep.TargetRef.Name + "." + base)
			}
			for _, ip := range ep.Addresses {
				add(dashed(ip)+"."+base, "deep."+dashed(ip)+"."+base)
				ips = append(ips, ip)
			}
		}
	}
	for _, p := range w.pods {
		for _, ip := range p.Status.PodIPs {
			for _, ns := range []string{w.nsA, w.nsB, "nope-ns"} {
				add(dashed(ip.IP) + "." + ns + ".pod." + z)
			}
			ips = append(ips, ip.IP)
		}
		add(p.Name+"."+p.Namespace+".pod."+z, "not-an-ip."+p.Namespace+".pod."+z)
	}
	for _, ip := range ips {
		r, err := dns.ReverseAddr(ip)
		if err == nil {
			add(r)
		}
	}
	var out []diffQuery
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeTXT, dns.TypeCNAME,
		dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeANY}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		for _, qt := range types {
			out = append(out, diffQuery{n, qt})
		}
	}
	return out
}

// diffOptions are the option sets compared; {nsA} is the first namespace.
// With bind, both servers listen on 127.0.0.1 only and, as the kubernetes
// plugin ignores loopback addresses, have no address of their own for the
// apex NS records; the last set listens on every interface (tests still
// dial only 127.0.0.1) so that those records are compared too.
var diffOptions = []struct {
	name, options string
	allInterfaces bool
}{
	{name: "default"},
	{name: "pods insecure", options: "pods insecure"},
	{name: "pods verified", options: "pods verified"},
	{name: "endpoint_pod_names", options: "endpoint_pod_names"},
	{name: "ttl 10, noendpoints", options: "ttl 10\nnoendpoints"},
	{name: "namespaces", options: "namespaces {nsA}"},
	{name: "ignore empty_service", options: "ignore empty_service"},
	{name: "fallthrough", options: "fallthrough"},
	{name: "own addresses (NS)", allInterfaces: true},
}

// diffCorefile is the server block both binaries run; plugin is
// "kubernetes" or "kubernetai". The file zones behind it resolve
// ExternalName targets and catch what falls through.
func diffCorefile(plugin, kubeconfig, options string, allInterfaces bool) string {
	bind := "bind 127.0.0.1"
	if allInterfaces {
		bind = "# every interface"
	}
	return fmt.Sprintf(`.:{port} {
    %s
    ready 127.0.0.1:{ready}
    %s cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s
        %s
    }
    file example.org.db example.org
    file fallback.db cluster.local
}
`, bind, plugin, kubeconfig, strings.ReplaceAll(options, "\n", "\n        "))
}

const diffExampleOrg = `$ORIGIN example.org.
@	3600 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 3600
@	3600 IN NS ns.example.org.
ns	3600 IN A 192.0.2.53
www	3600 IN A 192.0.2.80
www	3600 IN AAAA 2001:db8::80
`

// fallbackZone answers, in the fallthrough set, a name the cluster lacks.
func fallbackZone(nsA string) string {
	return `$ORIGIN cluster.local.
@	60 IN SOA ns.fallback.example. admin.fallback.example. 1 7200 3600 1209600 60
@	60 IN NS ns.fallback.example.
fallback.` + nsA + `.svc	60 IN A 192.0.2.99
`
}

// diffCheck compares the two servers over one network.
type diffCheck struct {
	network     string
	stock, ours string // addresses
	from        uint32 // the earliest plausible SOA serial
}

func (d *diffCheck) ask(addr string, q diffQuery) (*dns.Msg, error) {
	return exchange(d.network, addr, q)
}

// same tells whether two responses are equal once normalised, ignoring
// their questions and, with fold, the case of every name.
func (d *diffCheck) same(a, b *dns.Msg, fold bool) bool {
	a, b = a.Copy(), b.Copy()
	a.Question, b.Question = nil, nil
	to := uint32(time.Now().Unix()) + 1
	na, errA := diffNormalise(a, d.from, to)
	nb, errB := diffNormalise(b, d.from, to)
	if fold {
		na, nb = strings.ToLower(na), strings.ToLower(nb)
	}
	return errA == nil && errB == nil && na == nb
}

// allowance is a difference README documents as deliberate: applies
// must recognise exactly that difference and nothing wider.
type allowance struct {
	readme  string // the entry under "Differences from the kubernetes plugin"
	applies func(d *diffCheck, q diffQuery, stock, ours *dns.Msg) bool
}

var diffAllowances = []allowance{
	{
		// The plugin answers NXDOMAIN for TXT at names that exist (or, with
		// fallthrough, passes them on); kubernetai answers NODATA, exactly
		// as the plugin itself answers A at that name.
		readme: "TXT at names that exist",
		applies: func(d *diffCheck, q diffQuery, stock, ours *dns.Msg) bool {
			if q.qtype != dns.TypeTXT || len(stock.Answer) > 0 || ours.Rcode != dns.RcodeSuccess || len(ours.Answer) > 0 {
				return false
			}
			a, err := d.ask(d.stock, diffQuery{q.name, dns.TypeA})
			if err != nil || a.Rcode != dns.RcodeSuccess || len(a.Answer) > 0 || len(a.Ns) == 0 {
				return false
			}
			return d.same(a, ours, false)
		},
	},
	{
		// The plugin misses NS at the apex and ns.dns.ZONE asked in another
		// case; kubernetai answers as the plugin does for the lower-case
		// name.
		readme: "NS at the apex and `ns.dns.ZONE`",
		applies: func(d *diffCheck, q diffQuery, stock, ours *dns.Msg) bool {
			lower := strings.ToLower(q.name)
			apexNS := lower == diffZone && q.qtype == dns.TypeNS
			if q.name == lower || (lower != "ns.dns."+diffZone && !apexNS) {
				return false
			}
			want, err := d.ask(d.stock, diffQuery{lower, q.qtype})
			if err != nil || want.Rcode == dns.RcodeNameError || d.same(want, stock, true) {
				return false
			}
			return d.same(want, ours, true)
		},
	},
}

// diffNormalise renders a response for comparison: the header flags and
// rcode, then each section's records sorted, with SOA serials checked to
// be a time within the test (both servers use the Unix time of the last
// change they saw; see README "SOA serials") and then blanked.
func diffNormalise(m *dns.Msg, from, to uint32) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "rcode=%s opcode=%d qr=%t aa=%t tc=%t rd=%t ra=%t ad=%t cd=%t\n",
		dns.RcodeToString[m.Rcode], m.Opcode, m.Response, m.Authoritative, m.Truncated,
		m.RecursionDesired, m.RecursionAvailable, m.AuthenticatedData, m.CheckingDisabled)
	for i, q := range m.Question {
		fmt.Fprintf(&b, "question %d: %s %s\n", i, q.Name, dns.TypeToString[q.Qtype])
	}
	for _, sec := range []struct {
		name string
		rrs  []dns.RR
	}{{"answer", m.Answer}, {"authority", m.Ns}, {"additional", m.Extra}} {
		var lines []string
		for _, rr := range sec.rrs {
			if soa, ok := rr.(*dns.SOA); ok && soa.Hdr.Name != "example.org." && !strings.Contains(soa.Ns, "fallback") {
				if soa.Serial < from || soa.Serial > to {
					return "", fmt.Errorf("SOA serial %d is not a time within the test [%d, %d]: %s", soa.Serial, from, to, soa)
				}
				c := *soa
				c.Serial = 0
				rr = &c
			}
			lines = append(lines, strings.ReplaceAll(rr.String(), "\t", " "))
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s:\n", sec.name)
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String(), nil
}

// exchange asks q over network: over UDP with EDNS0 and a 4096-byte
// buffer (as resolvers do, so that answers are not truncated: which records
// a truncated answer keeps depends on their order), over TCP without.
func exchange(network, addr string, q diffQuery) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.Id = 4242
	if network == "udp" {
		m.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	var lastErr error
	for range 3 {
		r, _, err := c.Exchange(m, addr)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// checkDerived checks answers against the objects themselves, so that
// two servers agreeing on something wrong (both failing, say) cannot pass:
// every service's A, AAAA or CNAME records, and its SRV targets.
func checkDerived(t *testing.T, w *diffWorld, who string, s *liveServer) {
	t.Helper()
	ready := map[string][]string{} // namespace/service -> ready addresses
	for _, es := range w.slices {
		key := es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready[key] = append(ready[key], ep.Addresses...)
			}
		}
	}
	for _, svc := range w.services {
		name := svc.Name + "." + svc.Namespace + ".svc." + diffZone
		var want []string
		switch {
		case svc.Spec.Type == corev1.ServiceTypeExternalName:
			want = append(want, "CNAME "+dns.Fqdn(svc.Spec.ExternalName))
		case svc.Spec.ClusterIP == corev1.ClusterIPNone:
			for _, a := range ready[svc.Namespace+"/"+svc.Name] {
				want = append(want, addrRecord(a))
			}
		default:
			for _, a := range svc.Spec.ClusterIPs {
				want = append(want, addrRecord(a))
			}
		}
		var got []string
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			for _, rr := range s.ask(t, "udp", name, qt).Answer {
				if !strings.EqualFold(rr.Header().Name, name) {
					continue // the CNAME target's records
				}
				switch rr := rr.(type) {
				case *dns.A:
					got = append(got, "A "+rr.A.String())
				case *dns.AAAA:
					got = append(got, "AAAA "+rr.AAAA.String())
				case *dns.CNAME:
					got = append(got, "CNAME "+rr.Target)
				}
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		got, want = compactStrings(got), compactStrings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %s A/AAAA: %v, want %v (from the objects)", who, name, got, want)
		}
	}
}

func addrRecord(ip string) string {
	if netip.MustParseAddr(ip).Is4() {
		return "A " + ip
	}
	return "AAAA " + netip.MustParseAddr(ip).String()
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestDifferential compares stock CoreDNS and kubernetai, option set by
// option set, against one real apiserver.
func TestDifferential(t *testing.T) {
	stockBin, oursBin := stockBinary(t), corednsBinary(t)
	env := kube.Start(t, kube.Options{Clusters: 1})
	c := env.Clusters[0]
	c.ApplyRBAC(t)
	// Both run as the least-privilege user of deploy/rbac.yaml.
	kubeconfig := c.Kubeconfig(t, kube.Plugin)
	w := buildDiffWorld(t, c)
	queries := w.queries()
	from := uint32(w.created.Unix()) - 1

	var summary []string
	for _, set := range diffOptions {
		t.Run(strings.ReplaceAll(set.name, " ", "_"), func(t *testing.T) {
			options := strings.ReplaceAll(set.options, "{nsA}", w.nsA)
			files := func(plugin string) map[string]string {
				return map[string]string{
					"Corefile":       diffCorefile(plugin, kubeconfig, options, set.allInterfaces),
					"example.org.db": diffExampleOrg,
					"fallback.db":    fallbackZone(w.nsA),
				}
			}
			// Both start at once and sync meanwhile.
			stock := startBinary(t, stockBin, files("kubernetes"))
			ours := startBinary(t, oursBin, files("kubernetai"))
			stock.waitReady(t)
			ours.waitReady(t)
			if set.name == "default" {
				checkDerived(t, w, "stock", stock)
				checkDerived(t, w, "kubernetai", ours)
			}
			all := append([]diffQuery{}, queries...)
			all = append(all, diffQuery{"fallback." + w.nsA + ".svc." + diffZone, dns.TypeA})
			compared, differing := 0, 0
			kinds := map[string]int{} // the stock responses, by kind
			allowed := map[string]int{}
			for _, network := range []string{"udp", "tcp"} {
				d := &diffCheck{network: network, stock: stock.addr, ours: ours.addr, from: from}
				for _, q := range all {
					rs, err := exchange(network, stock.addr, q)
					if err != nil {
						t.Fatalf("stock %s %s %s: %v", network, q.name, dns.TypeToString[q.qtype], err)
					}
					ro, err := exchange(network, ours.addr, q)
					if err != nil {
						t.Fatalf("kubernetai %s %s %s: %v", network, q.name, dns.TypeToString[q.qtype], err)
					}
					compared++
					switch {
					case rs.Rcode == dns.RcodeSuccess && len(rs.Answer) > 0:
						kinds["answer"]++
					case rs.Rcode == dns.RcodeSuccess:
						kinds["nodata"]++
					case rs.Rcode == dns.RcodeNameError:
						kinds["nxdomain"]++
					default:
						kinds[dns.RcodeToString[rs.Rcode]]++
					}
					to := uint32(time.Now().Unix()) + 1
					ns, errS := diffNormalise(rs, from, to)
					no, errO := diffNormalise(ro, from, to)
					if errS != nil || errO != nil {
						t.Errorf("%s %s %s: stock: %v; kubernetai: %v", network, q.name, dns.TypeToString[q.qtype], errS, errO)
						continue
					}
					if ns == no {
						continue
					}
					rule := ""
					for _, a := range diffAllowances {
						if a.applies(d, q, rs, ro) {
							rule = a.readme
							break
						}
					}
					if rule != "" {
						allowed[rule]++
						continue
					}
					differing++
					if differing <= 10 {
						t.Errorf("%s %s %s differs:\n--- stock\n%s--- kubernetai\n%s", network, q.name, dns.TypeToString[q.qtype], ns, no)
					} else {
						t.Errorf("%s %s %s differs: stock %s %d/%d/%d, kubernetai %s %d/%d/%d", network, q.name, dns.TypeToString[q.qtype],
							dns.RcodeToString[rs.Rcode], len(rs.Answer), len(rs.Ns), len(rs.Extra),
							dns.RcodeToString[ro.Rcode], len(ro.Answer), len(ro.Ns), len(ro.Extra))
					}
				}
			}
			for _, k := range []string{"answer", "nodata", "nxdomain"} {
				if kinds[k] == 0 {
					t.Errorf("no %s among the responses: the query set does not cover it", k)
				}
			}
			line := fmt.Sprintf("%-20s %5d queries compared (udp+tcp: %d answers, %d NODATA, %d NXDOMAIN, %d other), %d differ",
				set.name, compared, kinds["answer"], kinds["nodata"], kinds["nxdomain"],
				compared-kinds["answer"]-kinds["nodata"]-kinds["nxdomain"], differing)
			var rules []string
			for r, n := range allowed {
				rules = append(rules, fmt.Sprintf("%d allowed by README %q", n, r))
			}
			sort.Strings(rules)
			if len(rules) > 0 {
				line += "; " + strings.Join(rules, "; ")
			}
			summary = append(summary, line)
		})
	}
	t.Logf("differential summary:\n%s", strings.Join(summary, "\n"))
}
