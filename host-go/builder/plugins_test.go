package builder

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePlugin(t *testing.T) {
	tests := []struct {
		spec string
		want Placement
		err  string
	}{
		{spec: "hello:after=forward", want: Placement{Name: "hello", Anchor: "forward", After: true, Flag: "--plugin hello:after=forward"}},
		{spec: "my_plugin:before=cache", want: Placement{Name: "my_plugin", Anchor: "cache", Flag: "--plugin my_plugin:before=cache"}},
		{spec: "hello", err: `--plugin: "hello": want NAME:after=DIRECTIVE or NAME:before=DIRECTIVE`},
		{spec: ":after=forward", err: "empty plugin name"},
		{spec: "hel lo:after=forward", err: `not a directive name: "hel lo"`},
		{spec: "hello:forward", err: "after the name, want after=DIRECTIVE or before=DIRECTIVE"},
		{spec: "hello:next=forward", err: "after the name, want after=DIRECTIVE or before=DIRECTIVE"},
		{spec: "hello:after=", err: "empty anchor directive"},
		{spec: "hello:after=for ward", err: `not a directive name: "for ward"`},
		{spec: "hello:after=hello", err: "a plugin cannot be placed next to itself"},
		{spec: "hello:after=github.com/x/hello", err: `not a directive name: "github.com/x/hello"`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParsePlugin(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePlugin() error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParsePlugin() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestArrange(t *testing.T) {
	core := []string{"log", "kubernetes", "cache", "forward"}
	kai := Provider{Module: KubernetaiModule, Names: []string{Directive}}
	hello := Provider{Module: "example.com/hello", Names: []string{"hello"}}
	pin := Provider{Module: "github.com/miekg/dns"}
	pl := func(spec string) Placement {
		p, err := ParsePlugin(spec)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	kaiDefault := Placement{Name: Directive, Anchor: "kubernetes", After: true, Flag: "--after kubernetes (the default)"}

	tests := []struct {
		name      string
		stock     bool
		places    []Placement
		providers []Provider
		chain     string
		modules   []string // Module of each placement, in order
		err       string
	}{
		{name: "kubernetai only", places: []Placement{kaiDefault}, providers: []Provider{kai, pin},
			chain: "log kubernetes kubernetai cache forward", modules: []string{KubernetaiModule}},
		{name: "hello after kubernetai", places: []Placement{kaiDefault, pl("hello:after=kubernetai")}, providers: []Provider{kai, hello},
			chain: "log kubernetes kubernetai hello cache forward", modules: []string{KubernetaiModule, "example.com/hello"}},
		{name: "hello before log", places: []Placement{kaiDefault, pl("hello:before=log")}, providers: []Provider{hello, pin, kai},
			chain: "hello log kubernetes kubernetai cache forward", modules: []string{KubernetaiModule, "example.com/hello"}},
		{name: "stock with hello", stock: true, places: []Placement{pl("hello:before=forward")}, providers: []Provider{hello},
			chain: "log kubernetes cache hello forward", modules: []string{"example.com/hello"}},
		{name: "stock with a pin", stock: true, providers: []Provider{pin}, chain: "log kubernetes cache forward"},
		{name: "two plugins from one module", places: []Placement{pl("hi:after=log"), pl("bye:after=hi")},
			providers: []Provider{{Module: "example.com/greet", Names: []string{"bye", "hi"}}},
			chain:     "log hi bye kubernetes cache forward", modules: []string{"example.com/greet", "example.com/greet"}},

		{name: "name CoreDNS has", places: []Placement{kaiDefault, pl("cache:after=log")}, providers: []Provider{kai},
			err: `--plugin cache:after=log: CoreDNS v1.15.0 already has a directive "cache"`},
		{name: "module registers a name CoreDNS has", places: []Placement{kaiDefault}, providers: []Provider{kai, {Module: "example.com/fork", Names: []string{"kubernetes"}}},
			err: `--with example.com/fork registers plugin "kubernetes", a directive CoreDNS v1.15.0 already has`},
		{name: "anchor missing", places: []Placement{kaiDefault, pl("hello:after=nosuch")}, providers: []Provider{kai, hello},
			err: `--plugin hello:after=nosuch: CoreDNS v1.15.0 has no directive "nosuch", and no placement before this one adds it; its directives are: log kubernetes cache forward`},
		{name: "kubernetai anchor missing", places: []Placement{{Name: Directive, Anchor: "etcd", After: true, Flag: "--after etcd"}}, providers: []Provider{kai},
			err: `--after etcd: CoreDNS v1.15.0 has no directive "etcd"`},
		{name: "anchor placed only later", places: []Placement{pl("bye:after=hi"), pl("hi:after=log")},
			providers: []Provider{{Module: "example.com/greet", Names: []string{"bye", "hi"}}},
			err:       `--plugin bye:after=hi: CoreDNS v1.15.0 has no directive "hi"`},
		{name: "nobody provides it", places: []Placement{kaiDefault, pl("alternate:after=forward")}, providers: []Provider{kai, hello, pin},
			err: `--plugin alternate:after=forward: no --with module registers a plugin named "alternate" (` + KubernetaiModule + ` registers kubernetai; example.com/hello registers hello)`},
		{name: "kubernetai module does not register it", places: []Placement{kaiDefault}, providers: []Provider{{Module: KubernetaiModule}},
			err: `module ` + KubernetaiModule + ` does not register plugin "kubernetai"`},
		{name: "two modules provide it", places: []Placement{kaiDefault, pl("hello:after=log")}, providers: []Provider{kai, hello, {Module: "example.com/hello2", Names: []string{"hello"}}},
			err: "modules example.com/hello, example.com/hello2 all register a plugin named \"hello\""},
		{name: "plugin module without placement", places: []Placement{kaiDefault}, providers: []Provider{kai, hello},
			err: `--with example.com/hello registers CoreDNS plugin "hello", which no --plugin places; add --plugin hello:after=DIRECTIVE`},
		{name: "stock with the kubernetai module", stock: true, providers: []Provider{kai},
			err: "--stock builds without kubernetai, but --with " + KubernetaiModule + " brings it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{CoreDNS: "v1.15.0", Stock: tt.stock, Placements: tt.places}
			chain, err := Arrange(p, core, tt.providers)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Arrange() error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(chain, " "); got != tt.chain {
				t.Errorf("chain = %q, want %q", got, tt.chain)
			}
			var mods []string
			for _, pl := range p.Placements {
				mods = append(mods, pl.Module)
				if pl.Package != pl.Module {
					t.Errorf("%s: package %q, want the module's root %q", pl.Name, pl.Package, pl.Module)
				}
			}
			if !reflect.DeepEqual(mods, tt.modules) {
				t.Errorf("modules = %v, want %v", mods, tt.modules)
			}
		})
	}
}

// writePkg writes Go files into a fresh directory.
func writePkg(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRegisteredNames(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		err   string
	}{
		{name: "literal", files: map[string]string{"setup.go": `package hello
import "github.com/coredns/coredns/plugin"
func init() { plugin.Register("hello", setup) }
`}, want: []string{"hello"}},
		{name: "constant in another file, renamed import", files: map[string]string{
			"setup.go": `package hello
import cp "github.com/coredns/coredns/plugin"
func init() { cp.Register(pluginName, setup) }
`,
			"names.go": `package hello
const (
	other      = 1
	pluginName = name
	name       = ("hello")
)
`}, want: []string{"hello"}},
		{name: "two plugins, sorted, once each", files: map[string]string{"setup.go": `package greet
import "github.com/coredns/coredns/plugin"
func init() {
	plugin.Register("hi", setup)
	plugin.Register("bye", setup)
	plugin.Register("hi", setup)
}
`}, want: []string{"bye", "hi"}},
		{name: "test files and other Register functions do not count", files: map[string]string{
			"setup.go": `package hello
import "example.com/registry"
func init() { registry.Register("nope") }
`,
			"setup_test.go": `package hello
import "github.com/coredns/coredns/plugin"
func init() { plugin.Register("testonly", nil) }
`}},
		{name: "no Go files", files: map[string]string{"README.md": "# nothing"}},
		{name: "computed name", files: map[string]string{"setup.go": `package hello
import "github.com/coredns/coredns/plugin"
func init() { plugin.Register("hel"+"lo", setup) }
`}, err: "setup.go:3:15: the name given to plugin.Register is not a string constant"},
		{name: "syntax error", files: map[string]string{"setup.go": "package hello\nfunc {"}, err: "setup.go:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RegisteredNames(writePkg(t, tt.files))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("RegisteredNames() error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RegisteredNames() = %q, want %q", got, tt.want)
			}
		})
	}
}

// The real plugin must be found by the same reading.
func TestRegisteredNamesKubernetai(t *testing.T) {
	got, err := RegisteredNames("..")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{Directive}) {
		t.Errorf("host-go registers %q, want [kubernetai]", got)
	}
}

func TestCoreDirectives(t *testing.T) {
	got, err := CoreDirectives("testdata/fakecoredns")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "log kubernetes forward" {
		t.Errorf("CoreDirectives(fake) = %q", got)
	}
	dir := t.TempDir()
	if _, err := CoreDirectives(dir); err == nil || !strings.Contains(err.Error(), "CoreDNS source") {
		t.Errorf("CoreDirectives(empty) error = %v", err)
	}
	pkg := filepath.Join(dir, "core", "dnsserver")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "x.go"), []byte("package dnsserver\nvar Other = []string{\"a\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CoreDirectives(dir); err == nil || !strings.Contains(err.Error(), "no var Directives") {
		t.Errorf("CoreDirectives(no list) error = %v", err)
	}
}

func TestVersionError(t *testing.T) {
	graph := strings.Join([]string{
		"kubernetai-build/coredns github.com/coredns/coredns@v1.15.0",
		"kubernetai-build/coredns " + KubernetaiModule + "@v0.0.0",
		KubernetaiModule + "@v0.0.0 github.com/coredns/coredns@v1.15.0",
		KubernetaiModule + "@v0.0.0 github.com/coredns/coredns@v1.15.0",
		"example.com/other@v1.0.0 github.com/coredns/coredns@v1.14.0",
	}, "\n")
	err := versionError("v1.14.7", "v1.15.0", graph)
	want := "--coredns v1.14.7: cannot build it: " + KubernetaiModule + "@v0.0.0 requires github.com/coredns/coredns v1.15.0, and Go builds the highest version required, so the binary would be CoreDNS v1.15.0; use --coredns v1.15.0, or a version of that module that works with CoreDNS v1.14.7"
	if err == nil || err.Error() != want {
		t.Errorf("versionError() =\n%v\nwant\n%s", err, want)
	}
	if err := versionError("v1.14.7", "v1.16.0", ""); err == nil || !strings.Contains(err.Error(), "another module requires") {
		t.Errorf("versionError(no graph) = %v", err)
	}
}
