package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// Records in this file are compared as "OWNER TYPE RDATA" (no TTL, no
// class): the same string for a record whether it came from a query or a
// zone transfer.

// rrKey is rr as "OWNER TYPE RDATA".
func rrKey(rr dns.RR) string {
	h := rr.Header()
	rdata := strings.TrimPrefix(rr.String(), h.String())
	return h.Name + " " + dns.TypeToString[h.Rrtype] + " " + strings.ReplaceAll(rdata, "\t", " ")
}

// aKey and srvKey build the keys a test expects.
func aKey(owner, ip string) string { return owner + " A " + ip }

func srvKey(owner string, weight, port int, target string) string {
	return fmt.Sprintf("%s SRV 0 %d %d %s", owner, weight, port, target)
}

// setWeight is the weight of every SRV record in a set zone (README,
// "Cluster sets"); pluginWeight the kubernetes plugin's split of 100 over
// n records, which other zones keep.
const setWeight = 100

func pluginWeight(n int) int { return max(1, 100/n) }

// notReadyEndpoint is an endpoint whose Ready condition is false.
func notReadyEndpoint(addresses ...string) discoveryv1.Endpoint {
	ep := kube.ReadyEndpoint(addresses...)
	f := false
	ep.Conditions.Ready = &f
	return ep
}

// reply is one answer: its rcode and its sections as record keys, in the
// order the server wrote them (extra without OPT).
type reply struct {
	rcode                  int
	answer, authority, add []string
}

func askKeys(t *testing.T, addr, network, name string, qtype uint16) reply {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	keys := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if rr.Header().Rrtype != dns.TypeOPT {
				out = append(out, rrKey(rr))
			}
		}
		return out
	}
	return reply{rcode: r.Rcode, answer: keys(r.Answer), authority: keys(r.Ns), add: keys(r.Extra)}
}

// sameSet reports whether got and want hold the same strings, each once.
func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	return slices.Equal(g, w)
}

// globalCase is one question and the answer section it must get (any
// order, every record once); extra, when set, is the additional section's
// A/AAAA records.
type globalCase struct {
	why   string
	name  string
	qtype uint16
	rcode int
	want  []string
	extra []string
}

// expectGlobal asks c's question over UDP and over TCP until it is
// answered as c wants or wait has passed (then it fails t and goes on, so
// that one run shows every deviation), and returns the answer records. A
// negative answer (no records) must carry the zone's SOA in its authority
// section.
func expectGlobal(t *testing.T, s *liveServer, zone string, wait time.Duration, c globalCase) []string {
	t.Helper()
	var answer []string
	for _, network := range []string{"udp", "tcp"} {
		var last reply
		ok := func() bool {
			s.checkAlive(t)
			last = askKeys(t, s.addr, network, c.name, c.qtype)
			var extra []string
			for _, k := range last.add {
				if f := strings.Fields(k); f[1] == "A" || f[1] == "AAAA" {
					extra = append(extra, k)
				}
			}
			return last.rcode == c.rcode && sameSet(last.answer, c.want) && !hasDuplicates(last.answer) &&
				(c.extra == nil || sameSet(extra, c.extra) && !hasDuplicates(extra))
		}
		if !holdsWithin(wait, ok) {
			t.Errorf("%s (%s): %s %s:\n got %s %q additional %q\nwant %s %q additional %q", c.why, network,
				c.name, dns.TypeToString[c.qtype], dns.RcodeToString[last.rcode], last.answer, last.add,
				dns.RcodeToString[c.rcode], c.want, c.extra)
		} else if len(c.want) == 0 && !slices.ContainsFunc(last.authority, func(k string) bool { return strings.HasPrefix(k, zone+" SOA ") }) {
			t.Errorf("%s (%s): %s %s: %s without the SOA of %s: %q", c.why, network, c.name,
				dns.TypeToString[c.qtype], dns.RcodeToString[last.rcode], zone, last.authority)
		}
		answer = last.answer
	}
	return answer
}

// holdsWithin polls check until it holds or limit has passed, and says
// whether it held.
func holdsWithin(limit time.Duration, check func() bool) bool {
	deadline := time.Now().Add(limit)
	for !check() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

func hasDuplicates(keys []string) bool {
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// transferKeys transfers zone (AXFR over TCP), checks its SOA framing and
// that no record comes twice, and returns its A, AAAA and SRV records and
// its serial.
func transferKeys(t *testing.T, addr, zone string) ([]string, uint32) {
	t.Helper()
	rrs := axfr(t, addr, zone, 0)
	if len(rrs) < 2 {
		t.Fatalf("transfer of %s: %d records", zone, len(rrs))
	}
	first, ok1 := rrs[0].(*dns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
	if !ok1 || !ok2 || first.Serial != last.Serial || first.Hdr.Name != zone {
		t.Fatalf("transfer of %s does not begin and end with its SOA: %v ... %v", zone, rrs[0], rrs[len(rrs)-1])
	}
	var keys []string
	seen := map[string]bool{}
	for _, rr := range rrs[1 : len(rrs)-1] {
		k := rrKey(rr)
		if seen[k] {
			t.Errorf("transfer of %s has %q twice", zone, k)
		}
		seen[k] = true
		switch rr.Header().Rrtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeSRV:
			keys = append(keys, k)
		}
	}
	return keys, first.Serial
}

// waitTransfer transfers zone until ok holds for its records (or fails t
// after liveWait and goes on), and returns the last transfer's records.
func waitTransfer(t *testing.T, s *liveServer, zone, what string, ok func(map[string]bool) bool) []string {
	t.Helper()
	deadline := time.Now().Add(liveWait)
	for {
		s.checkAlive(t)
		keys, _ := transferKeys(t, s.addr, zone)
		set := map[string]bool{}
		for _, k := range keys {
			set[k] = true
		}
		if ok(set) {
			return keys
		}
		if time.Now().After(deadline) {
			t.Errorf("the transfer of %s: not %s within %v; its records:\n%s", zone, what, liveWait, strings.Join(keys, "\n"))
			return keys
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkTransferOrder checks the order the spec gives a set zone's
// transfer: service by service in (namespace, service) order, each
// service's merged records first, then each member's copy under its
// per-cluster names, in member order.
func checkTransferOrder(t *testing.T, transfer []string, zone string, members []string) {
	t.Helper()
	type place struct {
		ns, svc string
		member  int // 0: merged, i: the i-th member's copy
	}
	less := func(a, b place) bool {
		if a.ns != b.ns {
			return a.ns < b.ns
		}
		if a.svc != b.svc {
			return a.svc < b.svc
		}
		return a.member < b.member
	}
	var prev place
	var prevKey string
	for _, k := range transfer {
		labels := strings.Split(strings.TrimSuffix(strings.Fields(k)[0], "."+zone), ".")
		i := slices.Index(labels, "svc")
		if i < 2 {
			continue // not a service's name (the zone's own records)
		}
		p := place{ns: labels[i-1], svc: labels[i-2]}
		if i+1 < len(labels) {
			p.member = slices.Index(members, labels[i+1]) + 1
		}
		if prevKey != "" && less(p, prev) {
			t.Errorf("transfer out of (namespace, service, merged then members) order: %q after %q", k, prevKey)
		}
		prev, prevKey = p, k
	}
}

// checkTransferAnswers asks, over UDP and TCP, every owner name and type
// of the transfer's records: each answer must be exactly the transfer's
// records there, so a secondary fed by the transfer answers as the server
// does (SRV weights included).
func checkTransferAnswers(t *testing.T, s *liveServer, transfer []string) {
	t.Helper()
	byQuestion := map[[2]string][]string{}
	for _, k := range transfer {
		f := strings.Fields(k)
		q := [2]string{f[0], f[1]}
		byQuestion[q] = append(byQuestion[q], k)
	}
	t.Logf("transfer: %d A/AAAA/SRV records at %d owner names and types, each asked over UDP and TCP", len(transfer), len(byQuestion))
	for q, want := range byQuestion {
		for _, network := range []string{"udp", "tcp"} {
			got := askKeys(t, s.addr, network, q[0], dns.StringToType[q[1]])
			for _, k := range want {
				if !slices.Contains(got.answer, k) {
					t.Errorf("transfer record %q: not returned by %s %s over %s (%s %q)", k, q[0], q[1], network,
						dns.RcodeToString[got.rcode], got.answer)
				}
			}
			for _, k := range got.answer {
				if !slices.Contains(want, k) {
					t.Errorf("%s %s over %s returns %q, which the transfer lacks (it has %q)", q[0], q[1], network, k, want)
				}
			}
		}
	}
}

// TestGlobalServices: clusterset (issue 15) merges the same zone's
// stanzas, one per cluster, into one set: a service in both clusters is
// one global name, answered by the rules of issue 15's specification
// ("each" kinds: every cluster's answers, in Corefile order, without
// duplicates; "first" kinds: the first cluster whose copy has ready
// endpoints), and each cluster's own copy stays reachable under
// SERVICE.NAMESPACE.svc.CLUSTER.ZONE. The zone's transfer
// and its answers must agree record for record, before and after changes
// in either cluster; a stanza without clusterset answers as before.
func TestGlobalServices(t *testing.T) {
	env := kube.Start(t, kube.Options{Clusters: 2})
	local, remote := env.Clusters[0], env.Clusters[1]
	local.ApplyRBAC(t)
	remote.ApplyRBAC(t)
	kubeconfig := env.Kubeconfig(t, kube.Plugin)

	// Global services are a namespace sameness: the same namespace name
	// in both clusters.
	ns := local.NewNamespace(t, "global")
	remote.CreateNamespace(t, ns)
	http := kube.TCPPort("http", 80)
	httpPort := []discoveryv1.EndpointPort{kube.EndpointPort("http", corev1.ProtocolTCP, 80)}
	webPorts := []discoveryv1.EndpointPort{httpPort[0], kube.EndpointPort("grpc", corev1.ProtocolTCP, 9090)}
	headless := func(c *kube.Cluster, name string, eps ...discoveryv1.Endpoint) {
		c.CreateService(t, kube.HeadlessService(ns, name, http))
		c.CreateEndpointSlice(t, kube.EndpointSliceFor(ns, name, name+"-1", httpPort, eps...))
	}
	clusterIP := func(c *kube.Cluster, name string, ports []corev1.ServicePort, slicePorts []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) string {
		svc := c.CreateService(t, kube.ClusterIPService(ns, name, ports...))
		if len(eps) > 0 {
			c.CreateEndpointSlice(t, kube.EndpointSliceFor(ns, name, name+"-1", slicePorts, eps...))
		}
		return svc.Spec.ClusterIP
	}

	// db: headless in both; 10.1.0.2 is in both (one record in merged
	// answers). Remote lists it last so that its merged place (local's)
	// shows the order.
	headless(local, "db", kube.ReadyEndpoint("10.1.0.1"), kube.ReadyEndpoint("10.1.0.2"))
	headless(remote, "db", kube.ReadyEndpoint("10.2.0.1"), kube.ReadyEndpoint("10.1.0.2"))
	// web: ClusterIP in both, ready in both; remote has one port more.
	webLocal := clusterIP(local, "web", []corev1.ServicePort{http}, httpPort, kube.ReadyEndpoint("10.1.3.1"))
	webRemote := clusterIP(remote, "web", []corev1.ServicePort{http, kube.TCPPort("grpc", 9090)}, webPorts, kube.ReadyEndpoint("10.2.3.1"))
	// api: local's copy has no ready endpoint, so remote's answers.
	apiLocal := clusterIP(local, "api", []corev1.ServicePort{http}, httpPort, notReadyEndpoint("10.1.4.1"))
	apiRemote := clusterIP(remote, "api", []corev1.ServicePort{http}, httpPort, kube.ReadyEndpoint("10.2.4.1"))
	// only-remote: no endpoints at all; the first (only) member with the
	// name answers.
	onlyRemote := clusterIP(remote, "only-remote", []corev1.ServicePort{http}, nil)
	// mixed: headless in local (the first member, so the name is an
	// "each" name), ClusterIP in remote (not of that kind: left out).
	headless(local, "mixed", kube.ReadyEndpoint("10.1.5.1"))
	mixedRemote := clusterIP(remote, "mixed", []corev1.ServicePort{http}, httpPort, kube.ReadyEndpoint("10.2.5.1"))
	// partial: headless in both, local's endpoint not ready.
	headless(local, "partial", notReadyEndpoint("10.1.6.1"))
	headless(remote, "partial", kube.ReadyEndpoint("10.2.6.1"))
	for _, ip := range []string{webLocal, apiLocal} {
		if !strings.HasPrefix(ip, "10.96.") {
			t.Fatalf("local ClusterIP %s not from 10.96/16", ip)
		}
	}
	for _, ip := range []string{webRemote, apiRemote, onlyRemote, mixedRemote} {
		if !strings.HasPrefix(ip, "10.97.") {
			t.Fatalf("remote ClusterIP %s not from 10.97/16", ip)
		}
	}

	// Two stanzas for cluster.local form the set; other.local, the remote
	// cluster again without clusterset, is the default to keep.
	s := startBinary(t, corednsBinary(t), map[string]string{"Corefile": fmt.Sprintf(`.:{port} {
    bind 127.0.0.1
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    metadata
    log . "GLOBAL {name} {type} stanza={/kubernetai/stanza} cluster={/kubernetai/cluster}"
    transfer cluster.local {
        to *
    }
    kubernetai cluster.local {
        cluster local
        kubeconfig %[1]s %[2]s
        clusterset
    }
    kubernetai cluster.local {
        cluster remote
        kubeconfig %[1]s %[3]s
        clusterset
    }
    kubernetai other.local {
        cluster other
        kubeconfig %[1]s %[3]s
    }
}`, kubeconfig, local.Name, remote.Name)})
	s.waitReady(t)

	const zone = "cluster.local."
	// The stanzas are synced (ready): what they hold answers at once; a
	// short grace, not liveWait, before an answer counts as wrong.
	const answerWait = 2 * time.Second
	set := func(labels string) string { return labels + "." + ns + ".svc." + zone }
	in := func(cluster, labels string) string { return labels + "." + ns + ".svc." + cluster + "." + zone }
	other := func(labels string) string { return labels + "." + ns + ".svc.other.local." }
	// endpointA is the A records of a headless service at owner.
	endpointA := func(owner string, ips ...string) []string {
		var out []string
		for _, ip := range ips {
			out = append(out, aKey(owner, ip))
		}
		return out
	}
	// srvAt is the SRV records at owner of a headless service whose
	// endpoints are named under service (port 80), one per endpoint.
	srvAt := func(owner, service string, weight int, ips ...string) []string {
		var out []string
		for _, ip := range ips {
			out = append(out, srvKey(owner, weight, 80, dashed(ip)+"."+service))
		}
		return out
	}
	endpointSRV := func(service string, ips ...string) []string {
		return srvAt("_http._tcp."+service, service, setWeight, ips...)
	}
	// The merged SRV records of db at owner: each cluster's endpoints,
	// each target that cluster's own copy of the endpoint.
	mergedSRV := func(owner string, local, remote []string) []string {
		return append(srvAt(owner, in("local", "db"), setWeight, local...), srvAt(owner, in("remote", "db"), setWeight, remote...)...)
	}
	// The additional section of an SRV answer: each target's address.
	targetsA := func(owner string, ips ...string) []string {
		var out []string
		for _, ip := range ips {
			out = append(out, aKey(dashed(ip)+"."+owner, ip))
		}
		return out
	}
	nodata := []string{}

	dbAll := []string{"10.1.0.1", "10.1.0.2", "10.2.0.1"}
	dbLocal, dbRemote := []string{"10.1.0.1", "10.1.0.2"}, []string{"10.2.0.1", "10.1.0.2"}
	// The additional records of a merged db SRV answer: each target's
	// address, under its cluster's copy.
	mergedTargets := func(local, remote []string) []string {
		return append(targetsA(in("local", "db"), local...), targetsA(in("remote", "db"), remote...)...)
	}
	cases := []globalCase{
		// "each": the union, 10.1.0.2 once.
		{"db: union of both clusters' endpoints", set("db"), dns.TypeA, dns.RcodeSuccess, endpointA(set("db"), dbAll...), nil},
		// SRV: every cluster's endpoints, targets under each cluster's
		// own copy (the same endpoint name may be another pod there).
		{"db: SRV of both clusters", "_http._tcp." + set("db"), dns.TypeSRV, dns.RcodeSuccess,
			mergedSRV("_http._tcp."+set("db"), dbLocal, dbRemote), mergedTargets(dbLocal, dbRemote)},
		{"db: SRV at the service name, one per endpoint and port", set("db"), dns.TypeSRV, dns.RcodeSuccess,
			mergedSRV(set("db"), dbLocal, dbRemote), mergedTargets(dbLocal, dbRemote)},
		{"db: an endpoint name of the remote cluster", dashed("10.2.0.1") + "." + set("db"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(dashed("10.2.0.1")+"."+set("db"), "10.2.0.1")}, nil},
		{"db: the shared endpoint's name", dashed("10.1.0.2") + "." + set("db"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(dashed("10.1.0.2")+"."+set("db"), "10.1.0.2")}, nil},
		// "first": local's copy is ready.
		{"web: local's ClusterIP", set("web"), dns.TypeA, dns.RcodeSuccess, []string{aKey(set("web"), webLocal)}, nil},
		{"web: SRV at the service name, local's ports", set("web"), dns.TypeSRV, dns.RcodeSuccess,
			[]string{srvKey(set("web"), 100, 80, set("web"))}, []string{aKey(set("web"), webLocal)}},
		{"web: local's http port", "_http._tcp." + set("web"), dns.TypeSRV, dns.RcodeSuccess,
			[]string{srvKey("_http._tcp."+set("web"), 100, 80, set("web"))}, nil},
		// Only remote has the grpc port name: the first member that has
		// the name decides, and remote's copy is ready, so it answers.
		// Its target is remote's own copy, not the set name: that name's
		// A is local's ClusterIP, which has no grpc port. (The spec does
		// not say which; this is the core's choice.)
		{"web: remote's grpc port, a name only remote has", "_grpc._tcp." + set("web"), dns.TypeSRV, dns.RcodeSuccess,
			[]string{srvKey("_grpc._tcp."+set("web"), 100, 9090, in("remote", "web"))},
			[]string{aKey(in("remote", "web"), webRemote)}},
		{"api: local's copy has no ready endpoint, remote's answers", set("api"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(set("api"), apiRemote)}, nil},
		{"only-remote: the only member with it", set("only-remote"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(set("only-remote"), onlyRemote)}, nil},
		{"mixed: headless in the first member, so only headless copies count", set("mixed"), dns.TypeA, dns.RcodeSuccess,
			endpointA(set("mixed"), "10.1.5.1"), nil},
		{"partial: local's endpoint is not ready", set("partial"), dns.TypeA, dns.RcodeSuccess,
			endpointA(set("partial"), "10.2.6.1"), nil},
		{"a name in neither cluster", set("nope"), dns.TypeA, dns.RcodeNameError, nodata, nil},
		{"NODATA: web exists, no AAAA", set("web"), dns.TypeAAAA, dns.RcodeSuccess, nodata, nil},
		{"NODATA: db exists, no AAAA", set("db"), dns.TypeAAAA, dns.RcodeSuccess, nodata, nil},

		// Per-cluster names: that cluster alone, names under its label.
		{"web in remote", in("remote", "web"), dns.TypeA, dns.RcodeSuccess, []string{aKey(in("remote", "web"), webRemote)}, nil},
		{"web in local", in("local", "web"), dns.TypeA, dns.RcodeSuccess, []string{aKey(in("local", "web"), webLocal)}, nil},
		{"remote's grpc port under remote's name", "_grpc._tcp." + in("remote", "web"), dns.TypeSRV, dns.RcodeSuccess,
			[]string{srvKey("_grpc._tcp."+in("remote", "web"), 100, 9090, in("remote", "web"))}, nil},
		{"local has no grpc port", "_grpc._tcp." + in("local", "web"), dns.TypeSRV, dns.RcodeNameError, nodata, nil},
		{"db in local", in("local", "db"), dns.TypeA, dns.RcodeSuccess, endpointA(in("local", "db"), "10.1.0.1", "10.1.0.2"), nil},
		{"db in remote", in("remote", "db"), dns.TypeA, dns.RcodeSuccess, endpointA(in("remote", "db"), "10.2.0.1", "10.1.0.2"), nil},
		{"db's SRV in remote, targets under remote's name", "_http._tcp." + in("remote", "db"), dns.TypeSRV, dns.RcodeSuccess,
			endpointSRV(in("remote", "db"), "10.2.0.1", "10.1.0.2"), targetsA(in("remote", "db"), "10.2.0.1", "10.1.0.2")},
		{"an endpoint name in remote", dashed("10.2.0.1") + "." + in("remote", "db"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(dashed("10.2.0.1")+"."+in("remote", "db"), "10.2.0.1")}, nil},
		{"api in local: its own answer, ready or not", in("local", "api"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(in("local", "api"), apiLocal)}, nil},
		{"mixed in remote: its ClusterIP", in("remote", "mixed"), dns.TypeA, dns.RcodeSuccess,
			[]string{aKey(in("remote", "mixed"), mixedRemote)}, nil},
		{"only-remote is not local's", in("local", "only-remote"), dns.TypeA, dns.RcodeNameError, nodata, nil},
		{"the namespace under a cluster exists", ns + ".svc.remote." + zone, dns.TypeA, dns.RcodeSuccess, nodata, nil},
		{"svc under a cluster exists", "svc.local." + zone, dns.TypeA, dns.RcodeSuccess, nodata, nil},
		{"a cluster's name exists", "remote." + zone, dns.TypeA, dns.RcodeSuccess, nodata, nil},
		{"a cluster not in the set", in("elsewhere", "web"), dns.TypeA, dns.RcodeNameError, nodata, nil},
	}
	// Every record a query returned, for the transfer check below.
	queried := map[string]bool{}
	for _, c := range cases {
		for _, k := range expectGlobal(t, s, zone, answerWait, c) {
			queried[k] = true
		}
	}

	// The merged db answer lists local's records first (Corefile order),
	// the shared address at local's place.
	for _, network := range []string{"udp", "tcp"} {
		got := askKeys(t, s.addr, network, set("db"), dns.TypeA).answer
		if i := slices.Index(got, aKey(set("db"), "10.2.0.1")); i != len(got)-1 {
			t.Errorf("db A over %s: %q, want remote's 10.2.0.1 after local's records", network, got)
		}
	}

	// The default is unchanged: other.local, the remote cluster in a
	// stanza without clusterset, answers as the kubernetes plugin does,
	// with no per-cluster names (nothing lies between svc and the zone).
	for _, c := range []globalCase{
		{"other.local: web", other("web"), dns.TypeA, dns.RcodeSuccess, []string{aKey(other("web"), webRemote)}, nil},
		{"other.local: db, remote's alone", other("db"), dns.TypeA, dns.RcodeSuccess, endpointA(other("db"), "10.2.0.1", "10.1.0.2"), nil},
		{"other.local: db's SRV, the plugin's weights", "_http._tcp." + other("db"), dns.TypeSRV, dns.RcodeSuccess,
			srvAt("_http._tcp."+other("db"), other("db"), pluginWeight(2), "10.2.0.1", "10.1.0.2"), nil},
		{"other.local: only-remote", other("only-remote"), dns.TypeA, dns.RcodeSuccess, []string{aKey(other("only-remote"), onlyRemote)}, nil},
		{"other.local: no per-cluster names", "web." + ns + ".svc.remote.other.local.", dns.TypeA, dns.RcodeNameError, nodata, nil},
	} {
		expectGlobal(t, s, "other.local.", answerWait, c)
	}

	// Metrics: a merged headless answer counts once for each cluster
	// that contributed; a "first" answer only for the chosen one. (These
	// and the metadata fail without stopping the test: the transfer
	// checks below are independent of them.)
	label := serverLabel(s.server)
	requests := func(stanza string) string {
		return `coredns_kubernetai_requests_total{outcome="answered",` + label + `,stanza="` + stanza + `"}`
	}
	counts := func() (float64, float64) {
		exposition := s.scrape(t)
		l, _ := metric(exposition, requests("local"))
		r, _ := metric(exposition, requests("remote"))
		return l, r
	}
	for _, c := range []struct {
		name          string
		local, remote float64
	}{
		{set("db"), 3, 3},  // both clusters' endpoints
		{set("web"), 3, 0}, // local's ClusterIP
		{set("api"), 0, 3}, // remote's ClusterIP
	} {
		l0, r0 := counts()
		for range 3 {
			askKeys(t, s.addr, "udp", c.name, dns.TypeA)
		}
		var l, r float64
		if !holdsWithin(5*time.Second, func() bool { l, r = counts(); return l == l0+c.local && r == r0+c.remote }) {
			t.Errorf("3 queries of %s A: requests_total{answered} grew by %v for stanza local and %v for remote, want %v and %v",
				c.name, l-l0, r-r0, c.local, c.remote)
		}
	}
	// Metadata, as the log plugin prints it: the contributing clusters in
	// member order, and the first contributing stanza's position.
	for _, line := range []string{
		"GLOBAL " + set("db") + " A stanza=1 cluster=local,remote",
		"GLOBAL " + set("web") + " A stanza=1 cluster=local",
		"GLOBAL " + set("api") + " A stanza=2 cluster=remote",
	} {
		if !holdsWithin(5*time.Second, func() bool { return strings.Contains(s.out.String(), line) }) {
			re := regexp.MustCompile(`GLOBAL ` + regexp.QuoteMeta(strings.Fields(line)[1]) + ` A [^\n]*`)
			t.Errorf("no log line %q; logged: %q", line, re.FindAllString(s.out.String(), 3))
		}
	}

	// The transfer holds every record the queries returned (set names and
	// per-cluster names), and answers agree with every record it holds.
	// (The answers above came from synced stanzas: one transfer says it.)
	transfer, serial := transferKeys(t, s.addr, zone)
	for k := range queried {
		if !slices.Contains(transfer, k) {
			t.Errorf("a query returned %q, the transfer lacks it", k)
		}
	}
	checkTransferOrder(t, transfer, zone, []string{"local", "remote"})
	checkTransferAnswers(t, s, transfer)

	// Changes in either cluster reach the merged answers and the
	// transfer.
	// 1. remote's db gains an endpoint: one more record.
	// Serials are seconds (as in TestNotifyReachesASecondary): the change
	// comes a second after the last one, so the serial must grow.
	time.Sleep(1100 * time.Millisecond)
	updateSlice(t, remote, ns, "db-1", func(es *discoveryv1.EndpointSlice) {
		es.Endpoints = append(es.Endpoints, kube.ReadyEndpoint("10.2.0.9"))
	})
	dbAll = append(dbAll, "10.2.0.9")
	dbRemote = append(dbRemote, "10.2.0.9")
	expectGlobal(t, s, zone, liveWait, globalCase{"db gained remote's 10.2.0.9", set("db"), dns.TypeA, dns.RcodeSuccess, endpointA(set("db"), dbAll...), nil})
	expectGlobal(t, s, zone, liveWait, globalCase{"db's SRV with remote's new endpoint", "_http._tcp." + set("db"), dns.TypeSRV, dns.RcodeSuccess,
		mergedSRV("_http._tcp."+set("db"), dbLocal, dbRemote), mergedTargets(dbLocal, dbRemote)})
	waitTransfer(t, s, zone, "10.2.0.9 under db", func(have map[string]bool) bool {
		return have[aKey(set("db"), "10.2.0.9")] && have[aKey(in("remote", "db"), "10.2.0.9")] &&
			have[srvKey("_http._tcp."+set("db"), setWeight, 80, dashed("10.2.0.9")+"."+in("remote", "db"))]
	})
	// The set's serial is the largest of its members': remote's change
	// (seconds after the first transfer) raised it.
	if _, after := transferKeys(t, s.addr, zone); after <= serial {
		t.Errorf("SOA serial %d after a change in remote, %d before", after, serial)
	}
	// 2. local's web is deleted: remote's copy answers.
	deleteService(t, local, ns, "web")
	expectGlobal(t, s, zone, liveWait, globalCase{"web without local's copy", set("web"), dns.TypeA, dns.RcodeSuccess, []string{aKey(set("web"), webRemote)}, nil})
	expectGlobal(t, s, zone, liveWait, globalCase{"web gone from local", in("local", "web"), dns.TypeA, dns.RcodeNameError, nodata, nil})
	waitTransfer(t, s, zone, "web is remote's", func(have map[string]bool) bool {
		return have[aKey(set("web"), webRemote)] && !have[aKey(set("web"), webLocal)] && !have[aKey(in("local", "web"), webLocal)]
	})
	// 3. the remote-only service is deleted: in neither cluster now.
	deleteService(t, remote, ns, "only-remote")
	expectGlobal(t, s, zone, liveWait, globalCase{"only-remote deleted", set("only-remote"), dns.TypeA, dns.RcodeNameError, nodata, nil})
	transfer = waitTransfer(t, s, zone, "only-remote gone", func(have map[string]bool) bool {
		for k := range have {
			if strings.Contains(k, "only-remote.") {
				return false
			}
		}
		return true
	})
	checkTransferOrder(t, transfer, zone, []string{"local", "remote"})
	checkTransferAnswers(t, s, transfer)
	s.checkAlive(t)
}
