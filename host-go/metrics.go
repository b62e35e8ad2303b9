package kubernetai

import (
	"net"
	"sync"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics, served by CoreDNS's prometheus plugin. Every series carries
// `server`, the server that serves its block spelled as query-time metrics
// spell it (see serverLabels), as CoreDNS's plugins label theirs: what a
// block's plugin does (a swap of its module, a transfer, a NOTIFY) is
// counted for each server of the block, what a query does for the server
// that took it. A stanza is labelled by its `cluster` name, else by its
// position among the server block's kubernetai stanzas (1, 2, ...), so
// that series of one stanza join on server and stanza.
var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "requests_total",
		Help: "Queries by stanza and outcome: answered (by the stanza), fallthrough (passed on by the stanza), " +
			"not_authoritative (in no stanza's zones), refused (zone transfers asked through the query path), " +
			"malformed (not readable as one question, answered FORMERR), failed (answered SERVFAIL: by the stanza, not " +
			"synced or holding objects back, or without a stanza when the core failed).",
	}, []string{"server", "stanza", "outcome"})

	upstreamLookups = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "upstream_lookups_total",
		Help:      "ExternalName targets outside the stanzas resolved through CoreDNS.",
	}, []string{"server"})

	notifies = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "notifies_total",
		Help:      "NOTIFY rounds sent to the transfer plugin's secondaries, by zone.",
	}, []string{"server", "zone"})

	programming = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "dns_programming_duration_seconds",
		Help:      "From an EndpointSlice change in the cluster to its answers being served.",
		Buckets:   prometheus.ExponentialBuckets(0.001, 2, 20),
	}, []string{"server", "stanza"})

	guestFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "guest_failures_total",
		Help:      "Calls into the DNS core that trapped or were cut off, by function; the instance is replaced each time.",
	}, []string{"server", "function"})

	transferFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "transfer_failures_total",
		Help: "Zone transfers the core could not complete (it failed or was cut off, refused a cursor, or wrote an " +
			"unreadable page); one that had begun ends with the records sent so far.",
	}, []string{"server"})

	objectsApplied = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "objects_applied_total",
		Help:      "Kubernetes object changes applied to the DNS core.",
	}, []string{"server", "stanza"})

	objectsSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "objects_skipped_total",
		Help:      "Kubernetes object changes skipped as malformed or unusable (each is logged).",
	}, []string{"server", "stanza"})

	objectsRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "objects_refused_total",
		Help: "Kubernetes object changes refused because the DNS core's memory (wasm_memory) would not hold them " +
			"with room to spare (each refusal is logged); a later change of the object tries it again.",
	}, []string{"server", "stanza"})

	objectsHeld = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "objects_held_back",
		Help: "Objects of the stanza refused for lack of memory and not applied since; while there are any, " +
			"names the stanza does not know answer SERVFAIL.",
	}, []string{"server", "stanza"})

	swaps = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "swaps_total",
		Help:      "Modules swapped in while serving, after the `wasm` file changed.",
	}, []string{"server"})

	swapsRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "swaps_refused_total",
		Help: "Changed `wasm` files refused (the module serving before goes on serving), by reason: read, not_wasm, " +
			"not_component, malformed, contract, invalid, instantiate, configure, plans, replay, self_check, closed.",
	}, []string{"server", "reason"})

	swapDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "swap_duration_seconds",
		Help:      "From reading a changed `wasm` file to the previous module's instances closed, for swaps that succeeded.",
		Buckets:   prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"server"})

	wasmCacheLookups = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "wasm_cache_lookups_total",
		Help: "Compiles of the module that serves (at start and at each swap) through `wasm_cache`, by result: " +
			"hit (its machine code read from the cache), miss (compiled and written to the cache), invalid (the " +
			"cache could not be used, each logged: compiled without it).",
	}, []string{"server", "result"})

	moduleInfo = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "module_info",
		Help:      "1 for each module serving: the SHA-256 of its component file and the WIT interface it implements.",
	}, []string{"server", "digest", "wit"})

	restRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "rest_client_requests_total",
		Help: "Requests of the stanza's feed to its API server, by HTTP method and status code (error: no response); " +
			"client-go's own coredns_kubernetes_rest_client_* count them too, mixed with every other client.",
	}, []string{"server", "stanza", "method", "code"})

	restDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "rest_client_request_duration_seconds",
		Help:      "From sending a request of the stanza's feed to its API server to the response's headers (or failure).",
		Buckets:   prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"server", "stanza", "method"})

	stanzaSynced = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "synced",
		Help:      "0 while the stanza's source delivers its initial state, 1 once it has; gone when the stanza stops.",
	}, []string{"server", "stanza"})

	shadowQueries = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "shadow_queries_total",
		Help:      "Queries asked of the `wasm_shadow` module after the module serving answered them, and compared.",
	}, []string{"server"})

	shadowDivergences = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "shadow_divergences_total",
		Help: "Shadow answers that differ from the serving module's, by the first difference: failure, outcome, " +
			"unreadable, rcode, flags, answer, authority, additional.",
	}, []string{"server", "kind"})

	shadowSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "shadow_skipped_total",
		Help: "Queries in the shadow's share not asked of it, by reason: rate (past max_rate), busy (the shadow " +
			"was behind).",
	}, []string{"server", "reason"})

	shadowPromotions = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "shadow_promotions_total",
		Help:      "Shadow modules swapped in by themselves after promote_after queries without a divergence.",
	}, []string{"server"})

	shadowBlocked = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "shadow_promotion_blocked",
		Help:      "1 when a divergence stopped the shadow's automatic promotion (promote_after), else 0.",
	}, []string{"server"})

	readinessHeld = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "readiness_held",
		Help: "1 while the stanza, not synced, holds the server's readiness (/ready 503) as its `readiness` policy " +
			"says; 0 otherwise; gone when the stanza stops.",
	}, []string{"server", "stanza"})
)

// serverLabels returns the `server` label of the servers serving a server
// block, as metrics.WithServer gives it at query time: the address each
// server listens on (dnsserver.Server.Addr), transport://host:port, for
// every key of the block (keys may differ in transport and port) and every
// address `bind` gave it. Call it from OnStartup: the servers are made,
// and `bind` has run, whatever its place among the plugins.
func serverLabels(c *caddy.Controller) []string {
	var labels []string
	seen := map[string]bool{}
	for i := range c.ServerBlockKeys {
		key := *c
		key.ServerBlockKeyIndex = i
		conf := dnsserver.GetConfig(&key)
		for _, host := range conf.ListenHosts {
			label := serverLabel(conf.Transport, host, conf.Port)
			if !seen[label] {
				seen[label] = true
				labels = append(labels, label)
			}
		}
	}
	return labels
}

// serverLabel spells a listen address as CoreDNS names the server that
// listens there: through net.ResolveTCPAddr, which writes "" as ":53" and
// brackets IPv6 addresses.
func serverLabel(transport, host, port string) string {
	addr := net.JoinHostPort(host, port)
	if a, err := net.ResolveTCPAddr("tcp", addr); err == nil {
		addr = a.String()
	}
	return transport + "://" + addr
}

// syncedOwners names the stanza whose state each `synced` and
// `readiness_held` series shows.
// On a reload the new instance's stanza takes the series over while the
// stanza it replaces still runs (caddy starts the new instance before it
// shuts the old one down), so the old one, stopping, must leave alone a
// series it no longer owns instead of deleting it.
var syncedOwners = struct {
	sync.Mutex
	m map[[2]string]*stanza
}{m: map[[2]string]*stanza{}}

// claimSynced makes s the owner of its `synced` and `readiness_held`
// series and shows its state there: 0 until its source has synced.
func (s *stanza) claimSynced() {
	syncedOwners.Lock()
	defer syncedOwners.Unlock()
	for _, server := range s.servers {
		syncedOwners.m[[2]string{server, s.label}] = s
		s.showState(server)
	}
}

// showSynced updates the series s owns; a stanza replaced by a
// reload that syncs late does not overwrite its successor's.
func (s *stanza) showSynced() {
	syncedOwners.Lock()
	defer syncedOwners.Unlock()
	for _, server := range s.servers {
		if syncedOwners.m[[2]string{server, s.label}] == s {
			s.showState(server)
		}
	}
}

// showState sets s's series of one server (its owner holding the lock).
func (s *stanza) showState(server string) {
	stanzaSynced.WithLabelValues(server, s.label).Set(boolGauge(s.synced.Load()))
	readinessHeld.WithLabelValues(server, s.label).Set(boolGauge(s.holdsReady(time.Now())))
}

// releaseSynced removes the `synced` series s still owns: a stanza gone
// after a reload or at shutdown leaves no stale 1 behind.
func (s *stanza) releaseSynced() {
	syncedOwners.Lock()
	defer syncedOwners.Unlock()
	for _, server := range s.servers {
		key := [2]string{server, s.label}
		if syncedOwners.m[key] == s {
			delete(syncedOwners.m, key)
			stanzaSynced.DeleteLabelValues(server, s.label)
			readinessHeld.DeleteLabelValues(server, s.label)
		}
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
