package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// typesWIT declares the types the layout tests look at. Each expectation
// below is worked out by hand from the canonical ABI's rules.
const typesWIT = `package test:abi@1.0.0;
interface t {
    record u8-u32 { a: u8, b: u32 }
    record u32-u64 { a: u32, b: u64 }
    record u64-u8 { a: u64, b: u8 }
    record u8-u16-u8 { a: u8, b: u16, c: u8 }
    record nested { a: u8-u32, b: u8 }
    record string-bool { s: string, b: bool }
    record f64-u16 { a: u16, b: f64 }
    enum three { a, b, c }
    variant mixed { a(u32), b(u64), c(f64), d(string), e }
    variant float-byte { a(f64), b(u8) }
    variant list-u16 { a(list<u8>), b(u16) }
    record option-holder { a: u8, b: option<u64> }
    f: func(a: option<u8>, b: option<u64>, c: option<string>, d: result<u32, string>, e: result, f: list<u64>, g: s64, h: f64, i: u16);
}
world w { export t; }
`

func parseTypes(t *testing.T, src string) *Interface {
	t.Helper()
	f, err := Parse("types.wit", src)
	if err != nil {
		t.Fatal(err)
	}
	return f.Interface
}

// lookupType finds a named type, or a parameter of function f by name.
func lookupType(t *testing.T, iface *Interface, name string) Type {
	t.Helper()
	if def := iface.named[name]; def != nil {
		return &Named{Name: name, Def: def}
	}
	for _, p := range iface.Funcs[0].Params {
		if p.Name == name {
			return p.Type
		}
	}
	for _, prim := range []string{"bool", "u8", "u16", "u32", "u64", "s64", "f64", "string"} {
		if name == prim {
			return &Prim{prim}
		}
	}
	t.Fatalf("no type %s", name)
	return nil
}

func TestLayouts(t *testing.T) {
	iface := parseTypes(t, typesWIT)
	tests := []struct {
		typ         string // a type name, or a parameter of f
		size, align uint32
		flat        string
		payload     uint32 // variants: where payloads start (after the discriminant, aligned)
	}{
		// Primitives.
		{"bool", 1, 1, "i32", 0},
		{"u8", 1, 1, "i32", 0},
		{"u16", 2, 2, "i32", 0},
		{"u32", 4, 4, "i32", 0},
		{"u64", 8, 8, "i64", 0},
		{"g", 8, 8, "i64", 0}, // s64
		{"h", 8, 8, "f64", 0}, // f64
		{"string", 8, 4, "i32 i32", 0},
		{"f", 8, 4, "i32 i32", 0}, // list<u64>: a pointer and a length, whatever the element
		// Records: fields at their alignment, size rounded to the widest.
		{"u8-u32", 8, 4, "i32 i32", 0},
		{"u32-u64", 16, 8, "i32 i64", 0},
		{"u64-u8", 16, 8, "i64 i32", 0},
		{"u8-u16-u8", 6, 2, "i32 i32 i32", 0},
		{"nested", 12, 4, "i32 i32 i32", 0},
		{"string-bool", 12, 4, "i32 i32 i32", 0},
		{"f64-u16", 16, 8, "i32 f64", 0},
		{"option-holder", 24, 8, "i32 i32 i64", 0},
		// Enums: a discriminant, no payload.
		{"three", 1, 1, "i32", 1},
		// Options and results: variants; payloads at the widest case's
		// alignment; flat payloads joined slot by slot.
		{"a", 2, 1, "i32 i32", 1},             // option<u8>
		{"b", 16, 8, "i32 i64", 8},            // option<u64>
		{"c", 12, 4, "i32 i32 i32", 4},        // option<string>
		{"d", 12, 4, "i32 i32 i32", 4},        // result<u32, string>: i32 joins i32
		{"e", 1, 1, "i32", 1},                 // result without payloads
		{"mixed", 16, 8, "i32 i64 i32", 8},    // i32, i64, f64 and a pointer join to i64
		{"float-byte", 16, 8, "i32 i64", 8},   // f64 and i32 join to i64
		{"list-u16", 12, 4, "i32 i32 i32", 4}, // (ptr, len) and u16 share the first slot
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			typ := lookupType(t, iface, tt.typ)
			if l := layoutOf(typ); l != (layout{tt.size, tt.align}) {
				t.Errorf("layout %+v, want size %d align %d", l, tt.size, tt.align)
			}
			if flat := strings.Join(flatten(typ), " "); flat != tt.flat {
				t.Errorf("flat %s, want %s", flat, tt.flat)
			}
			if cs := cases(typ); cs != nil {
				if got := payloadOffset(cs); got != tt.payload {
					t.Errorf("payload at %d, want %d", got, tt.payload)
				}
			}
		})
	}
}

func TestFieldOffsets(t *testing.T) {
	iface := parseTypes(t, typesWIT)
	for name, want := range map[string][]uint32{
		"u8-u32":        {0, 4},
		"u32-u64":       {0, 8},
		"u8-u16-u8":     {0, 2, 4},
		"nested":        {0, 8},
		"f64-u16":       {0, 8},
		"option-holder": {0, 8},
	} {
		if got, _, _ := fieldOffsets(iface.named[name]); !slices.Equal(got, want) {
			t.Errorf("%s: offsets %v, want %v", name, got, want)
		}
	}
}

// The discriminant is the smallest integer that numbers the cases.
func TestDiscriminants(t *testing.T) {
	for _, tt := range []struct {
		cases int
		size  uint32
	}{{1, 1}, {2, 1}, {256, 1}, {257, 2}, {65536, 2}, {65537, 4}} {
		names := make([]string, tt.cases)
		for i := range names {
			names[i] = fmt.Sprintf("c%d", i)
		}
		src := "package a:b@1.0.0;\ninterface i {\n enum e { " + strings.Join(names, ", ") + " }\n}\nworld w { export i; }\n"
		typ := lookupType(t, parseTypes(t, src), "e")
		if got := layoutOf(typ); got != (layout{tt.size, tt.size}) {
			t.Errorf("%d cases: layout %+v, want %d bytes", tt.cases, got, tt.size)
		}
	}
}

func TestNeedsPost(t *testing.T) {
	iface := parseTypes(t, typesWIT)
	for name, want := range map[string]bool{
		"u32": false, "u8-u32": false, "b": false, "three": false, // no pointer
		"string": true, "f": true, "c": true, "d": true, "mixed": true, "string-bool": true, "list-u16": true,
	} {
		if got := needsPost(lookupType(t, iface, name)); got != want {
			t.Errorf("needsPost(%s) = %v, want %v", name, got, want)
		}
	}
}

// The contract's core signatures, as wit-bindgen's exports have them (and
// as the host checked them by hand before they were generated).
func TestContractSignatures(t *testing.T) {
	f := parseContract(t)
	want := map[string]string{
		"configure":  "i32 i32 i64 -> i32 area 56/8 post",
		"set-host":   "i32 i32 i32 i32 ->",
		"apply":      "i32 i64 i32 i32 -> i32 area 24/4 post",
		"set-synced": "i32 i32 ->",
		"transfer":   "i32 i32 i32 i32 i32 -> i32 area 28/4 post",
		"autopath":   "i32 i32 i32 i32 -> i32 area 12/4 post",
		"metadata":   "i32 i32 i32 i32 -> i32 area 8/4 post",
		"lookup":     "i32 i32 i32 i32 -> i32 area 40/8 post",
	}
	for _, fn := range f.Interface.Funcs {
		sig, err := signature(fn)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSpace(strings.Join(sig.params, " ") + " -> " + strings.Join(sig.results, " "))
		if sig.area != (layout{}) {
			got += fmt.Sprintf(" area %d/%d", sig.area.size, sig.area.align)
		}
		if sig.post {
			got += " post"
		}
		if got != want[fn.Name] {
			t.Errorf("%s: %s, want %s", fn.Name, got, want[fn.Name])
		}
	}
}

func TestSignatureRefusals(t *testing.T) {
	seventeen := make([]string, 17)
	for i := range seventeen {
		seventeen[i] = fmt.Sprintf("p%d: u32", i)
	}
	for src, want := range map[string]string{
		"f: func(" + strings.Join(seventeen, ", ") + ");": "17 flat parameters, more than 16",
		"f: func() -> u32;": "a result of 1 flat value (u32) is not supported",
	} {
		f, err := Parse("f.wit", "package a:b@1.0.0;\ninterface i {\n"+src+"\n}\nworld w { export i; }\n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signature(f.Interface.Funcs[0]); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("signature(%.30s) = %v, want %q", src, err, want)
		}
	}
}
