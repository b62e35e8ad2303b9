package main

import (
	"fmt"
	"strings"
)

// method writes the receiver's method for one function: check every
// argument, lower them (through cabi_realloc), call the export, lift its
// results from the return area, and free it (cabi_post_*).
func (g *generator) method(fn *Func) {
	sig, _ := signature(fn)
	name, id := goName(fn.Name), "fn"+goName(fn.Name)
	results, zeros := g.results(fn)
	var params []string
	for _, prm := range fn.Params {
		params = append(params, goParam(prm.Name)+" "+goType(prm.Type))
	}
	g.p("// %s calls %s through the canonical ABI.", name, fn.Name)
	if fn.Docs != "" {
		g.p("//")
		g.out.WriteString(comment(fn.Docs))
	}
	g.p("func (in *%s) %s(ctx context.Context, %s) (%s) {", g.opts.Receiver, name, strings.Join(params, ", "), results)
	fail := "return " + strings.Join(append(zeros, "err"), ", ")
	for _, prm := range fn.Params {
		if check := checkCall(prm.Type, goParam(prm.Name)); check != "" {
			g.p("if err := %s; err != nil {", check)
			g.p("return %s", strings.Join(append(zeros, fmt.Sprintf("fmt.Errorf(\"%s: %s%s%%w\", err)", fn.Name, prm.Name, checkSep(prm.Type))), ", "))
			g.p("}")
		}
	}
	g.p("in.begin(ctx, %s)", id)
	g.p("defer in.end(ctx, %s, &err)", id)
	var flat []string
	for _, prm := range fn.Params {
		flat = g.lowerFlat(prm.Type, goParam(prm.Name), flat, fail)
	}
	args := strings.Join(append([]string{"ctx", id}, flat...), ", ")
	if fn.Result == nil {
		g.p("_, err = in.call(%s)", args)
		g.p("return err")
		g.p("}")
		g.p("")
		return
	}
	g.p("area, err := in.call(%s)", args)
	g.p("if err != nil {")
	g.p("%s", fail)
	g.p("}")
	g.p("a := uint32(area)")
	g.p("l := in.startLift(a, %d, %d)", sig.area.size, sig.area.align)
	g.liftResult(fn)
	g.p("if err := in.finish(ctx, %s, a); err != nil {", id)
	g.p("%s", fail)
	g.p("}")
	g.p("return %s", strings.Join(g.returned(fn), ", "))
	g.p("}")
	g.p("")
}

// results are a function's Go results: a result<T, E> is (T, error), an
// option<T> is (T, bool), anything else (T, error).
func (g *generator) results(fn *Func) (decl string, zeros []string) {
	t := fn.Result
	if r, ok := t.(*Result); ok {
		t = r.Ok
	}
	var out []string
	if o, ok := t.(*Option); ok {
		out = append(out, "_ "+goType(o.Elem), "_ bool")
		zeros = append(zeros, zero(o.Elem), "false")
	} else if t != nil {
		out = append(out, "_ "+goType(t))
		zeros = append(zeros, zero(t))
	}
	return strings.Join(append(out, "err error"), ", "), zeros
}

// returned are the values a method returns on success.
func (g *generator) returned(fn *Func) []string {
	t := fn.Result
	var out []string
	r, isResult := t.(*Result)
	if isResult {
		t = r.Ok
	}
	if _, ok := t.(*Option); ok {
		out = append(out, "r0", "ok")
	} else if t != nil {
		out = append(out, "r0")
	}
	if isResult && r.Err != nil {
		return append(out, "rerr")
	}
	return append(out, "nil")
}

// liftResult reads the return area, at a, into r0 (and ok, rerr).
func (g *generator) liftResult(fn *Func) {
	r, isResult := fn.Result.(*Result)
	if !isResult {
		g.liftValue(fn.Result, "a", 0, true)
		return
	}
	at := payloadOffset(cases(r))
	if r.Ok != nil {
		g.p("var r0 %s", goType(unwrapOption(r.Ok)))
		if _, ok := r.Ok.(*Option); ok {
			g.p("var ok bool")
		}
	}
	g.p("var rerr error")
	g.p("if l.case8(a, 2) == 0 {")
	if r.Ok != nil {
		g.liftValue(r.Ok, "a", at, false)
	}
	g.p("} else {")
	switch {
	case r.Err == nil:
		g.p("rerr = &ResultError{Func: %q}", fn.Name)
	case isString(r.Err):
		g.p("rerr = &ResultError{Func: %q, Message: l.string(%s)}", fn.Name, addr("a", at))
	default:
		g.p("e := %s", liftExpr(r.Err, addr("a", at)))
		g.p("rerr = &e")
	}
	g.p("}")
}

func unwrapOption(t Type) Type {
	if o, ok := t.(*Option); ok {
		return o.Elem
	}
	return t
}

// liftValue lifts t at base+off into r0 (and ok, for an option),
// declaring them if declare.
func (g *generator) liftValue(t Type, base string, off uint32, declare bool) {
	o, isOption := t.(*Option)
	if !isOption {
		if declare {
			g.p("r0 := %s", liftExpr(t, addr(base, off)))
		} else {
			g.p("r0 = %s", liftExpr(t, addr(base, off)))
		}
		return
	}
	if declare {
		g.p("var r0 %s", goType(o.Elem))
		g.p("ok := l.case8(%s, 2) == 1", addr(base, off))
		g.p("if ok {")
	} else {
		g.p("if ok = l.case8(%s, 2) == 1; ok {", addr(base, off))
	}
	g.p("r0 = %s", liftExpr(o.Elem, addr(base, off+payloadOffset(cases(o)))))
	g.p("}")
}

// addr is the expression of address base plus off.
func addr(base string, off uint32) string {
	if off == 0 {
		return base
	}
	return fmt.Sprintf("%s+%d", base, off)
}

// lowerFlat lowers a parameter to its flat core values, appended to flat.
func (g *generator) lowerFlat(t Type, src string, flat []string, fail string) []string {
	switch t := t.(type) {
	case *Prim:
		switch t.Name {
		case "string": // (ptr, len), below
		case "u64":
			return append(flat, src)
		case "bool":
			return append(flat, "uint64(boolByte("+src+"))")
		case "f64":
			return append(flat, "math.Float64bits("+src+")")
		default:
			return append(flat, "uint64("+src+")")
		}
	case *Named:
		if t.Def.Kind == Enum {
			return append(flat, "uint64("+src+")")
		}
		for _, f := range t.Def.Fields {
			flat = g.lowerFlat(f.Type, src+"."+goName(f.Name), flat, fail)
		}
		return flat
	}
	n := len(flat)
	ptr, length := fmt.Sprintf("p%d", n), fmt.Sprintf("p%d", n+1)
	g.p("%s, %s, err := %s", ptr, length, lowerCall(t, src))
	g.p("if err != nil {")
	g.p("%s", fail)
	g.p("}")
	return append(flat, "uint64("+ptr+")", "uint64("+length+")")
}

// lowerCall is the call that lowers a string or list to (ptr, len).
func lowerCall(t Type, src string) string {
	switch {
	case isString(t):
		return "in.lowerString(ctx, " + src + ")"
	case isBytes(t):
		return "in.lowerBytes(ctx, " + src + ")"
	}
	return "in.lower" + typeKey(t) + "(ctx, " + src + ")"
}

// --- checks

// checkable reports whether values of t can be invalid for the guest:
// strings must be UTF-8, enums one of their cases, and strings and lists
// no longer than the canonical ABI lets the guest lift.
func checkable(t Type) bool {
	return contains(t, func(u Type) bool { return isPointer(u) || isEnum(u) })
}

// checkCall is the expression checking src of type t, or "".
func checkCall(t Type, src string) string {
	if !checkable(t) {
		return ""
	}
	switch {
	case isString(t):
		return "checkString(" + src + ")"
	case isBytes(t):
		return "checkBytes(" + src + ")"
	}
	if _, ok := t.(*List); ok {
		return "check" + typeKey(t) + "(" + src + ")"
	}
	return src + ".check()"
}

// checkSep joins a place to what its check reports: name: "x" is not...,
// list[3]: ..., record.field: ....
func checkSep(t Type) string {
	switch t.(type) {
	case *List:
		return ""
	case *Named:
		if isRecord(t) {
			return "."
		}
	}
	return ": "
}

// --- lowering helpers

func (g *generator) lowerHelpers(t Type) {
	switch t := t.(type) {
	case *List:
		g.listCheck(t)
		if !isBytes(t) {
			g.lowerList(t)
		}
	case *Named:
		if t.Def.Kind == Record {
			g.recordCheck(t)
			if g.stored[typeKey(t)] {
				g.store(t)
			}
		}
	}
}

func (g *generator) listCheck(t *List) {
	if isBytes(t) {
		return // checkBytes
	}
	g.p("func check%s(xs %s) error {", typeKey(t), goType(t))
	g.p("if err := checkLength(len(xs), %d); err != nil {", layoutOf(t.Elem).size)
	g.p("return err")
	g.p("}")
	if checkable(t.Elem) {
		g.p("for i := range xs {")
		g.p("if err := %s; err != nil {", checkCall(t.Elem, "xs[i]"))
		g.p("return fmt.Errorf(\"[%%d]%s%%w\", i, err)", checkSep(t.Elem))
		g.p("}")
		g.p("}")
	}
	g.p("return nil")
	g.p("}")
	g.p("")
}

func (g *generator) recordCheck(t *Named) {
	if !checkable(t) {
		return
	}
	g.p("// check refuses what the guest could not lift.")
	g.p("func (x *%s) check() error {", goName(t.Name))
	for _, f := range t.Def.Fields {
		if check := checkCall(f.Type, "x."+goName(f.Name)); check != "" {
			g.p("if err := %s; err != nil {", check)
			g.p("return fmt.Errorf(\"%s%s%%w\", err)", f.Name, checkSep(f.Type))
			g.p("}")
		}
	}
	g.p("return nil")
	g.p("}")
	g.p("")
}

// store writes storeT, which lowers a record into b (its bytes in a
// list being built), lowering what its fields point to first.
func (g *generator) store(t *Named) {
	offsets, _, _ := fieldOffsets(t.Def)
	g.p("func (in *%s) store%s(ctx context.Context, b []byte, x *%s) error {", g.opts.Receiver, goName(t.Name), goName(t.Name))
	for i, f := range t.Def.Fields {
		g.storeField(f.Type, "b", offsets[i], "x."+goName(f.Name), "return err")
	}
	g.p("return nil")
	g.p("}")
	g.p("")
}

// storeField writes a value of t at b[off:].
func (g *generator) storeField(t Type, b string, off uint32, src, fail string) {
	at := fmt.Sprintf("%s[%d:]", b, off)
	if off == 0 {
		at = b
	}
	switch t := t.(type) {
	case *Prim:
		switch t.Name {
		case "bool":
			g.p("%s[%d] = boolByte(%s)", b, off, src)
		case "u8":
			g.p("%s[%d] = %s", b, off, src)
		case "u16":
			g.p("le.PutUint16(%s, %s)", at, src)
		case "u32":
			g.p("le.PutUint32(%s, %s)", at, src)
		case "u64":
			g.p("le.PutUint64(%s, %s)", at, src)
		case "s64":
			g.p("le.PutUint64(%s, uint64(%s))", at, src)
		case "f64":
			g.p("le.PutUint64(%s, math.Float64bits(%s))", at, src)
		case "string":
			g.p("if err := in.storeString(ctx, %s, %s); err != nil {", at, src)
			g.p("%s", fail)
			g.p("}")
		}
		return
	case *Named:
		if t.Def.Kind == Enum {
			switch discSize(len(t.Def.Cases)) {
			case 1:
				g.p("%s[%d] = byte(%s)", b, off, src)
			case 2:
				g.p("le.PutUint16(%s, uint16(%s))", at, src)
			default:
				g.p("le.PutUint32(%s, uint32(%s))", at, src)
			}
			return
		}
		g.p("if err := in.store%s(ctx, %s, &%s); err != nil {", goName(t.Name), at, src)
	default:
		if isBytes(t) {
			g.p("if err := in.storeBytes(ctx, %s, %s); err != nil {", at, src)
		} else {
			g.p("if err := in.store%s(ctx, %s, %s); err != nil {", typeKey(t), at, src)
		}
	}
	g.p("%s", fail)
	g.p("}")
}

// lowerList writes lowerListT, which lowers a list to guest memory, and
// storeListT, which lowers one and stores its (ptr, len) at b.
func (g *generator) lowerList(t *List) {
	key, el := typeKey(t), layoutOf(t.Elem)
	g.p("func (in *%s) lower%s(ctx context.Context, xs %s) (ptr, n uint32, err error) {", g.opts.Receiver, key, goType(t))
	g.p("if len(xs) == 0 {")
	g.p("return %d, 0, nil // any aligned address will do", el.align)
	g.p("}")
	g.p("b := make([]byte, len(xs)*%d)", el.size)
	g.p("for i := range xs {")
	g.storeField(t.Elem, fmt.Sprintf("b[i*%d:]", el.size), 0, "xs[i]", "return 0, 0, err")
	g.p("}")
	g.p("ptr, err = in.lowerBlock(ctx, %d, b)", el.align)
	g.p("return ptr, uint32(len(xs)), err")
	g.p("}")
	g.p("")
	if !g.stored[key] {
		return
	}
	g.p("func (in *%s) store%s(ctx context.Context, b []byte, xs %s) error {", g.opts.Receiver, key, goType(t))
	g.p("ptr, n, err := in.lower%s(ctx, xs)", key)
	g.p("putPair(b, ptr, n)")
	g.p("return err")
	g.p("}")
	g.p("")
}

// --- lifting helpers

// liftExpr is the expression lifting a value of t at address p.
func liftExpr(t Type, p string) string {
	switch t := t.(type) {
	case *Prim:
		if t.Name == "s64" {
			return "int64(l.u64(" + p + "))"
		}
		return "l." + t.Name + "(" + p + ")"
	case *List:
		if isBytes(t) {
			return "l.bytes(" + p + ")"
		}
	case *Named:
		if t.Def.Kind == Enum {
			return fmt.Sprintf("%s(l.case%d(%s, %d))", goName(t.Name), 8*discSize(len(t.Def.Cases)), p, len(t.Def.Cases))
		}
	}
	return "lift" + typeKey(t) + "(l, " + p + ")"
}

func (g *generator) liftHelper(t Type) {
	switch t := t.(type) {
	case *List:
		if isBytes(t) {
			return
		}
		el := layoutOf(t.Elem)
		g.p("func lift%s(l *lifter, p uint32) %s {", typeKey(t), goType(t))
		g.p("base, n := l.list(p, %d, %d)", el.size, el.align)
		g.p("out := make(%s, n)", goType(t))
		g.p("for i := range n {")
		g.p("out[i] = %s", liftExpr(t.Elem, fmt.Sprintf("base+i*%d", el.size)))
		g.p("}")
		g.p("return out")
		g.p("}")
	case *Option:
		g.p("func lift%s(l *lifter, p uint32) %s {", typeKey(t), goType(t))
		g.p("if l.case8(p, 2) == 0 {")
		g.p("return nil")
		g.p("}")
		value := liftExpr(t.Elem, addr("p", payloadOffset(cases(t))))
		if _, ok := t.Elem.(*List); ok {
			g.p("return %s", value)
		} else {
			g.p("v := %s", value)
			g.p("return &v")
		}
		g.p("}")
	case *Named:
		switch t.Def.Kind {
		case Record:
			g.liftRecord(t)
		case Variant:
			g.liftVariant(t)
		default:
			return // inline: liftExpr
		}
	default:
		return
	}
	g.p("")
}

func (g *generator) liftRecord(t *Named) {
	offsets, _, _ := fieldOffsets(t.Def)
	g.p("func lift%s(l *lifter, p uint32) %s {", goName(t.Name), goName(t.Name))
	g.p("return %s{", goName(t.Name))
	for i, f := range t.Def.Fields {
		g.p("%s: %s,", goName(f.Name), liftExpr(f.Type, addr("p", offsets[i])))
	}
	g.p("}")
	g.p("}")
}

func (g *generator) liftVariant(t *Named) {
	name, cs := goName(t.Name), cases(t)
	g.p("func lift%s(l *lifter, p uint32) (x %s) {", name, name)
	g.p("x.Kind = %sKind(l.case%d(p, %d))", name, 8*discSize(len(cs)), len(cs))
	g.p("switch x.Kind {")
	for _, c := range t.Def.Cases {
		if c.Type != nil {
			g.p("case %s%s:", name, goName(c.Name))
			g.p("x.%s = %s", goName(c.Name), liftExpr(c.Type, addr("p", payloadOffset(cs))))
		}
	}
	g.p("}")
	g.p("return x")
	g.p("}")
}
