package kubernetai

import (
	"bytes"
	golog "log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// These tests run the plugin's setup with the test guest as the `wasm`
// module: it plans the stanzas from their options in a way its doc table
// states, so the host's side (which module reads the options, what it
// does with the plan, where it reports what cannot be read or reached)
// can be checked without the real core's validation.

// guestSetup writes the test guest and files into a directory that is
// the server block's root, and runs the setup on a Corefile naming the
// guest as guest.wasm.
func guestSetup(t *testing.T, corefile string, files map[string]string) (*Kubernetai, error) {
	t.Helper()
	dir := t.TempDir()
	files["guest.wasm"] = string(testGuestFile(t))
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := caddy.NewTestController("dns", corefile)
	c.ServerBlockKeys = []string{"cluster.local.:53"}
	dnsserver.GetConfig(c).Root = dir
	k, err := fromCorefile(c)
	if err == nil {
		t.Cleanup(func() { _ = k.stop() })
	}
	return k, err
}

const emptyList = "apiVersion: v1\nkind: List\nitems: []\n"

// The core's configuration is what the plugin runs: the module it names,
// the runtime options, each stanza's plan and source, paths resolved
// against the server block's root.
func TestSetupRunsTheConfiguration(t *testing.T) {
	k, err := guestSetup(t, `kubernetai cluster.local {
    wasm guest.wasm
    snapshot a.yaml
    startup_timeout 3s
    wasm_memory 32Mi
    notify_interval 2s
}
kubernetai other.local {
    snapshot b.yaml
    pods verified
}`, map[string]string{"a.yaml": emptyList, "b.yaml": emptyList})
	if err != nil {
		t.Fatal(err)
	}
	if got := k.real.MemoryLimit(); got != 32<<20 {
		t.Errorf("memory limit %d, want wasm_memory's 32Mi", got)
	}
	if k.notifier.interval != 2*time.Second || k.wasm == nil || filepath.Base(k.wasm.path) != "guest.wasm" {
		t.Errorf("notify interval %v, wasm file %+v", k.notifier.interval, k.wasm)
	}
	if len(k.stanzas) != 2 {
		t.Fatalf("%d stanzas", len(k.stanzas))
	}
	a, b := k.stanzas[0], k.stanzas[1]
	if a.plan.StartupTimeoutNs != 3e9 || !strings.HasSuffix(a.source.String(), "/a.yaml") || !filepath.IsAbs(strings.TrimPrefix(a.source.String(), "snapshot ")) {
		t.Errorf("stanza 1: startup timeout %d, source %s", a.plan.StartupTimeoutNs, a.source)
	}
	if len(b.plan.Watches) != 4 || b.plan.Watches[3].Kind != engine.KindPod || !strings.HasSuffix(b.source.String(), "/b.yaml") {
		t.Errorf("stanza 2: watches %v, source %s", b.plan.Watches, b.source)
	}
}

// What the host cannot read or reach is refused at the plan's source
// line, naming the stanza (from 1) and the option.
func TestSetupRefusesWhatItCannotUse(t *testing.T) {
	tests := []struct {
		name, stanza string
		files        map[string]string
		want         string
	}{
		{"the core refuses an option", "snapshot a.yaml\n    bad times two",
			nil, "Testfile:7 - Error during parsing: stanza 2: bad: times two"},
		{"missing snapshot", "snapshot nowhere.yaml",
			nil, "Testfile:6 - Error during parsing: stanza 2: snapshot: open "},
		{"broken snapshot", "snapshot broken.yaml",
			map[string]string{"broken.yaml": "kind: [\n"}, "Testfile:6 - Error during parsing: stanza 2: snapshot: "},
		{"missing tls file", "endpoint https://a.test:6443\n    tls c.pem k.pem ca.pem",
			map[string]string{"c.pem": "x", "ca.pem": "x"}, "Testfile:6 - Error during parsing: stanza 2: tls: stat "},
		{"missing kubeconfig", "kubeconfig kc.yaml",
			nil, "Testfile:6 - Error during parsing: stanza 2: kubeconfig: kubeconfig "},
		{"an endpoint client-go refuses", "endpoint a.test:6443/some/path",
			nil, "Testfile:6 - Error during parsing: stanza 2: endpoint: endpoint a.test:6443/some/path: host must be a URL"},
		{"wasm_cache a file", "snapshot a.yaml\n    wasm_cache a.yaml",
			nil, "Testfile:7 - Error during parsing: stanza 2: wasm_cache: mkdir "},
		{"wasm_cache under a file", "snapshot a.yaml\n    wasm_cache a.yaml/cache",
			nil, "Testfile:7 - Error during parsing: stanza 2: wasm_cache: mkdir "},
		{"wasm_memory below what the core needs", "snapshot a.yaml\n    wasm_memory 512Ki",
			nil, "Testfile:7 - Error during parsing: stanza 2: wasm_memory: memory limit of 524288 bytes: the core needs at least"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"a.yaml": emptyList}
			for k, v := range tt.files {
				files[k] = v
			}
			corefile := "kubernetai a.local {\n    wasm guest.wasm\n    snapshot a.yaml\n}\nkubernetai b.local {\n    " + tt.stanza + "\n}"
			_, err := guestSetup(t, corefile, files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("setup = %v, want %q", err, tt.want)
			}
		})
	}
}

// The `wasm` file is read and compiled before the core reads anything:
// what is wrong with it is reported at the option.
func TestSetupRefusesTheModule(t *testing.T) {
	for name, tt := range map[string]struct {
		wasm, body, want string
	}{
		"missing":       {"missing.wasm", "", "Testfile:2 - Error during parsing: stanza 1: wasm: stat "},
		"not a module":  {"junk.wasm", "junk", "Testfile:2 - Error during parsing: stanza 1: wasm: "},
		"not WebAssemb": {"junk.wasm", "junk", "not a WebAssembly binary"},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{}
			if tt.body != "" {
				files[tt.wasm] = tt.body
			}
			_, err := guestSetup(t, "kubernetai a.local {\n    wasm "+tt.wasm+"\n}", files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("setup = %v, want %q", err, tt.want)
			}
		})
	}
}

// As the kubernetes plugin, several endpoint URLs are taken, the first is
// used, and a warning names the others.
func TestEndpointUsesTheFirstURL(t *testing.T) {
	var logged bytes.Buffer
	golog.SetOutput(&logged)
	t.Cleanup(func() { golog.SetOutput(os.Stderr) })
	k, err := guestSetup(t, "kubernetai cluster.local {\n    wasm guest.wasm\n    endpoint https://a.test:6443 https://b.test:6443\n}", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if live, ok := k.stanzas[0].source.(*feed.Live); !ok || live.String() != "API server https://a.test:6443" {
		t.Errorf("source %v, want the first URL", k.stanzas[0].source)
	}
	want := "Testfile:3: stanza 1: endpoint: only the first URL, https://a.test:6443, is used; ignoring https://b.test:6443"
	if !strings.Contains(logged.String(), want) {
		t.Errorf("log %q, want a warning %q", logged.String(), want)
	}
}
