package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// componentBytes is the component embedded in the plugin, to make files
// for `wasm PATH` from.
func componentBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "host-go", "kubernetai.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contractVersion is the version of the WIT package in wit/kubernetai.wit,
// which the host and the core speak: `package coredns:kubernetai@VERSION;`.
func contractVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wit", "kubernetai.wit"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^package coredns:kubernetai@([^;\s]+);`).FindSubmatch(b)
	if m == nil {
		t.Fatal("wit/kubernetai.wit declares no versioned package coredns:kubernetai")
	}
	return string(m[1])
}

// otherContract is a component with its interface renamed to version 0.9.0:
// a component built for another version of the contract.
func otherContract(t *testing.T, component []byte) []byte {
	t.Helper()
	ours := []byte("coredns:kubernetai/core@" + contractVersion(t))
	other := bytes.ReplaceAll(component, ours, []byte("coredns:kubernetai/core@0.9.0"))
	if bytes.Equal(other, component) {
		t.Fatalf("the component does not name %s", ours)
	}
	return other
}

func TestRefusedCorefiles(t *testing.T) {
	snapshot := "apiVersion: v1\nkind: List\nitems: []\n"
	other := otherContract(t, componentBytes(t))
	tests := []struct {
		name   string
		stanza string
		files  map[string]string
		want   []string
	}{
		{"unknown option", "snapshot c.yaml\n        bogus 1", nil,
			[]string{"Corefile:5", "kubernetai", "bogus", "unknown property"}},
		{"bad value", "snapshot c.yaml\n        ttl 9999", nil,
			[]string{"Corefile:5", "ttl", "[0, 3600]"}},
		{"bad host value", "snapshot c.yaml\n        apiserver_qps fast", nil,
			[]string{"Corefile:5", "apiserver_qps"}},
		{"missing module", "snapshot c.yaml\n        wasm missing.wasm", nil,
			[]string{"Corefile:5", "wasm", "missing.wasm"}},
		{"not a component", "snapshot c.yaml\n        wasm junk.wasm", map[string]string{"junk.wasm": "not wasm at all"},
			[]string{"wasm", "junk.wasm", "not a WebAssembly"}},
		{"other WIT version", "snapshot c.yaml\n        wasm other.wasm", map[string]string{"other.wasm": string(other)},
			[]string{"wasm", "other.wasm", "0.9.0", contractVersion(t)}},
		{"missing snapshot", "snapshot nowhere.yaml", nil,
			[]string{"Corefile:4", "snapshot", "nowhere.yaml"}},
		{"broken snapshot", "snapshot broken.yaml", map[string]string{"broken.yaml": "kind: [\n"},
			[]string{"Corefile:4", "snapshot", "broken.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"c.yaml":   snapshot,
				"Corefile": ".:{port} {\n    bind 127.0.0.1\n    kubernetai cluster.local {\n        " + tt.stanza + "\n    }\n}\n",
			}
			for k, v := range tt.files {
				files[k] = v
			}
			out := refused(t, files)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
