package kubernetai

import (
	"reflect"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

func read(t *testing.T, input, root string) *corefile {
	t.Helper()
	c := caddy.NewTestController("dns", input)
	c.ServerBlockKeys = []string{"cluster.local.:53"}
	dnsserver.GetConfig(c).Root = root
	return readCorefile(c)
}

// Every option reaches the core as written, the host's own included: the
// host interprets none of them.
func TestReadCorefile(t *testing.T) {
	cf := read(t, `kubernetai cluster.local in-addr.arpa {
    snapshot /data/a.yaml
    labels app in (web, db)
    wasm core.wasm
    wasm other.wasm
}
kubernetai {
    kubeconfig kc remote
    bogus
}`, "")
	want := []engine.Stanza{
		{
			Zones: []string{"cluster.local", "in-addr.arpa"},
			Properties: []engine.Property{
				{Name: "snapshot", Args: []string{"/data/a.yaml"}, Line: 2},
				{Name: "labels", Args: []string{"app", "in", "(web,", "db)"}, Line: 3},
				{Name: "wasm", Args: []string{"core.wasm"}, Line: 4},
				{Name: "wasm", Args: []string{"other.wasm"}, Line: 5},
			},
			Line: 1,
		},
		{
			Zones: []string{"cluster.local.:53"}, // the server block's keys
			Properties: []engine.Property{
				{Name: "kubeconfig", Args: []string{"kc", "remote"}, Line: 8},
				{Name: "bogus", Line: 9},
			},
			Line: 7,
		},
	}
	if !reflect.DeepEqual(cf.stanzas, want) {
		t.Errorf("stanzas %+v\nwant %+v", cf.stanzas, want)
	}
	// The first `wasm` chooses the module; the core refuses the second.
	if path, stanza, p := cf.hostPath("wasm"); path != "core.wasm" || p.Line != 4 || stanza != 0 {
		t.Errorf("wasm %q at line %d of stanza %d", path, p.Line, stanza+1)
	}
}

// The options the host reads before the core: the first occurrence's
// one path, resolved against root.
func TestHostPaths(t *testing.T) {
	for _, tt := range []struct {
		name, input, root, option, path string
		stanza                          int
	}{
		{"none: the embedded component", "kubernetai a.local {\n snapshot x\n}", "", "wasm", "", 0},
		{"without a path: the core says what is wrong", "kubernetai a.local {\n wasm\n}", "", "wasm", "", 0},
		{"two paths: the core says what is wrong", "kubernetai a.local {\n wasm a b\n}", "", "wasm", "", 0},
		{"in a later stanza", "kubernetai a.local\nkubernetai b.local {\n wasm /m/core.wasm\n}", "/srv", "wasm", "/m/core.wasm", 1},
		{"relative to root", "kubernetai a.local {\n wasm core.wasm\n}", "/srv", "wasm", "/srv/core.wasm", 0},
		{"no cache", "kubernetai a.local {\n wasm core.wasm\n}", "", "wasm_cache", "", 0},
		{"cache relative to root", "kubernetai a.local\nkubernetai b.local {\n wasm_cache c\n}", "/srv", "wasm_cache", "/srv/c", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cf := read(t, tt.input, tt.root)
			path, stanza, p := cf.hostPath(tt.option)
			if path != tt.path || (p != nil && stanza != tt.stanza) {
				t.Errorf("%s %q in stanza %d, want %q in %d", tt.option, path, stanza+1, tt.path, tt.stanza+1)
			}
		})
	}
}

// Errors name the file and line, and the stanza from 1.
func TestErrorsInCoreDNSFormat(t *testing.T) {
	cf := &corefile{file: "Corefile"}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{cf.errorAt(0, 3, "tls", "stat c.pem: no such file"), "Corefile:3 - Error during parsing: stanza 1: tls: stat c.pem: no such file"},
		{cf.coreError(&engine.ConfigError{Stanza: 1, Line: 12, Property: "ttl", Reason: "not a number"}),
			"Corefile:12 - Error during parsing: stanza 2: ttl: not a number"},
		{cf.coreError(&engine.ConfigError{Stanza: 0, Line: 1, Reason: "no zones"}),
			"Corefile:1 - Error during parsing: stanza 1: no zones"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
}
