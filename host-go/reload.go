package kubernetai

import "sync"

// restarts follows CoreDNS restarts (the reload plugin re-running the
// setup on a changed Corefile). caddy runs the old instance's OnRestart,
// then the new instance's setup and OnStartup callbacks, then starts its
// servers; on success it runs the old instance's OnShutdown, on failure
// the old instance's OnRestartFailed, and the new instance is dropped
// without any shutdown callback. The new instance's stanzas attach to
// the live feeds the old one holds during its OnStartup, so a failed
// restart must detach them again: the plugins started during a restart
// are stopped when it fails, and the old instance serves on with its
// feeds intact.
var restarts restartTracker

type restartTracker struct {
	mu      sync.Mutex
	active  bool
	pending []*Kubernetai
}

// begin is the old instance's OnRestart (once per plugin instance).
func (r *restartTracker) begin() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.active {
		r.active, r.pending = true, nil
	}
	return nil
}

// started records a plugin starting during a restart.
func (r *restartTracker) started(k *Kubernetai) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active {
		r.pending = append(r.pending, k)
	}
}

// succeeded is called from the old instance's OnShutdown: the new
// instance is the one serving now (at a final shutdown, nothing is
// pending).
func (r *restartTracker) succeeded() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active, r.pending = false, nil
}

// failed is the old instance's OnRestartFailed: the plugins the new
// instance started are stopped, which releases the feeds they attached
// to (the old instance still holds them).
func (r *restartTracker) failed() error {
	r.mu.Lock()
	pending := r.pending
	r.active, r.pending = false, nil
	r.mu.Unlock()
	for _, k := range pending {
		if err := k.stop(); err != nil {
			log.Warningf("stopping the plugin of a failed reload: %v", err)
		}
	}
	if len(pending) > 0 {
		log.Infof("reload failed: stopped %d new kubernetai instance(s); the running ones serve on", len(pending))
	}
	return nil
}
