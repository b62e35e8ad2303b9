package main

import "fmt"

// The Component Model's canonical ABI, for the types this generator reads
// (CanonicalABI.md in WebAssembly/component-model: alignment, elem_size,
// flatten_type, flatten_functype), on 32-bit memories with UTF-8 strings.
//
// option, result and enum are variants (despecialize): option is
// none | some(T), result is ok(T?) | error(E?), an enum's cases have no
// payload. A variant stores its discriminant first, in the smallest of
// u8, u16, u32 that numbers its cases, then its payload at the largest
// alignment of any case; its alignment is the larger of the two, and its
// size is rounded up to it. Records lay out their fields in order, each at
// its alignment, and round their size up to the largest.

const (
	// maxFlatParams: a function with more flat parameters passes them in
	// memory (not supported here).
	maxFlatParams = 16
	// maxFlatResults: a function with more flat results returns a pointer
	// to them (its return area).
	maxFlatResults = 1
)

// Core value types of flattened signatures.
const (
	i32 = "i32"
	i64 = "i64"
	f32 = "f32"
	f64 = "f64"
)

// layout is a type's size and alignment in linear memory.
type layout struct{ size, align uint32 }

// vcase is a case of a variant, option, result or enum, despecialized.
type vcase struct {
	name string
	typ  Type // nil: no payload
}

// cases returns the cases of a type that is a variant once despecialized,
// or nil for any other type.
func cases(t Type) []vcase {
	switch t := t.(type) {
	case *Option:
		return []vcase{{"none", nil}, {"some", t.Elem}}
	case *Result:
		return []vcase{{"ok", t.Ok}, {"error", t.Err}}
	case *Named:
		if t.Def.Kind == Record {
			return nil
		}
		out := make([]vcase, len(t.Def.Cases))
		for i, c := range t.Def.Cases {
			out[i] = vcase{c.Name, c.Type}
		}
		return out
	}
	return nil
}

// discSize is the size (and alignment) of the discriminant of n cases.
func discSize(n int) uint32 {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

func alignTo(n, align uint32) uint32 { return (n + align - 1) / align * align }

var primLayouts = map[string]layout{
	"bool": {1, 1}, "u8": {1, 1}, "u16": {2, 2}, "u32": {4, 4},
	"u64": {8, 8}, "s64": {8, 8}, "f64": {8, 8}, "string": {8, 4},
}

// layoutOf is the size and alignment of t.
func layoutOf(t Type) layout {
	switch t := t.(type) {
	case *Prim:
		return primLayouts[t.Name]
	case *List:
		return layout{8, 4}
	case *Named:
		if t.Def.Kind == Record {
			return recordLayout(t.Def)
		}
	}
	cs := cases(t)
	disc := discSize(len(cs))
	payload := payloadOffset(cs)
	var size uint32
	for _, c := range cs {
		if c.typ != nil {
			size = max(size, layoutOf(c.typ).size)
		}
	}
	align := max(disc, maxCaseAlign(cs))
	return layout{alignTo(payload+size, align), align}
}

func maxCaseAlign(cs []vcase) uint32 {
	a := uint32(1)
	for _, c := range cs {
		if c.typ != nil {
			a = max(a, layoutOf(c.typ).align)
		}
	}
	return a
}

// payloadOffset is where every case's payload starts.
func payloadOffset(cs []vcase) uint32 { return alignTo(discSize(len(cs)), maxCaseAlign(cs)) }

func recordLayout(d *TypeDef) layout {
	_, end, align := fieldOffsets(d)
	return layout{alignTo(end, align), align}
}

// fieldOffsets returns where each field of a record starts, where the last
// one ends and the record's alignment.
func fieldOffsets(d *TypeDef) (offsets []uint32, end, align uint32) {
	align = 1
	for _, f := range d.Fields {
		l := layoutOf(f.Type)
		end = alignTo(end, l.align)
		offsets = append(offsets, end)
		end += l.size
		align = max(align, l.align)
	}
	return offsets, end, align
}

// flatten is the sequence of core values a value of t is passed as.
func flatten(t Type) []string {
	switch t := t.(type) {
	case *Prim:
		switch t.Name {
		case "u64", "s64":
			return []string{i64}
		case "f64":
			return []string{f64}
		case "string":
			return []string{i32, i32}
		}
		return []string{i32}
	case *List:
		return []string{i32, i32}
	case *Named:
		if t.Def.Kind == Record {
			var flat []string
			for _, f := range t.Def.Fields {
				flat = append(flat, flatten(f.Type)...)
			}
			return flat
		}
	}
	cs := cases(t)
	var flat []string
	for _, c := range cs {
		if c.typ == nil {
			continue
		}
		for i, ft := range flatten(c.typ) {
			if i < len(flat) {
				flat[i] = join(flat[i], ft)
			} else {
				flat = append(flat, ft)
			}
		}
	}
	return append([]string{i32}, flat...) // every discriminant flattens to i32
}

// join is the core type that can carry both a and b.
func join(a, b string) string {
	switch {
	case a == b:
		return a
	case (a == i32 && b == f32) || (a == f32 && b == i32):
		return i32
	}
	return i64
}

// needsPost reports whether a result of type t points to memory the guest
// must free afterwards, in which case the guest exports cabi_post_<func>.
func needsPost(t Type) bool { return contains(t, isPointer) }

// isPointer reports whether t is stored as a pointer and a length.
func isPointer(t Type) bool {
	_, isList := t.(*List)
	return isList || isString(t)
}

// contains reports whether t, or a field or payload in it, satisfies is.
func contains(t Type, is func(Type) bool) bool {
	if is(t) {
		return true
	}
	var parts []Type
	if n, ok := t.(*Named); ok && n.Def.Kind == Record {
		for _, f := range n.Def.Fields {
			parts = append(parts, f.Type)
		}
	}
	for _, c := range cases(t) {
		parts = append(parts, c.typ)
	}
	for _, u := range parts {
		if u != nil && contains(u, is) {
			return true
		}
	}
	return false
}

// coreSig is how a function is called as a core export.
type coreSig struct {
	params  []string
	results []string
	// area is the return area's layout when the results are returned in
	// memory (results is then the area's address); zero otherwise.
	area layout
	post bool // the guest exports cabi_post_<func>
}

// signature flattens a function as the canonical ABI lifts an export.
// Parameters spilled to memory and results returned as one flat value are
// not supported: this contract has none.
func signature(fn *Func) (coreSig, error) {
	var sig coreSig
	for _, p := range fn.Params {
		sig.params = append(sig.params, flatten(p.Type)...)
	}
	if len(sig.params) > maxFlatParams {
		return sig, fmt.Errorf("function %s: %d flat parameters, more than %d: passing parameters in memory is not supported",
			fn.Name, len(sig.params), maxFlatParams)
	}
	if fn.Result == nil {
		return sig, nil
	}
	if n := len(flatten(fn.Result)); n <= maxFlatResults {
		return sig, fmt.Errorf("function %s: a result of %d flat value (%s) is not supported: only results returned in memory are",
			fn.Name, n, fn.Result.wit())
	}
	sig.results = []string{i32}
	sig.area = layoutOf(fn.Result)
	sig.post = needsPost(fn.Result)
	return sig, nil
}
