package builder

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

func TestGoMod(t *testing.T) {
	p := &Plan{CoreDNS: "v1.15.0", Modules: []Module{
		{Path: CoreDNSModule, Version: "v1.15.0"},
		{Path: KubernetaiModule, Dir: "/src/host-go"},
		{Path: "github.com/miekg/dns", Version: "v1.1.80"},
		{Path: "example.com/pinned", Version: "v1.2.3", Dir: "/src/dir with space"},
		{Path: "example.com/latest"},
		{Path: "example.com/branch", Version: "main"},
	}}
	want := `module kubernetai-build/coredns

go 1.26.0

require (
	github.com/coredns/coredns v1.15.0
	github.com/kubernetai/kubernetai/host-go v0.0.0
	github.com/miekg/dns v1.1.80
	example.com/pinned v1.2.3
)

replace (
	github.com/kubernetai/kubernetai/host-go => /src/host-go
	example.com/pinned => "/src/dir with space"
)
`
	if got := GoMod(p); got != want {
		t.Errorf("GoMod() =\n%s\nwant\n%s", got, want)
	}
	wantQ := []string{"example.com/latest@latest", "example.com/branch@main"}
	if got := queried(p); strings.Join(got, " ") != strings.Join(wantQ, " ") {
		t.Errorf("queried() = %v, want %v", got, wantQ)
	}
}

func TestGoModNoReplace(t *testing.T) {
	p := &Plan{Modules: []Module{{Path: CoreDNSModule, Version: "v1.15.0"}}}
	want := "module kubernetai-build/coredns\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/coredns/coredns v1.15.0\n)\n"
	if got := GoMod(p); got != want {
		t.Errorf("GoMod() = %q, want %q", got, want)
	}
}

func TestModQuote(t *testing.T) {
	tests := map[string]string{
		"/a/b":       "/a/b",
		`C:\src\x`:   `C:\src\x`,
		"/a b":       `"/a b"`,
		"/a//b":      `"/a//b"`,
		"/a(b)":      `"/a(b)"`,
		`/a"b`:       `"/a\"b"`,
		"/tab\there": `"/tab\there"`,
		"/üñí/cödé":  "/üñí/cödé",
	}
	for in, want := range tests {
		if got := modQuote(in); got != want {
			t.Errorf("modQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// parseMain generates main.go for p and parses it.
func parseMain(t *testing.T, p *Plan) (*ast.File, string) {
	t.Helper()
	src, err := MainGo(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", src, parser.ParseComments)
	if err != nil {
		t.Fatalf("generated main.go does not parse: %v\n%s", err, src)
	}
	return f, string(src)
}

func imports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, s := range f.Imports {
		path, _ := strconv.Unquote(s.Path.Value)
		name := ""
		if s.Name != nil {
			name = s.Name.Name
		}
		m[path] = name
	}
	return m
}

func funcs(f *ast.File) map[string]bool {
	m := map[string]bool{}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok {
			m[fn.Name.Name] = true
		}
	}
	return m
}

func TestMainGo(t *testing.T) {
	tests := []struct {
		name string
		p    Plan
		call string
	}{
		{"after kubernetes", Plan{CoreDNS: "v1.15.0", Placements: []Placement{kaiPlaced("kubernetes", true)}},
			`{"kubernetai", "kubernetes", true, "--after kubernetes"},`},
		{"before forward", Plan{CoreDNS: "v1.15.0", Placements: []Placement{kaiPlaced("forward", false)}},
			`{"kubernetai", "forward", false, "--before forward"},`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, src := parseMain(t, &tt.p)
			if f.Name.Name != "main" {
				t.Errorf("package %s, want main", f.Name.Name)
			}
			im := imports(f)
			for path, name := range map[string]string{
				"github.com/coredns/coredns/core/plugin":    "_",
				KubernetaiModule:                            "_",
				"github.com/coredns/coredns/core/dnsserver": "",
				"github.com/coredns/coredns/coremain":       "",
				"fmt":                                       "", "os": "", "strings": "",
			} {
				if got, ok := im[path]; !ok || got != name {
					t.Errorf("import %q: got name %q (present %v), want %q", path, got, ok, name)
				}
			}
			for _, fn := range []string{"init", "main", "insertDirective"} {
				if !funcs(f)[fn] {
					t.Errorf("main.go has no func %s", fn)
				}
			}
			for _, want := range []string{tt.call, "insertDirective(dnsserver.Directives, p.name, p.anchor, p.after)", "dnsserver.Directives = directives", "os.Exit(1)", "coremain.Run()", "DO NOT EDIT"} {
				if !strings.Contains(src, want) {
					t.Errorf("main.go lacks %q:\n%s", want, src)
				}
			}
		})
	}
}

// kaiPlaced is kubernetai's placement as Arrange leaves it.
func kaiPlaced(anchor string, after bool) Placement {
	flag := "--before " + anchor
	if after {
		flag = "--after " + anchor
	}
	return Placement{Name: Directive, Anchor: anchor, After: after, Flag: flag, Module: KubernetaiModule, Package: KubernetaiModule}
}

// External plugins are imported once per package, and inserted in the
// order given, after kubernetai.
func TestMainGoPlugins(t *testing.T) {
	p := &Plan{CoreDNS: "v1.15.0", Placements: []Placement{
		kaiPlaced("kubernetes", true),
		{Name: "hello", Anchor: "kubernetai", Flag: "--plugin hello:before=kubernetai", Module: "example.com/hello", Package: "example.com/hello"},
		{Name: "bye", Anchor: "hello", After: true, Flag: "--plugin bye:after=hello", Module: "example.com/hello", Package: "example.com/hello"},
	}}
	f, src := parseMain(t, p)
	im := imports(f)
	if im["example.com/hello"] != "_" || im[KubernetaiModule] != "_" {
		t.Errorf("imports = %v", im)
	}
	if n := strings.Count(src, `_ "example.com/hello"`); n != 1 {
		t.Errorf("example.com/hello imported %d times:\n%s", n, src)
	}
	order := []string{
		`{"kubernetai", "kubernetes", true, "--after kubernetes"},`,
		`{"hello", "kubernetai", false, "--plugin hello:before=kubernetai"},`,
		`{"bye", "hello", true, "--plugin bye:after=hello"},`,
	}
	last := -1
	for _, want := range order {
		i := strings.Index(src, want)
		if i <= last {
			t.Errorf("main.go lacks %q after the previous placement:\n%s", want, src)
		}
		last = i
	}
	if !strings.Contains(src, "with all of its official plugins, plus kubernetai, hello, bye.") {
		t.Errorf("doc comment does not list the added plugins:\n%s", src)
	}
	if !strings.Contains(src, `// registers hello, bye`) {
		t.Errorf("import comment does not name both plugins:\n%s", src)
	}
	if _, err := MainGo(&Plan{Placements: []Placement{{Name: "x", Anchor: "log"}}}); err == nil {
		t.Error("MainGo accepted a placement with no package")
	}
}

func TestMainGoStock(t *testing.T) {
	f, src := parseMain(t, &Plan{CoreDNS: "v1.15.0", Stock: true})
	im := imports(f)
	if len(im) != 2 || im["github.com/coredns/coredns/core/plugin"] != "_" || im["github.com/coredns/coredns/coremain"] != "" {
		t.Errorf("stock imports = %v", im)
	}
	if fs := funcs(f); len(fs) != 1 || !fs["main"] {
		t.Errorf("stock funcs = %v, want only main", fs)
	}
	if strings.Contains(src, "kubernetai\"") || strings.Contains(src, "Directives") {
		t.Errorf("stock main.go mentions kubernetai or the chain:\n%s", src)
	}
}

// The function in main.go must be the one this package compiles and tests.
func TestMainGoCarriesInsertDirective(t *testing.T) {
	insert, err := insertSource()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(insert, "// insertDirective returns") || !strings.HasSuffix(insert, "}") {
		t.Errorf("insertSource() cut badly:\n%s", insert)
	}
	_, src := parseMain(t, &Plan{CoreDNS: "v1.15.0", Placements: []Placement{kaiPlaced("kubernetes", true)}})
	if !strings.Contains(src, insert) {
		t.Errorf("main.go does not carry insertDirective verbatim:\n%s", src)
	}
}
