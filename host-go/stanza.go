package kubernetai

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/coremain"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// stanza is one cluster: its source of objects, fed into the core.
type stanza struct {
	index  int
	cfg    *stanzaConfig
	plan   engine.StanzaPlan
	source feed.Source
	engine core
	synced atomic.Bool
	label  string // metrics label: the stanza's position in the Corefile
	// servers are the `server` labels of its metrics (set by start).
	servers []string
	// notifier hears the serials of the zones this stanza is the first to
	// transfer (nil until the plugin is assembled).
	notifier *notifier
	owns     map[string]bool
}

// snapshotPoll is how often snapshot files are checked for a new version.
const snapshotPoll = time.Second

// labelServiceName names the service an EndpointSlice belongs to.
const labelServiceName = "kubernetes.io/service-name"

// feedKinds maps the core's kinds to the API kinds a source lists.
var feedKinds = map[engine.Kind]string{
	engine.KindNamespace:                 feed.KindNamespace,
	engine.KindService:                   feed.KindService,
	engine.KindEndpointSlice:             feed.KindEndpointSlice,
	engine.KindPod:                       feed.KindPod,
	engine.KindServiceImport:             feed.KindServiceImport,
	engine.KindMulticlusterEndpointSlice: feed.KindEndpointSlice,
}

func newStanza(cfg *serverConfig, s *stanzaConfig, plan engine.StanzaPlan, eng core) (*stanza, error) {
	st := &stanza{index: s.index, cfg: s, plan: plan, engine: eng, label: strconv.Itoa(s.index + 1)}
	filter := &feed.Filter{Labels: s.labels, NamespaceLabels: s.namespaceLabels}
	for _, k := range plan.Kinds {
		if k == engine.KindMulticlusterEndpointSlice {
			filter.Multicluster = true
			continue
		}
		filter.Kinds = append(filter.Kinds, feedKinds[k])
	}
	switch {
	case s.snapshot != "" && s.liveLine != 0:
		return nil, configError(cfg.file, s.liveLine, s.index, "snapshot",
			"a stanza reads either a snapshot or an API server, not both")
	case s.snapshot != "":
		snap, err := feed.LoadSnapshot(s.snapshot, filter)
		if err != nil {
			return nil, configError(cfg.file, s.snapshotLine, s.index, "snapshot", err.Error())
		}
		for _, skipped := range snap.Skipped {
			log.Warningf("stanza %d: %s: %s skipped", s.index+1, snap, skipped)
		}
		snap.Poll = snapshotPoll
		snap.Logf = func(format string, args ...any) {
			log.Infof("stanza %d: "+format, append([]any{s.index + 1}, args...)...)
		}
		st.source = snap
	default:
		live, err := feed.NewLive(s.connection(), filter, func(format string, args ...any) {
			log.Warningf("stanza %d: "+format, append([]any{s.index + 1}, args...)...)
		})
		if err != nil {
			line := s.liveLine
			if line == 0 {
				line = s.line
			}
			return nil, configError(cfg.file, line, s.index, "", err.Error())
		}
		st.source = live
	}
	return st, nil
}

// connection is how the stanza reaches its API server.
func (s *stanzaConfig) connection() *feed.Connection {
	return &feed.Connection{
		Endpoint:    s.endpoint,
		TLS:         s.tls,
		Kubeconfig:  s.kubeconfig,
		Context:     s.kubecontext,
		QPS:         s.qps,
		Burst:       s.burst,
		MaxInflight: s.maxInflight,
		UserAgent:   fmt.Sprintf("%s/%s kubernetai (%s/%s)", coremain.CoreName, coremain.CoreVersion, runtime.GOOS, runtime.GOARCH),
	}
}

// Apply implements feed.Sink: the changes go to every instance of the
// core, problems are logged and counted.
func (s *stanza) Apply(batch []feed.Change) {
	events := make([]engine.Event, 0, len(batch))
	for i := range batch {
		events = s.appendEvents(events, &batch[i])
	}
	if len(events) == 0 {
		return
	}
	report, err := s.engine.Apply(s.index, events)
	if err != nil {
		countGuestFailure("apply", err)
		log.Errorf("stanza %d: applying %d changes: %v", s.index+1, len(events), err)
		return
	}
	for _, server := range s.servers {
		objectsApplied.WithLabelValues(server, s.label).Add(float64(report.Applied))
		objectsSkipped.WithLabelValues(server, s.label).Add(float64(report.Skipped))
	}
	for _, p := range report.Problems {
		log.Warningf("stanza %d: %s", s.index+1, p)
	}
	s.observeProgramming(batch)
	if s.notifier != nil {
		for _, z := range report.Serials {
			if s.owns[z.Zone] {
				s.notifier.serial(z.Zone, z.Serial)
			}
		}
	}
}

// observeProgramming records how long changes took to reach the answers,
// for the changes whose start the source knows.
func (s *stanza) observeProgramming(batch []feed.Change) {
	now := time.Now()
	for i := range batch {
		t := batch[i].Object.Changed
		if t.IsZero() || batch[i].Deleted {
			continue
		}
		for _, server := range s.servers {
			programming.WithLabelValues(server, s.label).Observe(now.Sub(t).Seconds())
		}
	}
}

// appendEvents turns a change into the core's events: an EndpointSlice of
// an imported service is also a multicluster slice.
func (s *stanza) appendEvents(events []engine.Event, c *feed.Change) []engine.Event {
	change := engine.ChangeUpsert
	if c.Deleted {
		change = engine.ChangeDelete
	}
	for _, kind := range s.plan.Kinds {
		if feedKinds[kind] != c.Object.Kind {
			continue
		}
		_, imported := c.Object.Labels[feed.LabelMulticlusterService]
		_, local := c.Object.Labels[labelServiceName]
		if kind == engine.KindMulticlusterEndpointSlice && !imported {
			continue
		}
		// A slice made only for an imported service is not a local one.
		if kind == engine.KindEndpointSlice && imported && !local {
			continue
		}
		events = append(events, engine.Event{Change: change, Kind: kind, Object: c.Object.JSON, Key: c.Object.Key()})
	}
	return events
}

// Synced implements feed.Sink.
func (s *stanza) Synced() {
	s.engine.SetSynced(s.index, true)
	s.synced.Store(true)
	s.showSynced()
	log.Infof("stanza %d: %s synced", s.index+1, s.source)
}

func (s *stanza) String() string {
	return fmt.Sprintf("stanza %d", s.index+1)
}
