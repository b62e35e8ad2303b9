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
		Help:      "Queries seen by kubernetai, by what became of them: answered, fallthrough (to the next plugin), refused, failed.",
	}, []string{"server", "outcome"})

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

	stanzaSynced = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "synced",
		Help:      "1 once the stanza's source has delivered its initial state.",
	}, []string{"stanza"})
)
