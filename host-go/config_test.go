package kubernetai

import (
	"bytes"
	golog "log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func parse(t *testing.T, input string) (*serverConfig, error) {
	t.Helper()
	c := caddy.NewTestController("dns", input)
	c.ServerBlockKeys = []string{"cluster.local.:53"}
	return parseCorefile(c)
}

func TestParseHostOptions(t *testing.T) {
	cfg, err := parse(t, `kubernetai cluster.local in-addr.arpa {
    snapshot /data/a.yaml
    startup_timeout 12s
    labels app in (web, db)
    ttl 30
    pool 3
    wasm core.wasm
}
kubernetai {
    kubeconfig /etc/kc remote
    apiserver_qps 2.5
    apiserver_burst 7
    apiserver_max_inflight 4
    namespace_labels team=a
}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.stanzas) != 2 {
		t.Fatalf("%d stanzas", len(cfg.stanzas))
	}
	a, b := cfg.stanzas[0], cfg.stanzas[1]
	if a.snapshot != "/data/a.yaml" || a.startupTimeout != 12*time.Second || a.labels.String() != "app in (db,web)" {
		t.Errorf("stanza 1: %+v", a)
	}
	if got := strings.Join(a.zones, " "); got != "cluster.local in-addr.arpa" {
		t.Errorf("zones %q", got)
	}
	// Every property reaches the core, host-owned ones included.
	if len(a.props) != 6 || a.props[3].Name != "ttl" || a.props[3].Args[0] != "30" || a.props[3].Line != 5 {
		t.Errorf("properties %+v", a.props)
	}
	if cfg.pool != 3 || cfg.wasm != "core.wasm" || cfg.wasmLine != 7 {
		t.Errorf("runtime options: pool %d wasm %q line %d", cfg.pool, cfg.wasm, cfg.wasmLine)
	}
	if strings.Join(b.zones, " ") != "cluster.local.:53" {
		t.Errorf("a stanza without zones takes the server block's: %q", b.zones)
	}
	if b.kubeconfig != "/etc/kc" || b.kubecontext != "remote" || b.qps != 2.5 || b.burst != 7 || b.maxInflight != 4 {
		t.Errorf("stanza 2: %+v", b)
	}
	if b.namespaceLabels.String() != "team=a" || b.startupTimeout != defaultStartupTimeout || b.liveLine != 10 {
		t.Errorf("stanza 2: %+v", b)
	}
}

func TestParseRefusesBadHostOptions(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"snapshot", "Testfile:2 - Error during parsing: stanza 1: snapshot: takes one value, got 0"},
		{"snapshot a b", "snapshot: takes one value, got 2"},
		{"startup_timeout soon", `startup_timeout: "soon" is not a duration`},
		{"startup_timeout -1s", `startup_timeout: "-1s" is not a duration`},
		{"labels", "labels: needs a label selector"},
		{"labels a in (", "labels: unable to parse label selector"},
		{"namespace_labels ==x", "namespace_labels: unable to parse"},
		{"pool 0", `pool: "0" is not an integer >= 1`},
		{"pool many", `pool: "many" is not an integer >= 1`},
		{"endpoint", "endpoint: needs a URL"},
		{"tls a b", "tls: needs CERT KEY CACERT, got 2 values"},
		{"kubeconfig", "kubeconfig: needs FILE [CONTEXT], got 0 values"},
		{"kubeconfig a b c", "kubeconfig: needs FILE [CONTEXT], got 3 values"},
		{"apiserver_qps -1", `apiserver_qps: "-1" is not a number >= 0`},
		{"apiserver_burst x", `apiserver_burst: "x" is not an integer >= 0`},
		{"apiserver_max_inflight -2", `apiserver_max_inflight: "-2" is not an integer >= 0`},
		{"wasm a.wasm\n    wasm b.wasm", "Testfile:3 - Error during parsing: stanza 1: wasm: given more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			_, err := parse(t, "kubernetai cluster.local {\n    "+tt.body+"\n}")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWasmOnceAcrossStanzas(t *testing.T) {
	_, err := parse(t, "kubernetai a.local {\n wasm x.wasm\n}\nkubernetai b.local {\n wasm y.wasm\n}")
	if err == nil || !strings.Contains(err.Error(), "stanza 2: wasm: given more than once in this server block (first on line 2)") {
		t.Errorf("err = %v", err)
	}
}

func TestStanzaOf(t *testing.T) {
	cfg := &serverConfig{stanzas: []*stanzaConfig{{line: 3}, {line: 9}}}
	for line, want := range map[int]int{4: 0, 9: 1, 12: 1, 1: 0} {
		if got := stanzaOf(cfg, line); got != want {
			t.Errorf("line %d: stanza %d, want %d", line, got, want)
		}
	}
}

// TestEndpointUsesTheFirstURL: as the kubernetes plugin, several URLs are
// taken, the first is used, and a warning names the others.
func TestEndpointUsesTheFirstURL(t *testing.T) {
	var logged bytes.Buffer
	golog.SetOutput(&logged)
	t.Cleanup(func() { golog.SetOutput(os.Stderr) })
	cfg, err := parse(t, "kubernetai cluster.local {\n    endpoint https://a.test:6443 https://b.test:6443\n}")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.stanzas[0].connection().Endpoint; got != "https://a.test:6443" {
		t.Errorf("endpoint %q, want the first URL", got)
	}
	want := "Testfile:2: stanza 1: endpoint: only the first URL, https://a.test:6443, is used; ignoring https://b.test:6443"
	if !strings.Contains(logged.String(), want) {
		t.Errorf("log %q, want a warning %q", logged.String(), want)
	}
}
