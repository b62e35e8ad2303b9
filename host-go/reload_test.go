package kubernetai

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// runSource is a source that records whether it runs.
type runSource struct {
	mu      sync.Mutex
	running bool
}

func (r *runSource) Run(ctx context.Context, sink feed.Sink) error {
	r.set(true)
	sink.Synced()
	<-ctx.Done()
	r.set(false)
	return nil
}

func (r *runSource) set(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = v
}

func (r *runSource) isRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

func (r *runSource) String() string { return "test source" }

func startedPlugin(t *testing.T) (*Kubernetai, *runSource) {
	t.Helper()
	k := fakePlugin(&fakeCore{}, 1)
	src := &runSource{}
	k.stanzas[0].source, k.stanzas[0].plan.StartupTimeoutNs = src, uint64(10*time.Second)
	restarts.started(k)
	if err := k.start(nil); err != nil {
		t.Fatal(err)
	}
	if !k.Ready() {
		t.Fatal("not synced after start")
	}
	return k, src
}

// TestRestartFailedStopsTheNewInstance follows caddy's order on a
// reload: the old instance's OnRestart, the new one's OnStartup, then
// either the old one's OnShutdown (the new one serves on) or its
// OnRestartFailed (the new one is stopped, the old one serves on).
func TestRestartFailedStopsTheNewInstance(t *testing.T) {
	old, oldSrc := startedPlugin(t)
	if err := restarts.begin(); err != nil {
		t.Fatal(err)
	}
	_ = restarts.begin() // once per plugin instance of the old server
	_, newSrc := startedPlugin(t)
	if err := restarts.failed(); err != nil {
		t.Fatal(err)
	}
	_ = restarts.failed()
	if newSrc.isRunning() {
		t.Error("the failed reload's instance still runs")
	}
	if !oldSrc.isRunning() {
		t.Error("the old instance stopped on a failed reload")
	}

	// A reload that succeeds: the old instance's OnShutdown; the new one
	// runs on, and is not stopped by a later failed reload.
	_ = restarts.begin()
	next, nextSrc := startedPlugin(t)
	restarts.succeeded()
	if err := old.stop(); err != nil {
		t.Fatal(err)
	}
	_ = restarts.begin()
	_ = restarts.failed()
	if !nextSrc.isRunning() || oldSrc.isRunning() {
		t.Errorf("after a reload: new running %v, old running %v", nextSrc.isRunning(), oldSrc.isRunning())
	}
	_ = next.stop()
}
