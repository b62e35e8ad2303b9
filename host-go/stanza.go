package kubernetai

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/coremain"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// stanza is one cluster: its source of objects, fed into the core.
type stanza struct {
	index  int
	plan   engine.StanzaPlan
	source feed.Source
	engine core
	synced atomic.Bool
	// Until it syncs, the stanza holds the server's readiness: however
	// long that takes, or with release only until releaseAt (UnixNano, its
	// source's start plus its startup_timeout; set by start). See
	// releasesByDefault and the `readiness` option.
	release   bool
	releaseAt atomic.Int64
	// held is how many objects the engine holds back for lack of memory,
	// as its last Apply said; memoryLimit is the limit they did not fit.
	held        atomic.Int64
	memoryLimit uint64
	// label is the stanza's metrics label: its `cluster` name, else its
	// position in the server block (from 1).
	label string
	named bool // label is a `cluster` name
	// servers are the `server` labels of its metrics (set by start).
	servers []string
	// notifier hears the serials Apply reports: of the zones this stanza
	// is the first to transfer and of its cluster sets' zones, as the core
	// decides (nil until the plugin is assembled).
	notifier *notifier
}

// snapshotPoll is how often snapshot files are checked for a new version.
const snapshotPoll = time.Second

// newStanza prepares the source the core's plan names. What cannot be
// read or reached is reported at the plan's source line, with the option
// at fault.
func newStanza(cf *corefile, i int, plan engine.StanzaPlan, eng core) (*stanza, error) {
	st := &stanza{index: i, plan: plan, engine: eng, label: strconv.Itoa(i + 1), release: releasesByDefault(plan.Source)}
	if p := cf.option(i, "cluster"); p != nil && len(p.Args) == 1 {
		// The core has refused a name that is not one label, is digits
		// alone (another stanza's position) or is given twice.
		st.label, st.named = p.Args[0], true
	}
	if p := cf.option(i, "readiness"); p != nil && len(p.Args) == 1 {
		// The core has refused any other value.
		st.release = p.Args[0] == "release"
	}
	if err := checkWatches(plan.Watches); err != nil {
		return nil, cf.errorAt(i, plan.SourceLine, "", err.Error())
	}
	logf := func(print func(string, ...any)) func(string, ...any) {
		return func(format string, args ...any) { print("%v: "+format, append([]any{st}, args...)...) }
	}
	switch plan.Source.Kind {
	case engine.SourceSnapshot:
		snap, err := feed.LoadSnapshot(cf.path(plan.Source.Snapshot), plan.Watches)
		if err != nil {
			return nil, cf.errorAt(i, plan.SourceLine, "snapshot", err.Error())
		}
		snap.Poll, snap.Logf, snap.Warnf = snapshotPoll, logf(log.Infof), logf(log.Warningf)
		st.source = snap
	default:
		conn := plan.Source.APIServer
		if len(conn.IgnoredEndpoints) > 0 {
			// As the kubernetes plugin: several URLs are taken, the first used.
			log.Warningf("%s:%d: stanza %d: endpoint: only the first URL, %s, is used; ignoring %s",
				cf.file, plan.SourceLine, i+1, conn.Endpoint, strings.Join(conn.IgnoredEndpoints, " "))
		}
		fc := cf.connection(conn)
		fc.Observe = st.observeRequest
		live, err := feed.NewLive(fc, plan.Watches, logf(log.Warningf))
		if err != nil {
			option := ""
			if oe := (*feed.OptionError)(nil); errors.As(err, &oe) {
				option = oe.Option
			}
			return nil, cf.errorAt(i, plan.SourceLine, option, err.Error())
		}
		st.source = live
	}
	return st, nil
}

// releasesByDefault is the readiness policy of a stanza without
// `readiness`. A stanza reached through explicit credentials
// (`kubeconfig`, `endpoint`) is usually another cluster, whose outage must
// not take the local cluster's DNS out of its Service: it holds readiness
// only for its startup_timeout. The in-cluster API server is the cluster
// the pod serves, and a snapshot is a local file that syncs at once: both
// hold it until synced, as the kubernetes plugin holds it.
func releasesByDefault(src engine.Source) bool {
	if src.Kind != engine.SourceAPIServer {
		return false
	}
	return src.APIServer.Kubeconfig != "" || src.APIServer.Endpoint != ""
}

// holdsReady says whether the stanza keeps the server from being ready at
// now: it has not synced, and its policy still holds.
func (s *stanza) holdsReady(now time.Time) bool {
	if s.synced.Load() {
		return false
	}
	return !s.release || now.UnixNano() < s.releaseAt.Load()
}

// policy names the stanza's readiness, for logs.
func (s *stanza) policy() string {
	if !s.release {
		return "readiness hold: until it syncs"
	}
	return fmt.Sprintf("readiness release: for its startup_timeout %v", time.Duration(s.plan.StartupTimeoutNs))
}

// letGo runs at releaseAt for a stanza whose policy lets go of
// readiness then: if it has still not synced, it says so (unless warned,
// said for its feed before a reload) and shows it no longer holds.
func (s *stanza) letGo(warned bool) {
	if s.synced.Load() {
		return
	}
	if !warned {
		log.Warningf("%v: %s has not synced within its startup_timeout %v: it no longer holds readiness "+
			"(readiness release); its names answer SERVFAIL until it syncs", s, s.source,
			time.Duration(s.plan.StartupTimeoutNs))
	}
	s.showSynced()
}

// checkWatches refuses a plan with two watches of one kind: each would
// deliver every object.
func checkWatches(watches []engine.Watch) error {
	seen := map[engine.Kind]bool{}
	for _, w := range watches {
		if seen[w.Kind] {
			return fmt.Errorf("the core plans two watches of kind %s", w.Kind)
		}
		seen[w.Kind] = true
	}
	return nil
}

// connection is how a stanza reaches its API server, with the paths
// resolved.
func (cf *corefile) connection(c engine.Connection) *feed.Connection {
	tls := make([]string, len(c.TLS))
	for i, p := range c.TLS {
		tls[i] = cf.path(p)
	}
	return &feed.Connection{
		Endpoint:    c.Endpoint,
		TLS:         tls,
		Kubeconfig:  cf.path(c.Kubeconfig),
		Context:     c.Context,
		QPS:         float32(c.QPS),
		Burst:       int(c.Burst),
		MaxInflight: int(c.MaxInflight),
		UserAgent:   fmt.Sprintf("%s/%s kubernetai (%s/%s)", coremain.CoreName, coremain.CoreVersion, runtime.GOOS, runtime.GOARCH),
	}
}

// Apply implements feed.Sink: the changes go to every instance of the
// core, problems are logged and counted.
func (s *stanza) Apply(batch []feed.Change) {
	if len(batch) == 0 {
		return
	}
	events := make([]engine.KeyedEvent, len(batch))
	for i := range batch {
		c := &batch[i]
		change := engine.ChangeUpsert
		if c.Deleted {
			change = engine.ChangeDelete
		}
		events[i] = engine.KeyedEvent{Event: engine.Event{Change: change, Kind: c.Object.Kind, Object: c.Object.JSON}, Key: c.Object.Key()}
	}
	report, err := s.engine.Apply(s.index, events)
	if errors.Is(err, engine.ErrClosed) {
		return // stopping
	}
	if err != nil {
		countGuestFailure(s.servers, "apply", err)
		log.Errorf("%v: applying %d changes: %v", s, len(events), err)
		return
	}
	for _, server := range s.servers {
		objectsApplied.WithLabelValues(server, s.label).Add(float64(report.Applied))
		objectsSkipped.WithLabelValues(server, s.label).Add(float64(report.Skipped))
		objectsRefused.WithLabelValues(server, s.label).Add(float64(report.Refused))
		objectsHeld.WithLabelValues(server, s.label).Set(float64(report.Held))
	}
	for _, p := range report.Problems {
		log.Warningf("%v: %s", s, p)
	}
	s.logRefusal(len(events), report)
	s.observeProgramming(batch)
	if s.notifier != nil {
		for _, z := range report.Serials {
			s.notifier.serial(z.Zone, z.Serial)
		}
	}
}

// logRefusal says what Apply refused for lack of memory, and when the
// stanza holds everything again.
func (s *stanza) logRefusal(changes int, r engine.ApplyResult) {
	if r.Refused > 0 {
		log.Errorf("%v: %d of %d changes refused (%s...): with them the DNS core would not keep 1/8 of "+
			"wasm_memory (%s) free; about %s would hold them. Until they fit, names the stanza does not know "+
			"answer SERVFAIL (%d objects held back)", s, r.Refused, changes, strings.Join(r.RefusedObjects, ", "),
			mebibytes(s.memoryLimit), mebibytes(r.Wanted), r.Held)
	}
	if was := s.held.Swap(int64(r.Held)); was > 0 && r.Held == 0 {
		log.Infof("%v: every object held back for lack of memory is applied", s)
	}
}

// mebibytes spells a size in bytes as wasm_memory takes it.
func mebibytes(n uint64) string { return fmt.Sprintf("%dMi", (n+1<<20-1)>>20) }

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

// Skipped implements feed.Sink: items the source could not read are
// logged and counted with the objects the core skips, for every version
// of the source that has them.
func (s *stanza) Skipped(problems []string) {
	for _, p := range problems {
		log.Warningf("%v: %s: %s: skipped", s, s.source, p)
	}
	for _, server := range s.servers {
		objectsSkipped.WithLabelValues(server, s.label).Add(float64(len(problems)))
	}
}

// Synced implements feed.Sink.
func (s *stanza) Synced() {
	s.engine.SetSynced(s.index, true)
	s.synced.Store(true)
	s.showSynced()
	log.Infof("%v: %s synced", s, s.source)
}

// String names the stanza in logs: its position, and its cluster name
// when it has one.
func (s *stanza) String() string {
	if s.named {
		return fmt.Sprintf("stanza %d (cluster %s)", s.index+1, s.label)
	}
	return fmt.Sprintf("stanza %d", s.index+1)
}

// observeRequest counts a request of the stanza's feed to its API server
// for each server of its block (start sets them before the feed runs). A
// feed another stanza attaches to (a reload, another block with the same
// source) goes on counting under the stanza that started it.
func (s *stanza) observeRequest(method string, code int, took time.Duration) {
	status := "error"
	if code != 0 {
		status = strconv.Itoa(code)
	}
	for _, server := range s.servers {
		restRequests.WithLabelValues(server, s.label, method, status).Inc()
		restDuration.WithLabelValues(server, s.label, method).Observe(took.Seconds())
	}
}
