package kubernetai

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/coredns/coredns/plugin"

	"github.com/kubernetai/kubernetai/host-go/internal/callers"
	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// core is what the plugin asks of the DNS core. *engine.Engine is the
// real one; tests give the plugin cores with chosen answers.
type core interface {
	Lookup(ctx context.Context, query []byte, replies []engine.UpstreamReply) (engine.Outcome, error)
	Transfer(ctx context.Context, zone string, serial uint32, cursor []byte) (engine.TransferPage, bool, error)
	AutoPath(ctx context.Context, qname, client string) ([]string, bool, error)
	Metadata(ctx context.Context, qname, client string) ([]engine.MetadataEntry, error)
	Apply(stanza int, events []engine.KeyedEvent) (engine.ApplyResult, error)
	SetSynced(stanza int, synced bool)
	SetHost(info engine.HostInfo) error
	Close(ctx context.Context) error
}

// Kubernetai is the plugin: the stanza chain of one server block.
type Kubernetai struct {
	Next   plugin.Handler
	engine core
	// real is engine when it is the real one (tests give other cores):
	// it swaps modules, and the last one it ran is closed with it.
	real *engine.Engine
	// wasm is the `wasm` file, watched for new versions; nil when the
	// embedded component serves.
	wasm     *moduleFile
	started  bool
	stanzas  []*stanza
	notifier *notifier
	search   []string
	// servers are the `server` labels of the servers serving this block
	// (set at startup).
	servers []string
	// calls run queries' guest calls while the plugin runs (started at
	// startup, two per instance of the real engine's pool); nil runs them
	// in place.
	calls *callers.Callers

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// reclaimSynced runs after a failed reload (after restarts.failed): the
// failed instance's stanzas had taken over this one's `synced` series,
// and this one serves on, so it shows its own state there again.
func (k *Kubernetai) reclaimSynced() error {
	for _, s := range k.stanzas {
		s.claimSynced()
	}
	return nil
}

// metricServers are the `server` labels of the stanzas' metrics. Outside
// a CoreDNS server (in tests) queries carry no server, which
// metrics.WithServer gives as "".
func (k *Kubernetai) metricServers() []string {
	if len(k.servers) == 0 {
		return []string{""}
	}
	return k.servers
}

// Name implements plugin.Handler.
func (k *Kubernetai) Name() string { return pluginName }

// Ready implements the ready plugin's Readiness: no stanza holds
// readiness (see stanza.holdsReady). The ready plugin logs only its own
// name, so the stanzas still holding it are logged here, at each /ready
// that fails.
func (k *Kubernetai) Ready() bool {
	holding := k.holding(time.Now())
	if len(holding) == 0 {
		return true
	}
	names := make([]string, len(holding))
	for i, s := range holding {
		names[i] = fmt.Sprintf("%v (%s; %s)", s, s.source, s.policy())
	}
	log.Infof("not ready: not synced, holding readiness: %s", strings.Join(names, ", "))
	return false
}

// holding are the stanzas that hold readiness at now.
func (k *Kubernetai) holding(now time.Time) []*stanza {
	var out []*stanza
	for _, s := range k.stanzas {
		if s.holdsReady(now) {
			out = append(out, s)
		}
	}
	return out
}

// start runs every stanza's source, then waits, up to each stanza's own
// startup_timeout, for them to deliver their initial state, as the
// kubernetes plugin waits for its first sync. A stanza attached to a feed
// a reload keeps is not waited for again unless that feed had synced (then
// only its replay is waited for): the instance before waited for it.
func (k *Kubernetai) start(ips []string) error {
	if err := k.engine.SetHost(engine.HostInfo{LocalIPs: ips, Search: k.search}); err != nil {
		log.Errorf("telling the core the listening addresses: %v", err)
	}
	if k.real != nil {
		k.calls = callers.Start(2 * k.real.PoolSize())
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	now := time.Now()
	waits := make([]time.Time, len(k.stanzas))
	for i, s := range k.stanzas {
		s.servers = k.metricServers()
		timeout := time.Duration(s.plan.StartupTimeoutNs)
		since, kept := now, false
		waits[i] = now.Add(timeout)
		run := func(ctx context.Context) error { return s.source.Run(ctx, s) }
		// A live source is attached now, before OnStartup returns: on a
		// reload, to the feed the old instance still holds, which the old
		// instance's OnShutdown then does not stop.
		if a, ok := s.source.(attacher); ok {
			att, err := a.Attach(s)
			switch {
			case err != nil:
				log.Errorf("%v: %s not started: %v", s, s.source, err)
				run, waits[i] = nil, time.Time{} // nothing to wait for
			default:
				run = att.Run
				var started time.Time
				var synced bool
				if started, kept, synced = att.Joined(); kept {
					since = started
					if !synced {
						waits[i] = time.Time{}
					}
				}
			}
		}
		s.releaseAt.Store(since.Add(timeout).UnixNano())
		s.claimSynced()
		if run != nil {
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				if err := run(ctx); err != nil && ctx.Err() == nil {
					log.Errorf("%v: %s stopped: %v", s, s.source, err)
				}
			}()
		}
		if s.release {
			// A kept feed already past its release moment was past it
			// before the reload too: the warning is not repeated.
			warned := kept && !since.Add(timeout).After(now)
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				t := time.NewTimer(time.Until(since.Add(timeout)))
				defer t.Stop()
				select {
				case <-t.C:
					s.letGo(warned)
				case <-ctx.Done():
				}
			}()
		}
	}
	if k.real != nil {
		k.started = true
		moduleServing(k.metricServers(), k.real.Module().Digest(), 1)
		k.countCacheLookup()
		if k.wasm != nil {
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				k.watchModule(ctx, k.wasm)
			}()
		}
	}
	k.waitSynced(waits)
	releaseMemory()
	return nil
}

// releaseMemory hands the heap CoreDNS no longer uses back to the
// operating system now. Compiling the core (at setup and at each swap) and
// the initial lists leave tens of megabytes of garbage; Go's scavenger
// returns it only minutes later, so until then it counts against the pod's
// memory limit. One forced collection at these rare moments costs a few
// milliseconds.
func releaseMemory() { debug.FreeOSMemory() }

// attacher is a source whose running feed can be shared (feed.Live).
type attacher interface {
	Attach(sink feed.Sink) (*feed.Attachment, error)
}

// syncPoll is how often waitSynced looks: at most this late, the server
// starts after its last stanza synced. A look reads one flag per stanza.
const syncPoll = 5 * time.Millisecond

// waitSynced waits until each stanza has synced or reached its time in
// until (by index; the zero time: not waited for).
func (k *Kubernetai) waitSynced(until []time.Time) {
	nextLog := time.Now().Add(500 * time.Millisecond)
	for {
		now := time.Now()
		var waiting, late []string
		for i, s := range k.stanzas {
			switch {
			case s.synced.Load() || until[i].IsZero():
			case now.Before(until[i]):
				waiting = append(waiting, s.String())
			default:
				late = append(late, s.String())
				until[i] = time.Time{} // warned once
			}
		}
		if len(late) > 0 {
			log.Warningf("starting server with unsynced Kubernetes data: %s (its startup_timeout passed)", strings.Join(late, ", "))
		}
		if len(waiting) == 0 {
			return
		}
		if now.After(nextLog) {
			log.Infof("waiting for Kubernetes data before starting server: %s", strings.Join(waiting, ", "))
			nextLog = now.Add(500 * time.Millisecond)
		}
		time.Sleep(syncPoll)
	}
}

// stop ends the feeds and closes the engine, which also ends an Apply
// waiting for an instance to come back (every one failing), so that the
// feeds' goroutines can end.
func (k *Kubernetai) stop() error {
	if k.cancel != nil {
		k.cancel()
	}
	ctx := context.Background()
	if err := k.engine.Close(ctx); err != nil {
		log.Warningf("closing the DNS core: %v", err)
	}
	k.calls.Stop()
	k.wg.Wait()
	for _, s := range k.stanzas {
		s.releaseSynced()
	}
	if k.real == nil {
		return nil
	}
	// The watcher has stopped: the module serving last is the one to close.
	mod := k.real.Module()
	if k.started {
		moduleServing(k.metricServers(), mod.Digest(), -1)
	}
	return mod.Close(ctx)
}
