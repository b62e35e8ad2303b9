package kubernetai

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

func TestReleasesByDefault(t *testing.T) {
	tests := []struct {
		name string
		src  engine.Source
		want bool
	}{
		{"snapshot", engine.Source{Kind: engine.SourceSnapshot, Snapshot: "a.yaml"}, false},
		{"in-cluster", engine.Source{Kind: engine.SourceAPIServer}, false},
		{"kubeconfig", engine.Source{Kind: engine.SourceAPIServer, APIServer: engine.Connection{Kubeconfig: "kc"}}, true},
		{"endpoint", engine.Source{Kind: engine.SourceAPIServer, APIServer: engine.Connection{Endpoint: "https://a:6443"}}, true},
	}
	for _, tt := range tests {
		if got := releasesByDefault(tt.src); got != tt.want {
			t.Errorf("%s: releases %v, want %v", tt.name, got, tt.want)
		}
	}
}

const kubeconfigFile = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

// TestReadinessOption: the policy each stanza gets from its source and
// its `readiness` option, read through the embedded core, which refuses a
// bad value naming the stanza and the option.
func TestReadinessOption(t *testing.T) {
	tests := []struct {
		name, options string
		release       bool
		err           string
	}{
		{"snapshot holds", "snapshot {snapshot}", false, ""},
		{"snapshot released", "snapshot {snapshot}\n    readiness release", true, ""},
		{"endpoint releases", "endpoint http://127.0.0.1:1", true, ""},
		{"kubeconfig releases", "kubeconfig {kubeconfig}", true, ""},
		{"endpoint held", "endpoint http://127.0.0.1:1\n    readiness hold", false, ""},
		{"bad value", "snapshot {snapshot}\n    readiness wait", false,
			`Testfile:3 - Error during parsing: stanza 1: readiness: wrong value "wait", must be one of: hold, release`},
	}
	dir := t.TempDir()
	snap, kc := filepath.Join(dir, "cluster.yaml"), filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(snap, []byte(testSnapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte(kubeconfigFile), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.NewReplacer("{snapshot}", snap, "{kubeconfig}", kc).Replace(tt.options)
			c := caddy.NewTestController("dns", "kubernetai cluster.local {\n    "+body+"\n}")
			c.ServerBlockKeys = []string{"cluster.local.:53"}
			k, err := fromCorefile(c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = k.stop() }()
			if got := k.stanzas[0].release; got != tt.release {
				t.Errorf("release %v, want %v", got, tt.release)
			}
		})
	}
}

func TestHoldsReady(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name             string
		release, synced  bool
		releaseAt        time.Time
		wantHoldsReadies bool
	}{
		{"synced holds nothing", false, true, now.Add(time.Hour), false},
		{"hold, unsynced, past its timeout", false, false, now.Add(-time.Hour), true},
		{"release, unsynced, within its timeout", true, false, now.Add(time.Second), true},
		{"release, unsynced, past its timeout", true, false, now.Add(-time.Nanosecond), false},
		{"release, synced", true, true, now.Add(time.Second), false},
	}
	for _, tt := range tests {
		s := &stanza{release: tt.release}
		s.synced.Store(tt.synced)
		s.releaseAt.Store(tt.releaseAt.UnixNano())
		if got := s.holdsReady(now); got != tt.wantHoldsReadies {
			t.Errorf("%s: holds %v, want %v", tt.name, got, tt.wantHoldsReadies)
		}
	}
}

func heldGauge(server, stanza string) float64 {
	return testutil.ToFloat64(readinessHeld.WithLabelValues(server, stanza))
}

// startWithin runs k.start, failing the test if it has not returned in
// 30 seconds: a guard against waiting on the wrong timeout, not a measure.
func startWithin(t *testing.T, k *Kubernetai) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- k.start(nil) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("start still waiting: a stanza's startup_timeout was not its own")
	}
}

// TestReadinessPerStanza: a stanza that never syncs delays the start by
// its own startup_timeout only (the synced stanza's hour is not waited
// for) and holds readiness as its policy says; the gauge and the log
// follow.
func TestReadinessPerStanza(t *testing.T) {
	logged := captureLog(t)
	for _, release := range []bool{true, false} {
		server := "dns://hold.test:53"
		if release {
			server = "dns://release.test:53"
		}
		k := fakePlugin(&fakeCore{}, 2)
		k.servers = []string{server}
		local, remote := k.stanzas[0], k.stanzas[1]
		local.source, local.plan.StartupTimeoutNs = &runSource{}, uint64(time.Hour)
		src := newGatedSource()
		remote.source, remote.plan.StartupTimeoutNs, remote.release = src, uint64(50*time.Millisecond), release
		startWithin(t, k)
		if release {
			waitUntil(t, "stanza 2 to let go of readiness", func() bool { return heldGauge(server, "2") == 0 })
			if !k.Ready() {
				t.Error("release: not ready after stanza 2's startup_timeout")
			}
			want := "stanza 2: gated source has not synced within its startup_timeout 50ms: it no longer holds readiness"
			if !strings.Contains(logged.String(), want) {
				t.Errorf("release: no warning %q in %q", want, logged.String())
			}
		} else {
			if k.Ready() || heldGauge(server, "2") != 1 {
				t.Errorf("hold: ready %v, readiness_held %v after stanza 2's startup_timeout", k.Ready(), heldGauge(server, "2"))
			}
			want := "not ready: not synced, holding readiness: stanza 2 (gated source; readiness hold: until it syncs)"
			if !strings.Contains(logged.String(), want) {
				t.Errorf("hold: no log %q in %q", want, logged.String())
			}
		}
		if heldGauge(server, "1") != 0 {
			t.Error("the synced stanza holds readiness")
		}
		src.open(t)
		if !k.Ready() || heldGauge(server, "2") != 0 {
			t.Errorf("release %v: after the sync, ready %v, readiness_held %v", release, k.Ready(), heldGauge(server, "2"))
		}
		if err := k.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReloadKeepsTheWait: a reload whose stanza attaches to the running
// feed of an API server that never answers does not wait for it again,
// and the feed's start, not the reload, counts for its startup_timeout.
func TestReloadKeepsTheWait(t *testing.T) {
	logged := captureLog(t)
	warnings := func() int { return strings.Count(logged.String(), "has not synced within its startup_timeout") }
	live := func() *Kubernetai {
		k := fakePlugin(&fakeCore{}, 1)
		l, err := feed.NewLive(&feed.Connection{Endpoint: "http://127.0.0.1:1"},
			[]engine.Watch{{Kind: engine.KindNamespace}}, func(string, ...any) {})
		if err != nil {
			t.Fatal(err)
		}
		k.stanzas[0].source, k.stanzas[0].release = l, true
		return k
	}
	old := live()
	old.stanzas[0].plan.StartupTimeoutNs = uint64(100 * time.Millisecond)
	startWithin(t, old)
	defer func() { _ = old.stop() }()
	waitUntil(t, "the warning that the stanza lets go", func() bool { return warnings() == 1 })

	next := live()
	next.stanzas[0].plan.StartupTimeoutNs = uint64(time.Hour)
	startWithin(t, next) // an hour, were the kept feed waited for again
	defer func() { _ = next.stop() }()
	if next.Ready() {
		t.Error("ready: within its startup_timeout since the feed started, the stanza lets go")
	}

	last := live()
	last.stanzas[0].plan.StartupTimeoutNs = uint64(100 * time.Millisecond)
	startWithin(t, last)
	defer func() { _ = last.stop() }()
	if !last.Ready() {
		t.Error("not ready: the feed started more than its startup_timeout ago")
	}
	// Its timer is already due: give it time to fire, then the warning
	// must not have been repeated for the kept feed.
	time.Sleep(200 * time.Millisecond)
	if n := warnings(); n != 1 {
		t.Errorf("%d warnings that the stanza lets go, want 1 (not again for the kept feed):\n%s", n, logged.String())
	}
}
