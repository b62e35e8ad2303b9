package main

import (
	"bytes"
	"fmt"
	"go/format"
	"path/filepath"
	"slices"
	"strings"
)

// What the generated code expects of the hand-written code of its package
// (host-go/internal/engine/abi.go and instance.go):
//
//   - the receiver type (-receiver) with the methods begin(ctx, fn),
//     end(ctx, fn, *error), call(ctx, fn, ...uint64) (uint64, error),
//     startLift(area, size, align) *lifter, finish(ctx, fn, area) error,
//     lowerString, lowerBytes, storeString, storeBytes (ctx, ...) and
//     lowerBlock(ctx, align, []byte) (uint32, error), which allocate in the
//     guest through cabi_realloc and check what it returns;
//   - type lifter, with bool, u8, u16, u32, u64, f64, string, bytes,
//     list(p, size, align) and case8/case16/case32(p, n) reading guest
//     memory with bounds, alignment, UTF-8 and discriminant checks;
//   - le (binary.LittleEndian), putPair, boolByte, checkString, checkBytes,
//     checkLength, type coreFunc and type ResultError;
//   - an Error method on every record a function returns as its error.
//
// The generated code declares the WIT's types, WITInterface, the fn
// numbers of the functions, coreFuncs (their core exports and signatures),
// stackSize, and one method per function that checks, lowers, calls,
// lifts and frees, with the helpers each type needs.

// Options are the generator's settings.
type Options struct {
	Package  string // Go package of the output
	Receiver string // the hand-written type the function methods belong to
}

type generator struct {
	f    *File
	opts Options
	out  bytes.Buffer
	// Types needing helpers, in the order first met (what they contain
	// first); seen has their typeKeys, prefixed by the direction.
	lowered, lifted []Type
	seen            map[string]bool
	// stored are the typeKeys of lowered types that are also stored in
	// memory (in a list or a record), not only passed as parameters.
	stored map[string]bool
}

// Generate writes the Go side of the canonical ABI of f's interface.
func Generate(f *File, opts Options) ([]byte, error) {
	g := &generator{f: f, opts: opts, seen: map[string]bool{}, stored: map[string]bool{}}
	if err := g.collect(); err != nil {
		return nil, err
	}
	g.file()
	src := g.out.Bytes()
	formatted, err := format.Source(src)
	if err != nil {
		return src, fmt.Errorf("formatting the generated code: %w", err)
	}
	return formatted, nil
}

func (g *generator) p(format string, args ...any) {
	fmt.Fprintf(&g.out, format, args...)
	g.out.WriteByte('\n')
}

// collect finds the types the functions lower (parameters) and lift
// (results), with everything they contain, and refuses what this
// generator cannot carry in that direction.
func (g *generator) collect() error {
	for _, fn := range g.f.Interface.Funcs {
		if _, err := signature(fn); err != nil {
			return err
		}
		for _, prm := range fn.Params {
			if err := g.needLower(prm.Type, fmt.Sprintf("function %s, parameter %s", fn.Name, prm.Name), false); err != nil {
				return err
			}
		}
		if fn.Result != nil {
			if err := g.needResult(fn); err != nil {
				return err
			}
		}
	}
	for _, def := range g.f.Interface.Types {
		for _, c := range def.Cases {
			if strings.EqualFold(c.Name, "kind") && def.Kind == Variant {
				return fmt.Errorf("%s:%d: variant %s: a case named kind would clash with the Go field Kind", g.f.Path, def.Line, def.Name)
			}
		}
	}
	return nil
}

// needLower notes that values of t are lowered, in memory or only as
// parameters (flattened).
func (g *generator) needLower(t Type, where string, inMemory bool) error {
	key := typeKey(t)
	if g.seen["lower "+key] && (!inMemory || g.stored[key]) {
		return nil
	}
	if inMemory {
		g.stored[key] = true
	}
	switch t := t.(type) {
	case *Prim:
		return nil
	case *List:
		if err := g.needLower(t.Elem, where, true); err != nil {
			return err
		}
	case *Named:
		switch t.Def.Kind {
		case Variant:
			return fmt.Errorf("%s: lowering variant %s is not supported", where, t.Name)
		case Record:
			for _, f := range t.Def.Fields {
				if err := g.needLower(f.Type, where+", field "+f.Name, inMemory); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("%s: lowering %s is not supported", where, t.wit())
	}
	if !g.seen["lower "+key] {
		g.seen["lower "+key] = true
		g.lowered = append(g.lowered, t)
	}
	return nil
}

// needResult checks a function's result: result<T, E> and option<T> are
// unwrapped into Go results; E must be a record or a string.
func (g *generator) needResult(fn *Func) error {
	where := "function " + fn.Name + ", result"
	t := fn.Result
	if r, ok := t.(*Result); ok {
		if r.Err != nil {
			if !isString(r.Err) && !isRecord(r.Err) {
				return fmt.Errorf("%s: an error of type %s is not supported (a record or a string)", where, r.Err.wit())
			}
			if err := g.needLift(r.Err, where); err != nil {
				return err
			}
		}
		if r.Ok == nil {
			return nil
		}
		t = r.Ok
	}
	if o, ok := t.(*Option); ok {
		t = o.Elem
	}
	return g.needLift(t, where)
}

func (g *generator) needLift(t Type, where string) error {
	key := "lift " + typeKey(t)
	if g.seen[key] {
		return nil
	}
	switch t := t.(type) {
	case *Prim:
		return nil
	case *Result:
		return fmt.Errorf("%s: %s inside another type is not supported", where, t.wit())
	case *List:
		if err := g.needLift(t.Elem, where); err != nil {
			return err
		}
	case *Option:
		if err := g.needLift(t.Elem, where); err != nil {
			return err
		}
	case *Named:
		for _, u := range t.Def.types() {
			if err := g.needLift(u, where+" ("+t.Name+")"); err != nil {
				return err
			}
		}
	}
	g.seen[key] = true
	g.lifted = append(g.lifted, t)
	return nil
}

func isString(t Type) bool { p, ok := t.(*Prim); return ok && p.Name == "string" }
func isBytes(t Type) bool  { l, ok := t.(*List); return ok && isPrim(l.Elem, "u8") }
func isPrim(t Type, name string) bool {
	p, ok := t.(*Prim)
	return ok && p.Name == name
}
func isRecord(t Type) bool { n, ok := t.(*Named); return ok && n.Def.Kind == Record }
func isEnum(t Type) bool   { n, ok := t.(*Named); return ok && n.Def.Kind == Enum }

// --- the file

func (g *generator) file() {
	pkg := g.f.Package
	g.p("// Code generated by internal/witgen from %s (%s:%s@%s); DO NOT EDIT.",
		filepath.ToSlash(filepath.Join(filepath.Base(filepath.Dir(g.f.Path)), filepath.Base(g.f.Path))),
		pkg.Namespace, pkg.Name, pkg.Version)
	g.p("// Run `make generate` after editing the WIT.")
	g.p("")
	g.p("package %s", g.opts.Package)
	g.p("")
	g.p("import (")
	g.p(`"context"`)
	g.p(`"fmt"`)
	if g.lowersF64() {
		g.p(`"math"`)
	}
	g.p("")
	g.p(`"github.com/tetratelabs/wazero/api"`)
	g.p(")")
	g.p("")
	g.exports()
	for _, def := range g.f.Interface.Types {
		g.typeDecl(def)
	}
	for _, fn := range g.f.Interface.Funcs {
		g.method(fn)
	}
	for _, t := range g.lowered {
		g.lowerHelpers(t)
	}
	for _, t := range g.lifted {
		g.liftHelper(t)
	}
}

func (g *generator) lowersF64() bool {
	return slices.ContainsFunc(g.lowered, func(t Type) bool {
		n, ok := t.(*Named)
		return ok && slices.ContainsFunc(n.Def.Fields, func(f Field) bool { return isPrim(f.Type, "f64") })
	}) || slices.ContainsFunc(g.f.Interface.Funcs, func(fn *Func) bool {
		return slices.ContainsFunc(fn.Params, func(p Param) bool { return isPrim(p.Type, "f64") })
	})
}

// exports writes the interface's name and the table of its core exports.
func (g *generator) exports() {
	pkg, iface := g.f.Package, g.f.Interface
	prefix := fmt.Sprintf("%s:%s/%s@", pkg.Namespace, pkg.Name, iface.Name)
	g.p("// WITInterface is the WIT interface, with its package version, whose")
	g.p("// canonical ABI this host speaks: its core exports are named after it.")
	g.p("const WITInterface = %q", prefix+pkg.Version)
	g.p("")
	g.p("// witInterfacePrefix precedes the version in core export names.")
	g.p("const witInterfacePrefix = %q", prefix)
	g.p("")
	g.p("// fn numbers the functions of interface %s.", iface.Name)
	g.p("type fn int")
	g.p("")
	g.p("const (")
	for i, fn := range iface.Funcs {
		if i == 0 {
			g.p("fn%s fn = iota", goName(fn.Name))
		} else {
			g.p("fn%s", goName(fn.Name))
		}
	}
	g.p("fnCount")
	g.p(")")
	g.p("")
	g.p("// coreFuncs are the core exports of the functions, with the signatures")
	g.p("// the canonical ABI gives them, and the cabi_post_ export of those whose")
	g.p("// results the guest frees.")
	g.p("var coreFuncs = [fnCount]coreFunc{")
	stack := 4 // cabi_realloc's parameters
	used := map[string]bool{i32: true}
	for _, fn := range iface.Funcs {
		sig, _ := signature(fn) // checked by collect
		export := prefix + pkg.Version + "#" + fn.Name
		post := ""
		if sig.post {
			post = "cabi_post_" + export
		}
		g.p("fn%s: {", goName(fn.Name))
		g.p("wit: %q,", fn.Name)
		g.p("export: %q,", export)
		g.p("post: %q,", post)
		g.p("params: %s,", valueTypes(sig.params))
		g.p("results: %s,", valueTypes(sig.results))
		g.p("},")
		stack = max(stack, len(sig.params), len(sig.results))
		for _, t := range append(sig.params, sig.results...) {
			used[t] = true
		}
	}
	g.p("}")
	g.p("")
	g.p("// Core value types of the signatures.")
	g.p("const (")
	for _, t := range []string{i32, i64, f32, f64} {
		if used[t] {
			g.p("%s = api.ValueType%s", t, strings.ToUpper(t[:1])+t[1:])
		}
	}
	g.p(")")
	g.p("")
	g.p("// stackSize fits the parameters and results of every core export.")
	g.p("const stackSize = %d", stack)
	g.p("")
}

func valueTypes(ts []string) string {
	if len(ts) == 0 {
		return "nil"
	}
	return "[]api.ValueType{" + strings.Join(ts, ", ") + "}"
}

// --- types

func (g *generator) typeDecl(def *TypeDef) {
	name := goName(def.Name)
	l := layoutOf(&Named{Name: def.Name, Def: def})
	g.p("// %s is %s %s of the WIT.", name, def.Kind, def.Name)
	if def.Docs != "" {
		g.p("//")
		g.out.WriteString(comment(def.Docs))
	}
	switch def.Kind {
	case Record:
		offsets, _, _ := fieldOffsets(def)
		var at []string
		for i, f := range def.Fields {
			at = append(at, fmt.Sprintf("%s @%d", f.Name, offsets[i]))
		}
		g.p("//")
		g.p("// Canonical ABI: %d bytes aligned to %d; %s.", l.size, l.align, strings.Join(at, ", "))
		g.p("type %s struct {", name)
		for _, f := range def.Fields {
			g.out.WriteString(comment(f.Docs))
			g.p("%s %s", goName(f.Name), goType(f.Type))
		}
		g.p("}")
		g.p("")
		if slices.ContainsFunc(g.f.Interface.Funcs, func(fn *Func) bool { return returnsError(fn, def) }) {
			g.p("var _ error = (*%s)(nil) // returned as a function's error: Error is hand-written", name)
			g.p("")
		}
	case Enum:
		g.p("//")
		g.p("// Canonical ABI: a %d-byte discriminant.", discSize(len(def.Cases)))
		g.p("type %s %s", name, discType(len(def.Cases)))
		g.p("")
		g.enumConsts(name, name, def)
	case Variant:
		g.variantDecl(name, def, l)
	}
}

func returnsError(fn *Func, def *TypeDef) bool {
	r, ok := fn.Result.(*Result)
	if !ok || r.Err == nil {
		return false
	}
	n, ok := r.Err.(*Named)
	return ok && n.Def == def
}

func discType(n int) string {
	return map[uint32]string{1: "uint8", 2: "uint16", 4: "uint32"}[discSize(n)]
}

// enumConsts writes the constants of an enum (or of a variant's cases,
// typ being its Kind type), with String, and check if lowered.
func (g *generator) enumConsts(typ, prefix string, def *TypeDef) {
	g.p("const (")
	for i, c := range def.Cases {
		g.out.WriteString(comment(c.Docs))
		if i == 0 {
			g.p("%s%s %s = iota", prefix, goName(c.Name), typ)
		} else {
			g.p("%s%s", prefix, goName(c.Name))
		}
	}
	g.p(")")
	g.p("")
	names := make([]string, len(def.Cases))
	for i, c := range def.Cases {
		names[i] = fmt.Sprintf("%q", c.Name)
	}
	g.p("// String returns the WIT name of the case.")
	g.p("func (x %s) String() string {", typ)
	g.p("if uint64(x) < %d {", len(def.Cases))
	g.p("return [...]string{%s}[x]", strings.Join(names, ", "))
	g.p("}")
	g.p("return fmt.Sprintf(\"%s(%%d)\", x)", def.Name)
	g.p("}")
	g.p("")
	if g.seen["lower "+goName(def.Name)] {
		g.p("// check refuses a value that is no case of %s.", def.Name)
		g.p("func (x %s) check() error {", typ)
		g.p("if uint64(x) >= %d {", len(def.Cases))
		g.p("return fmt.Errorf(\"%%d is no case of %s\", x)", def.Name)
		g.p("}")
		g.p("return nil")
		g.p("}")
		g.p("")
	}
}

func (g *generator) variantDecl(name string, def *TypeDef, l layout) {
	cs := cases(&Named{Name: def.Name, Def: def})
	g.p("//")
	g.p("// One case, named by Kind, with its payload (if it has one) in the")
	g.p("// field of the same name; the other fields are zero.")
	g.p("//")
	g.p("// Canonical ABI: %d bytes aligned to %d; a %d-byte discriminant, payloads @%d.",
		l.size, l.align, discSize(len(cs)), payloadOffset(cs))
	g.p("type %s struct {", name)
	g.p("Kind %sKind", name)
	for _, c := range def.Cases {
		if c.Type != nil {
			g.out.WriteString(comment(c.Docs))
			g.p("%s %s", goName(c.Name), goType(c.Type))
		}
	}
	g.p("}")
	g.p("")
	g.p("// %sKind is a case of variant %s.", name, def.Name)
	g.p("type %sKind %s", name, discType(len(def.Cases)))
	g.p("")
	g.enumConsts(name+"Kind", name, def)
}

// goType is the Go type of a WIT type in a field or a list: an option is
// a pointer, or for a list, a slice that is nil when the option is none.
func goType(t Type) string {
	switch t := t.(type) {
	case *Prim:
		return map[string]string{
			"bool": "bool", "u8": "uint8", "u16": "uint16", "u32": "uint32",
			"u64": "uint64", "s64": "int64", "f64": "float64", "string": "string",
		}[t.Name]
	case *List:
		if isPrim(t.Elem, "u8") {
			return "[]byte"
		}
		return "[]" + goType(t.Elem)
	case *Option:
		if _, ok := t.Elem.(*List); ok {
			return goType(t.Elem)
		}
		return "*" + goType(t.Elem)
	case *Named:
		return goName(t.Name)
	}
	panic("goType: " + t.wit()) // results are refused by collect
}

func zero(t Type) string {
	switch t := t.(type) {
	case *Prim:
		switch t.Name {
		case "bool":
			return "false"
		case "string":
			return `""`
		}
		return "0"
	case *Named:
		if t.Def.Kind != Enum {
			return goName(t.Name) + "{}"
		}
		return "0"
	}
	return "nil"
}
