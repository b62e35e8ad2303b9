package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// contractPath is the repository's WIT, relative to this package.
var contractPath = filepath.Join("..", "..", "..", "wit", "kubernetai.wit")

func parseContract(t *testing.T) *File {
	t.Helper()
	src, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(contractPath, string(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseContract(t *testing.T) {
	f := parseContract(t)
	if f.Package != (Package{"coredns", "kubernetai", "0.3.0"}) || f.Interface.Name != "core" || f.World != (World{"kubernetai", "core"}) {
		t.Errorf("package %+v, interface %s, world %+v", f.Package, f.Interface.Name, f.World)
	}
	var funcs []string
	for _, fn := range f.Interface.Funcs {
		funcs = append(funcs, fn.Name)
	}
	if got := strings.Join(funcs, " "); got != "configure set-host apply set-synced transfer autopath metadata lookup" {
		t.Errorf("functions %s", got)
	}
	prop := f.Interface.named["property"]
	if prop == nil || prop.Docs != "One option line inside a `kubernetai` block, as the Corefile wrote it\n(CoreDNS calls these properties)." ||
		prop.Fields[2].Docs != "Corefile line, for error messages." {
		t.Errorf("record property and its docs: %+v", prop)
	}
	transfer := f.Interface.Funcs[4]
	if got := transfer.Result.wit(); got != "result<option<transfer-page>, string>" {
		t.Errorf("transfer returns %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "package a:b@1.0.0;\ninterface i {\n"
	const tail = "\n}\nworld w { export i; }\n"
	tests := []struct {
		name, src, want string
	}{
		{"flags", head + "flags f { a, b }" + tail, "x.wit:3: flags is not supported"},
		{"resource", head + "resource r;" + tail, "x.wit:3: resource is not supported"},
		{"type alias", head + "type t = u32;" + tail, "x.wit:3: type is not supported"},
		{"use", head + "use other.{t};" + tail, "x.wit:3: use is not supported"},
		{"tuple", head + "f: func(a: tuple<u8, u8>);" + tail, "x.wit:3: tuple is not supported"},
		{"s32", head + "f: func(a: s32);" + tail, "x.wit:3: s32 is not supported"},
		{"char", head + "record r { c: char }" + tail, "x.wit:3: char is not supported"},
		{"escaped name", head + "record %r { a: u8 }" + tail, "x.wit:3: escaped name %r is not supported"},
		{"result with _", head + "f: func() -> result<_, string>;" + tail, "x.wit:3: result<_, ...> is not supported"},
		{"unknown type", head + "f: func(a: nope);" + tail, "x.wit:3: unknown type nope"},
		{"recursive", head + "record r { a: list<r> }" + tail, "x.wit:3: type r contains itself"},
		{"twice", head + "record r { a: u8 }\nenum r { x }" + tail, "x.wit:4: r declared twice"},
		{"empty record", head + "record r {}" + tail, "x.wit:3: record r has no fields"},
		{"no version", "package a:b;\ninterface i {}\nworld w { export i; }\n", "x.wit:1: package \"a:b\" has no version"},
		{"no package", "interface i {}\n", "x.wit:1: expected the package declaration"},
		{"two worlds", head + tail + "world v { export i; }\n", "2 worlds, want one"},
		{"import", head + tail[:3] + "world v { import i; }\n", "world v: expected one export, found \"import\""},
		{"world of another interface", "package a:b@1.0.0;\ninterface i {}\nworld w { export j; }\n", "world w exports j, not interface i"},
		{"two interfaces", head + tail[:3] + "interface j {}\n", "x.wit:5: a second interface"},
		{"missing comma", head + "record r { a: u8 b: u8 }" + tail, "x.wit:3: in r: expected ',' or '}', found \"b\""},
		{"unterminated comment", head + "/* no end" + tail, "x.wit:3: unterminated block comment"},
		{"stray character", head + "record r { a: u8 } $" + tail, "x.wit:3: unexpected character '$'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.wit", tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseDocsAndComments(t *testing.T) {
	f, err := Parse("x.wit", `// a comment
package a:b@1.2.3-rc.1;
/* a block
   comment */
/// The interface.
interface i {
    /// A record
    /// on two lines.
    record r {
        /// The field.
        f: u8, // not a doc
    }
    /// A variant.
    variant v { /// A case.
        c(list<u8>), d, }
    g: func(x: r) -> option<v>;
}
world w { export i; }
`)
	if err != nil {
		t.Fatal(err)
	}
	r, v := f.Interface.named["r"], f.Interface.named["v"]
	switch {
	case f.Package.Version != "1.2.3-rc.1" || f.Interface.Docs != "The interface.":
		t.Errorf("package %+v, docs %q", f.Package, f.Interface.Docs)
	case r.Docs != "A record\non two lines." || r.Fields[0].Docs != "The field.":
		t.Errorf("record docs %q, field docs %q", r.Docs, r.Fields[0].Docs)
	case v.Cases[0].Docs != "A case." || v.Cases[1].Type != nil || v.Cases[0].Type.wit() != "list<u8>":
		t.Errorf("variant %+v", v.Cases)
	case f.Interface.Funcs[0].Result.(*Option).Elem.(*Named).Def != v:
		t.Errorf("g's result is not bound to v")
	}
}
