package kubernetai

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics, served by CoreDNS's prometheus plugin. A stanza is labelled by
// its position among the server block's kubernetai stanzas (1, 2, ...).
var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "requests_total",
		Help: "Queries by stanza and outcome: answered (by the stanza), fallthrough (passed on by the stanza), " +
			"not_authoritative (in no stanza's zones), refused (zone transfers asked through the query path), failed.",
	}, []string{"server", "stanza", "outcome"})

	upstreamLookups = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "upstream_lookups_total",
		Help:      "ExternalName targets outside the stanzas resolved through CoreDNS.",
	})

	notifies = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "notifies_total",
		Help:      "NOTIFY rounds sent to the transfer plugin's secondaries, by zone.",
	}, []string{"zone"})

	programming = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "dns_programming_duration_seconds",
		Help:      "From an EndpointSlice change in the cluster to its answers being served.",
		Buckets:   prometheus.ExponentialBuckets(0.001, 2, 20),
	}, []string{"stanza"})

	guestFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "guest_failures_total",
		Help:      "Calls into the DNS core that trapped or were cut off, by function; the instance is replaced each time.",
	}, []string{"function"})

	objectsApplied = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "objects_applied_total",
		Help:      "Kubernetes object changes applied to the DNS core.",
	}, []string{"stanza"})

	objectsSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "objects_skipped_total",
		Help:      "Kubernetes object changes skipped as malformed or unusable (each is logged).",
	}, []string{"stanza"})

	swaps = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "swaps_total",
		Help:      "Modules swapped in while serving, after the `wasm` file changed.",
	})

	swapsRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "swaps_refused_total",
		Help: "Changed `wasm` files refused (the module serving before goes on serving), by reason: read, not_wasm, " +
			"not_component, malformed, contract, invalid, instantiate, configure, plans, replay, self_check, closed.",
	}, []string{"reason"})

	swapDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "swap_duration_seconds",
		Help:      "From reading a changed `wasm` file to the previous module's instances closed, for swaps that succeeded.",
		Buckets:   prometheus.ExponentialBuckets(0.01, 2, 14),
	})

	moduleInfo = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "module_info",
		Help:      "1 for each module serving: the SHA-256 of its component file and the WIT interface it implements.",
	}, []string{"digest", "wit"})

	stanzaSynced = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "synced",
		Help:      "1 once the stanza's source has delivered its initial state.",
	}, []string{"stanza"})
)
