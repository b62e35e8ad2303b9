package main

import (
	"fmt"
	"regexp"
	"strings"
)

// The subset of WIT this generator reads: one package, one interface of
// records, enums, variants and functions, one world exporting it. Types:
// bool, u8, u16, u32, u64, s64, f64, string, list, option, result and the
// interface's own named types. Anything else is refused with its line.

// File is a parsed WIT file.
type File struct {
	Path      string
	Package   Package
	Interface *Interface
	World     World
}

// Package is the WIT package: namespace:name@version.
type Package struct {
	Namespace, Name, Version string
}

// Interface is the interface the world exports.
type Interface struct {
	Name  string
	Docs  string
	Types []*TypeDef // in declaration order
	Funcs []*Func    // in declaration order
	named map[string]*TypeDef
}

// World names the one interface it exports.
type World struct {
	Name, Export string
}

// DefKind is what a named type is.
type DefKind int

const (
	Record DefKind = iota
	Enum
	Variant
)

func (k DefKind) String() string { return [...]string{"record", "enum", "variant"}[k] }

// TypeDef is a named type of the interface.
type TypeDef struct {
	Name   string
	Docs   string
	Kind   DefKind
	Fields []Field // record
	Cases  []Case  // enum (no payloads) and variant
	Line   int
}

// Field is a field of a record.
type Field struct {
	Name, Docs string
	Type       Type
}

// Case is a case of an enum or a variant; Type is nil without payload.
type Case struct {
	Name, Docs string
	Type       Type
}

// Func is a function of the interface.
type Func struct {
	Name, Docs string
	Params     []Param
	Result     Type // nil: none
	Line       int
}

// Param is a function parameter.
type Param struct {
	Name string
	Type Type
}

// Type is a WIT type: *Prim, *List, *Option, *Result or *Named.
type Type interface{ wit() string }

// Prim is a primitive type, string included.
type Prim struct{ Name string }

// List is list<Elem>.
type List struct{ Elem Type }

// Option is option<Elem>.
type Option struct{ Elem Type }

// Result is result<Ok, Err>; either may be nil.
type Result struct{ Ok, Err Type }

// Named is a reference to a type of the interface.
type Named struct {
	Name string
	Def  *TypeDef // set once the whole interface is read
	Line int
}

func (t *Prim) wit() string   { return t.Name }
func (t *List) wit() string   { return "list<" + t.Elem.wit() + ">" }
func (t *Option) wit() string { return "option<" + t.Elem.wit() + ">" }
func (t *Named) wit() string  { return t.Name }
func (t *Result) wit() string {
	switch {
	case t.Ok == nil && t.Err == nil:
		return "result"
	case t.Err == nil:
		return "result<" + t.Ok.wit() + ">"
	case t.Ok == nil:
		return "result<_, " + t.Err.wit() + ">"
	}
	return "result<" + t.Ok.wit() + ", " + t.Err.wit() + ">"
}

var primitives = map[string]bool{
	"bool": true, "u8": true, "u16": true, "u32": true, "u64": true, "s64": true, "f64": true, "string": true,
}

// unsupported are WIT keywords and types this generator refuses by name,
// so that the error says what it met rather than "unknown type".
var unsupported = map[string]bool{
	"use": true, "type": true, "flags": true, "resource": true, "tuple": true, "char": true,
	"s8": true, "s16": true, "s32": true, "f32": true, "own": true, "borrow": true, "future": true,
	"stream": true, "import": true, "include": true, "static": true, "constructor": true,
	"async": true, "error-context": true, "map": true, "interface": true,
}

const supportedNote = "this generator reads package, interface, world (one export), record, enum, variant and func, " +
	"with the types bool, u8, u16, u32, u64, s64, f64, string, list, option and result"

// --- lexing

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokPunct // one of { } ( ) < > , : ; = _ . @ / * or ->
	tokDoc   // one /// line, without the slashes
)

type token struct {
	kind tokKind
	text string
	line int
}

var identRE = regexp.MustCompile(`^%?[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*`)

// lex cuts src into tokens; the package declaration's name is read whole
// by the parser (see packageName), so lex keeps its raw text as one token.
func lex(path, src string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "///"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			text := strings.TrimPrefix(src[i+3:i+end], " ")
			toks = append(toks, token{tokDoc, strings.TrimRight(text, " \t\r"), line})
			i += end
		case strings.HasPrefix(src[i:], "//"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated block comment", path, line)
			}
			line += strings.Count(src[i:i+end], "\n")
			i += end + 2
		case strings.HasPrefix(src[i:], "->"):
			toks = append(toks, token{tokPunct, "->", line})
			i += 2
		case strings.ContainsRune("{}()<>,:;=_.@/*", rune(c)):
			toks = append(toks, token{tokPunct, string(c), line})
			i++
		case packageName(toks):
			end := strings.IndexByte(src[i:], ';')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: package declaration without ';'", path, line)
			}
			toks = append(toks, token{tokIdent, strings.TrimSpace(src[i : i+end]), line})
			i += end
		default:
			m := identRE.FindString(src[i:])
			if m == "" {
				return nil, fmt.Errorf("%s:%d: unexpected character %q", path, line, c)
			}
			toks = append(toks, token{tokIdent, m, line})
			i += len(m)
		}
	}
	return append(toks, token{tokEOF, "", line}), nil
}

// packageName reports whether the next token is the package's name: it
// follows the keyword, with nothing but doc comments before.
func packageName(toks []token) bool {
	n := len(toks)
	if n == 0 || toks[n-1].kind != tokIdent || toks[n-1].text != "package" {
		return false
	}
	for _, t := range toks[:n-1] {
		if t.kind != tokDoc {
			return false
		}
	}
	return true
}

// --- parsing

type parser struct {
	path string
	toks []token
	pos  int
}

// Parse reads a WIT file of the supported subset.
func Parse(path, src string) (*File, error) {
	toks, err := lex(path, src)
	if err != nil {
		return nil, err
	}
	p := &parser{path: path, toks: toks}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	f.Path = path
	return f, nil
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.path, line, fmt.Sprintf(format, args...))
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

// docs collects the doc comment lines before the next item.
func (p *parser) docs() string {
	var lines []string
	for p.peek().kind == tokDoc {
		lines = append(lines, p.next().text)
	}
	return strings.Join(lines, "\n")
}

func (p *parser) expect(text string) error {
	t := p.next()
	if t.text != text || t.kind == tokDoc {
		return p.errorf(t.line, "expected %q, found %s", text, describe(t))
	}
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "the end of the file"
	case tokDoc:
		return "a doc comment"
	}
	return fmt.Sprintf("%q", t.text)
}

// ident reads a name, refusing the keywords this generator does not know.
func (p *parser) ident(what string) (string, int, error) {
	t := p.next()
	if t.kind != tokIdent {
		return "", t.line, p.errorf(t.line, "expected %s, found %s", what, describe(t))
	}
	if strings.HasPrefix(t.text, "%") {
		return "", t.line, p.errorf(t.line, "escaped name %s is not supported (%s)", t.text, supportedNote)
	}
	return t.text, t.line, nil
}

var packageRE = regexp.MustCompile(`^([a-z][a-z0-9-]*):([a-z][a-z0-9-]*)(?:@([0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?))?$`)

func (p *parser) file() (*File, error) {
	f := &File{}
	p.docs()
	if t := p.next(); t.text != "package" {
		return nil, p.errorf(t.line, "expected the package declaration, found %s", describe(t))
	}
	t := p.next()
	m := packageRE.FindStringSubmatch(t.text)
	if m == nil {
		return nil, p.errorf(t.line, "package %q is not namespace:name@version", t.text)
	}
	if m[3] == "" {
		return nil, p.errorf(t.line, "package %q has no version: the host checks it in export names", t.text)
	}
	f.Package = Package{m[1], m[2], m[3]}
	if err := p.expect(";"); err != nil {
		return nil, err
	}
	var worlds []World
	for {
		docs := p.docs()
		t := p.next()
		switch t.text {
		case "":
			return f, p.finish(f, worlds, t.line)
		case "interface":
			if f.Interface != nil {
				return nil, p.errorf(t.line, "a second interface: %s", supportedNote)
			}
			iface, err := p.iface(docs)
			if err != nil {
				return nil, err
			}
			f.Interface = iface
		case "world":
			w, err := p.world()
			if err != nil {
				return nil, err
			}
			worlds = append(worlds, w)
		default:
			return nil, p.unexpected(t)
		}
	}
}

// finish checks the file as a whole: one interface, one world exporting it.
func (p *parser) finish(f *File, worlds []World, line int) error {
	if f.Interface == nil {
		return p.errorf(line, "no interface")
	}
	if len(worlds) != 1 {
		return p.errorf(line, "%d worlds, want one", len(worlds))
	}
	f.World = worlds[0]
	if f.World.Export != f.Interface.Name {
		return p.errorf(line, "world %s exports %s, not interface %s", f.World.Name, f.World.Export, f.Interface.Name)
	}
	return nil
}

func (p *parser) unexpected(t token) error {
	if unsupported[t.text] {
		return p.errorf(t.line, "%s is not supported (%s)", t.text, supportedNote)
	}
	return p.errorf(t.line, "unexpected %s", describe(t))
}

func (p *parser) world() (World, error) {
	var w World
	name, _, err := p.ident("a world name")
	if err != nil {
		return w, err
	}
	w.Name = name
	if err := p.expect("{"); err != nil {
		return w, err
	}
	p.docs()
	if t := p.next(); t.text != "export" {
		return w, p.errorf(t.line, "world %s: expected one export, found %s (%s)", name, describe(t), supportedNote)
	}
	if w.Export, _, err = p.ident("an interface name"); err != nil {
		return w, err
	}
	if err := p.expect(";"); err != nil {
		return w, err
	}
	p.docs()
	if t := p.next(); t.text != "}" {
		return w, p.errorf(t.line, "world %s: expected one export, found %s (%s)", name, describe(t), supportedNote)
	}
	return w, nil
}

func (p *parser) iface(docs string) (*Interface, error) {
	name, _, err := p.ident("an interface name")
	if err != nil {
		return nil, err
	}
	iface := &Interface{Name: name, Docs: docs, named: map[string]*TypeDef{}}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	for {
		docs := p.docs()
		t := p.next()
		var def *TypeDef
		switch {
		case t.text == "}":
			return iface, p.resolve(iface)
		case t.text == "record":
			def, err = p.record(docs, t.line)
		case t.text == "enum" || t.text == "variant":
			def, err = p.variant(docs, t)
		case t.kind == tokIdent && !unsupported[t.text] && p.peek().text == ":":
			var fn *Func
			if fn, err = p.function(t, docs); err == nil {
				iface.Funcs = append(iface.Funcs, fn)
			}
		default:
			err = p.unexpected(t)
		}
		if err != nil {
			return nil, err
		}
		if def != nil {
			if iface.named[def.Name] != nil {
				return nil, p.errorf(def.Line, "%s declared twice", def.Name)
			}
			iface.named[def.Name] = def
			iface.Types = append(iface.Types, def)
		}
	}
}

func (p *parser) record(docs string, line int) (*TypeDef, error) {
	name, _, err := p.ident("a record name")
	if err != nil {
		return nil, err
	}
	def := &TypeDef{Name: name, Docs: docs, Kind: Record, Line: line}
	err = p.items(name, func(docs string) error {
		field, _, err := p.ident("a field name")
		if err != nil {
			return err
		}
		if err := p.expect(":"); err != nil {
			return err
		}
		t, err := p.typ()
		def.Fields = append(def.Fields, Field{Name: field, Docs: docs, Type: t})
		return err
	})
	if err == nil && len(def.Fields) == 0 {
		err = p.errorf(line, "record %s has no fields", name)
	}
	return def, err
}

// variant reads an enum or a variant: cases, with a payload for variants.
func (p *parser) variant(docs string, kw token) (*TypeDef, error) {
	name, _, err := p.ident("a type name")
	if err != nil {
		return nil, err
	}
	def := &TypeDef{Name: name, Docs: docs, Kind: Enum, Line: kw.line}
	if kw.text == "variant" {
		def.Kind = Variant
	}
	err = p.items(name, func(docs string) error {
		c, _, err := p.ident("a case name")
		if err != nil {
			return err
		}
		var t Type
		if def.Kind == Variant && p.peek().text == "(" {
			p.next()
			if t, err = p.typ(); err != nil {
				return err
			}
			if err := p.expect(")"); err != nil {
				return err
			}
		}
		def.Cases = append(def.Cases, Case{Name: c, Docs: docs, Type: t})
		return nil
	})
	if err == nil && len(def.Cases) == 0 {
		err = p.errorf(kw.line, "%s %s has no cases", kw.text, name)
	}
	return def, err
}

// items reads `{ item, item, ... }` with an optional trailing comma.
func (p *parser) items(owner string, item func(docs string) error) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	for {
		docs := p.docs()
		if p.peek().text == "}" {
			p.next()
			return nil
		}
		if err := item(docs); err != nil {
			return err
		}
		switch t := p.next(); t.text {
		case ",":
		case "}":
			return nil
		default:
			return p.errorf(t.line, "in %s: expected ',' or '}', found %s", owner, describe(t))
		}
	}
}

func (p *parser) function(name token, docs string) (*Func, error) {
	fn := &Func{Name: name.text, Docs: docs, Line: name.line}
	p.next() // ':'
	if t := p.next(); t.text != "func" {
		return nil, p.unexpected(t)
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	for p.peek().text != ")" {
		pname, _, err := p.ident("a parameter name")
		if err != nil {
			return nil, err
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		t, err := p.typ()
		if err != nil {
			return nil, err
		}
		fn.Params = append(fn.Params, Param{pname, t})
		if p.peek().text == "," {
			p.next()
		}
	}
	p.next() // ')'
	if p.peek().text == "->" {
		p.next()
		t, err := p.typ()
		if err != nil {
			return nil, err
		}
		fn.Result = t
	}
	return fn, p.expect(";")
}

// typ reads a type expression.
func (p *parser) typ() (Type, error) {
	t := p.next()
	if t.kind != tokIdent {
		return nil, p.errorf(t.line, "expected a type, found %s", describe(t))
	}
	switch {
	case primitives[t.text]:
		return &Prim{t.text}, nil
	case t.text == "list" || t.text == "option":
		elem, err := p.args(t, 1, false)
		if err != nil {
			return nil, err
		}
		if t.text == "list" {
			return &List{elem[0]}, nil
		}
		return &Option{elem[0]}, nil
	case t.text == "result":
		if p.peek().text != "<" {
			return &Result{}, nil
		}
		args, err := p.args(t, 2, true)
		if err != nil {
			return nil, err
		}
		r := &Result{Ok: args[0]}
		if len(args) == 2 {
			r.Err = args[1]
		}
		return r, nil
	case unsupported[t.text] || strings.HasPrefix(t.text, "%"):
		return nil, p.unexpected(t)
	}
	return &Named{Name: t.text, Line: t.line}, nil
}

// args reads `<T>` or, for result, `<T>` and `<T, E>` (max 2).
func (p *parser) args(of token, max int, optional bool) ([]Type, error) {
	if err := p.expect("<"); err != nil {
		return nil, err
	}
	var ts []Type
	for {
		if p.peek().text == "_" {
			return nil, p.errorf(p.peek().line, "%s<_, ...> is not supported (%s)", of.text, supportedNote)
		}
		t, err := p.typ()
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
		sep := p.next()
		if sep.text == ">" {
			break
		}
		if sep.text != "," || len(ts) == max {
			return nil, p.errorf(sep.line, "in %s<...>: expected '>', found %s", of.text, describe(sep))
		}
	}
	if len(ts) != max && !optional {
		return nil, p.errorf(of.line, "%s takes %d type arguments", of.text, max)
	}
	return ts, nil
}

// resolve binds every named reference to its definition and refuses
// recursive types (the canonical ABI has none).
func (p *parser) resolve(iface *Interface) error {
	var walk func(t Type, path []string) error
	walk = func(t Type, path []string) error {
		switch t := t.(type) {
		case *List:
			return walk(t.Elem, path)
		case *Option:
			return walk(t.Elem, path)
		case *Result:
			for _, u := range []Type{t.Ok, t.Err} {
				if u != nil {
					if err := walk(u, path); err != nil {
						return err
					}
				}
			}
		case *Named:
			def := iface.named[t.Name]
			if def == nil {
				return p.errorf(t.Line, "unknown type %s", t.Name)
			}
			t.Def = def
			for _, name := range path {
				if name == def.Name {
					return p.errorf(t.Line, "type %s contains itself", def.Name)
				}
			}
			for _, u := range def.types() {
				if err := walk(u, append(path, def.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, def := range iface.Types {
		for _, u := range def.types() {
			if err := walk(u, []string{def.Name}); err != nil {
				return err
			}
		}
	}
	for _, fn := range iface.Funcs {
		for _, prm := range fn.Params {
			if err := walk(prm.Type, nil); err != nil {
				return err
			}
		}
		if fn.Result != nil {
			if err := walk(fn.Result, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// types are the types a definition contains directly.
func (d *TypeDef) types() []Type {
	var ts []Type
	for _, f := range d.Fields {
		ts = append(ts, f.Type)
	}
	for _, c := range d.Cases {
		if c.Type != nil {
			ts = append(ts, c.Type)
		}
	}
	return ts
}
