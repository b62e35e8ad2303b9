package wasm

import (
	"errors"
	"fmt"
	"strings"
)

// Instrument rewrites the core module so that the host can cut off a call
// that runs too long (why this and not wazero's close-on-context-done, and
// why these places: host-go/internal/engine/RATIONALE.md):
//
//   - two mutable i32 globals are appended to the global index space
//     (existing indices stay valid): $interrupt, 0 at instantiation and
//     exported as InterruptExport, and $fuel, fuelPerYield;
//   - a function $yield is appended to the function index space: it makes
//     wazero run Go code (`memory.grow 0`, which wazero implements in Go:
//     the scheduler can stop the goroutine there), traps if $interrupt is
//     set, and refills $fuel;
//   - every loop body, and the body of every function that may call
//     itself (directly or not), starts with a check point:
//     `$fuel -= 1; if $fuel == 0 { call $yield }`. A call_indirect counts
//     as a call to every function of its type whose address is taken.
//
// A guest thus comes back to Go at least every fuelPerYield check points,
// and traps within as many after the host sets $interrupt.
//
// The rewriter decodes every instruction of every function to find loops,
// so it must know the immediates of every opcode the module may contain:
// MVP, sign extension, non-trapping float-to-int, bulk memory, reference
// types, multi-value block types and SIMD. A module using anything else
// (threads, tail calls, exceptions, GC, ...) is refused with ErrUnsupported
// before wazero sees it.

const (
	// InterruptExport names the exported interrupt global. A module that
	// already exports this name is refused.
	InterruptExport = "kubernetai-interrupt"

	// fuelPerYield is the number of check points between two returns to
	// Go. A return costs about as much as a few hundred check points,
	// and a loop iteration takes a few nanoseconds: this keeps the first
	// negligible and the time between returns (how long a stop-the-world
	// may wait, how late an interrupt may land) well under a millisecond.
	fuelPerYield = 1 << 14
)

var (
	// ErrUnsupported: the core module uses a WebAssembly feature this host
	// cannot instrument.
	ErrUnsupported = errors.New("core module uses a WebAssembly feature this host does not support")
	// ErrRequirement: the core module lacks what the instrumentation needs
	// (a memory to grow) or exports the name it reserves (InterruptExport).
	ErrRequirement = errors.New("core module does not meet the host's requirements")
)

// Section ids of a core module.
const (
	sectionCustom    = 0
	sectionType      = 1
	sectionFunction  = 3
	sectionMemory    = 5
	sectionGlobal    = 6
	sectionExport    = 7
	sectionElement   = 9
	sectionCode      = 10
	sectionDataCount = 12
	sectionTag       = 13
)

// sectionRank is the order non-custom sections must appear in.
var sectionRank = map[byte]int{
	sectionType: 1, sectionImport: 2, sectionFunction: 3, 4: 4, sectionMemory: 5, sectionTag: 6,
	sectionGlobal: 7, sectionExport: 8, 8: 9, sectionElement: 10, sectionDataCount: 11, sectionCode: 12, 11: 13,
}

// Opcodes of the check points and those the rewriter treats specially.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opEnd         = 0x0b
	opCall        = 0x10
	opCallIndir   = 0x11
	opDrop        = 0x1a
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI32Eqz      = 0x45
	opI32Sub      = 0x6b
	opRefFunc     = 0xd2
	opPrefixFC    = 0xfc // saturating truncation, bulk memory, tables
	opPrefixFD    = 0xfd // SIMD

	blockEmpty       = 0x40
	typeFunc         = 0x60
	typeI32          = 0x7f
	mutable          = 0x01
	exportKindGlobal = 0x03
)

// Instrument returns a copy of core (a core module binary) with the
// globals, the $yield function and the check points described above.
func Instrument(core []byte) ([]byte, error) {
	if len(core) < preambleLen || [4]byte(core[:4]) != wasmMagic || [4]byte(core[4:8]) != coreModuleVersion {
		return nil, fmt.Errorf("%w: not a core WebAssembly module", ErrMalformed)
	}
	sections, err := splitSections(core[preambleLen:], preambleLen)
	if err != nil {
		return nil, err
	}
	in := instrumenter{out: make([]byte, 0, len(core)+len(core)/4)}
	in.out = append(in.out, core[:preambleLen]...)
	rank := 0
	for _, s := range sections {
		if s.id == sectionCustom {
			in.custom(s)
			continue
		}
		r, ok := sectionRank[s.id]
		if !ok || r <= rank {
			return nil, fmt.Errorf("%w: section id %d at offset %d is unknown or out of order", ErrMalformed, s.id, s.offset)
		}
		rank = r
		if err := in.addMissing(r); err != nil {
			return nil, err
		}
		if err := in.section(s); err != nil {
			return nil, err
		}
	}
	if err := in.addMissing(len(sectionRank) + 1); err != nil {
		return nil, err
	}
	return in.out, nil
}

// instrumenter accumulates the rewritten module, section by section, and
// counts the index spaces it appends to; each count is final before the
// section that needs it, by the order of sections.
type instrumenter struct {
	out      []byte
	types    uint32
	funcs    uint32 // imported and defined: $yield's index once all are counted
	imported uint32 // functions
	globals  uint32 // imported and defined: $interrupt's index once all are counted
	memories uint32
	taken    []uint32             // functions whose address is taken: elements, ref.func
	sigs     []uint32             // per type index, the first index of an equal type
	funcSigs []uint32             // per defined function, its sigs entry
	done     [sectionTag + 1]bool // sections rewritten, or added when missing
	check    []byte               // the check point
	body     []byte               // scratch for one rewritten function body
}

func (in *instrumenter) section(s section) error {
	in.done[s.id] = true
	r := reader{b: s.payload, base: s.start}
	switch s.id {
	case sectionType:
		if err := in.scanTypes(s); err != nil {
			return err
		}
		return in.appendTo(s, &r, &in.types, 1, []byte{typeFunc, 0, 0}) // $yield: [] -> []
	case sectionImport:
		return in.imports(s, &r)
	case sectionFunction:
		if err := in.scanFunctions(s); err != nil {
			return err
		}
		return in.appendTo(s, &r, &in.funcs, 1, appendU32(nil, in.types-1))
	case sectionMemory:
		in.memories += r.u32()
		if r.err != nil {
			return r.wrap(sectionName(s.id))
		}
	case sectionGlobal:
		if err := in.scanGlobals(s); err != nil {
			return err
		}
		return in.appendTo(s, &r, &in.globals, 2, in.newGlobals())
	case sectionElement:
		if err := in.scanElements(s); err != nil {
			return err
		}
	case sectionExport:
		return in.exportSection(s, &r)
	case sectionCode:
		return in.code(s, &r)
	}
	in.out = appendSection(in.out, s.id, s.payload)
	return nil
}

// custom copies a custom section, except DWARF: its code offsets would be
// wrong after the rewrite. The name section only uses indices: it stays.
func (in *instrumenter) custom(s section) {
	r := reader{b: s.payload, base: s.start}
	if name := r.name(); r.err == nil && strings.HasPrefix(name, ".debug_") {
		return
	}
	in.out = appendSection(in.out, s.id, s.payload)
}

// addMissing adds, before a section of rank next, the sections the
// instrumentation appends to that the module lacks.
func (in *instrumenter) addMissing(next int) error {
	for _, id := range []byte{sectionType, sectionFunction, sectionGlobal, sectionExport, sectionCode} {
		if in.done[id] || next <= sectionRank[id] {
			continue
		}
		empty := section{id: id, payload: []byte{0}} // a vector of nothing
		if err := in.section(empty); err != nil {
			return err
		}
	}
	return nil
}

// appendTo copies a section that is a vector with added entries appended
// (items), and counts all its entries into *count.
func (in *instrumenter) appendTo(s section, r *reader, count *uint32, added uint32, items []byte) error {
	n := r.u32()
	if r.err != nil {
		return r.wrap(sectionName(s.id))
	}
	*count += n + added
	payload := appendU32(make([]byte, 0, len(s.payload)+len(items)+5), n+added)
	payload = append(payload, s.payload[r.pos:]...)
	in.out = appendSection(in.out, s.id, append(payload, items...))
	return nil
}

// imports counts imported functions, globals and memories, which come
// first in their index spaces.
func (in *instrumenter) imports(s section, r *reader) error {
	for range r.u32() {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
			in.funcs++
			in.imported++
		case 0x01: // table: reference type, limits
			r.valType()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			in.memories++
		case 0x03: // global: value type, mutability
			r.valType()
			r.byte()
			in.globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail(ErrMalformed, "import kind 0x%02x", kind)
		}
	}
	if err := r.finish(sectionName(s.id)); err != nil {
		return err
	}
	in.out = appendSection(in.out, s.id, s.payload)
	return nil
}

// newGlobals are the definitions of $interrupt (0) and $fuel, mutable
// i32s, appended after the module's own.
func (in *instrumenter) newGlobals() []byte {
	b := []byte{typeI32, mutable, opI32Const, 0, opEnd, typeI32, mutable, opI32Const}
	return append(appendS32(b, fuelPerYield), opEnd)
}

// The indices of what the instrumentation adds. Valid once the sections
// before the code section are read.
func (in *instrumenter) interruptIndex() uint32 { return in.globals - 2 }
func (in *instrumenter) fuelIndex() uint32      { return in.globals - 1 }
func (in *instrumenter) yieldIndex() uint32     { return in.funcs - 1 }

// exportSection refuses a module that already uses the reserved name and
// exports $interrupt with the module's other exports.
func (in *instrumenter) exportSection(s section, r *reader) error {
	n := r.u32()
	start := r.pos
	for range n {
		if name := r.name(); name == InterruptExport && r.err == nil {
			return fmt.Errorf("%w: the core module exports %q, a name this host reserves", ErrRequirement, InterruptExport)
		}
		r.byte()
		r.u32()
	}
	if err := r.finish(sectionName(s.id)); err != nil {
		return err
	}
	payload := appendU32(nil, n+1)
	payload = append(payload, s.payload[start:]...)
	payload = append(appendName(payload, InterruptExport), exportKindGlobal)
	in.out = appendSection(in.out, s.id, appendU32(payload, in.interruptIndex()))
	return nil
}

// code rewrites every function body, and with them their sizes and the
// section's, and appends the body of $yield.
func (in *instrumenter) code(s section, r *reader) error {
	if in.memories == 0 {
		return fmt.Errorf("%w: the core module has no memory", ErrRequirement)
	}
	n := r.u32()
	if r.err != nil {
		return r.wrap(sectionName(s.id))
	}
	if n != in.funcs-in.imported-1 {
		return fmt.Errorf("%w: %d function bodies for %d functions", ErrMalformed, n, in.funcs-in.imported-1)
	}
	bodies := make([]funcBody, n)
	for i := range bodies {
		size := r.u32()
		b := &bodies[i]
		b.base = s.start + r.pos
		if b.code = r.bytes(int(size)); r.err != nil {
			return r.wrap(fmt.Sprintf("code section: function %d", in.imported+uint32(i)))
		}
		if err := in.scan(b); err != nil {
			return fmt.Errorf("function %d: %w", in.imported+uint32(i), err)
		}
	}
	if err := r.finish(sectionName(s.id)); err != nil {
		return err
	}
	recursive := cyclic(bodies, in.imported, in.taken, in.funcSigs)
	in.check = in.checkPoint()
	payload := appendU32(make([]byte, 0, len(s.payload)+len(s.payload)/4), n+1)
	for i := range bodies {
		body := in.rewrite(&bodies[i], recursive[i])
		payload = append(appendU32(payload, uint32(len(body))), body...)
	}
	yield := in.yieldBody()
	payload = append(appendU32(payload, uint32(len(yield))), yield...)
	in.out = appendSection(in.out, s.id, payload)
	return nil
}

// checkPoint is `$fuel -= 1; if $fuel == 0 { call $yield }`. The second
// read of $fuel compiles to nothing: wazero reuses the value just stored.
func (in *instrumenter) checkPoint() []byte {
	fuel := in.fuelIndex()
	b := appendU32([]byte{opGlobalGet}, fuel)
	b = append(b, opI32Const, 1, opI32Sub, opGlobalSet)
	b = appendU32(b, fuel)
	b = appendU32(append(b, opGlobalGet), fuel)
	b = append(b, opI32Eqz, opIf, blockEmpty, opCall)
	return append(appendU32(b, in.yieldIndex()), opEnd)
}

// yieldBody is $yield: no locals; `memory.grow 0` to run Go code; trap if
// $interrupt is set; refill $fuel.
func (in *instrumenter) yieldBody() []byte {
	b := []byte{0, opI32Const, 0, opMemoryGrow, 0, opDrop, opGlobalGet}
	b = appendU32(b, in.interruptIndex())
	b = append(b, opIf, blockEmpty, opUnreachable, opEnd, opI32Const)
	b = append(appendS32(b, fuelPerYield), opGlobalSet)
	return append(appendU32(b, in.fuelIndex()), opEnd)
}

// funcBody is a function body, decoded once to learn where its check
// points go and what it calls.
type funcBody struct {
	code     []byte
	base     int      // offset of code in the module, for messages
	start    int      // of the instructions, after the local declarations
	loops    []int    // offsets just after each loop's block type
	calls    []uint32 // functions called directly
	indirect []uint32 // signatures called indirectly (sigs entries)
}

// scan decodes a function body.
func (in *instrumenter) scan(b *funcBody) error {
	r := reader{b: b.code, base: b.base}
	for range r.u32() { // local declarations: count, type
		r.u32()
		r.valType()
	}
	if r.err != nil {
		return r.wrap("locals")
	}
	b.start = r.pos
	for depth := 0; depth >= 0; {
		at := r.pos
		switch op := r.byte(); op {
		case opBlock, opIf:
			r.blockType()
			depth++
		case opLoop:
			r.blockType()
			depth++
			b.loops = append(b.loops, r.pos)
		case opEnd:
			depth--
		case opCall:
			b.calls = append(b.calls, r.u32())
		case opCallIndir: // type index, table index
			b.indirect = append(b.indirect, in.sig(r.u32()))
			r.u32()
		case opRefFunc:
			in.taken = append(in.taken, r.u32())
		default:
			r.immediates(op)
		}
		if r.err != nil {
			return r.wrapAt(at, "instruction")
		}
	}
	if r.pos != len(b.code) {
		return fmt.Errorf("%w: offset %d: %d bytes after the function's final end", ErrMalformed, b.base+r.pos, len(b.code)-r.pos)
	}
	return nil
}

// rewrite returns b with its check points, in in.body: one after each
// loop's block type and, if entry, one before the first instruction.
func (in *instrumenter) rewrite(b *funcBody, entry bool) []byte {
	if len(b.loops) == 0 && !entry {
		return b.code
	}
	in.body = append(in.body[:0], b.code[:b.start]...)
	if entry {
		in.body = append(in.body, in.check...)
	}
	copied := b.start
	for _, at := range b.loops {
		in.body = append(in.body, b.code[copied:at]...)
		in.body = append(in.body, in.check...)
		copied = at
	}
	in.body = append(in.body, b.code[copied:]...)
	return in.body
}

// scanTypes notes which function types are equal: call_indirect can only
// reach functions of a type equal to the one it names.
func (in *instrumenter) scanTypes(s section) error {
	r := reader{b: s.payload, base: s.start}
	first := make(map[string]uint32)
	for i := range r.u32() {
		start := r.pos
		if form := r.byte(); form != typeFunc && r.err == nil {
			r.fail(ErrUnsupported, "type form 0x%02x", form)
		}
		for range 2 { // parameters, results
			for range r.u32() {
				r.valType()
			}
		}
		sig := string(r.b[start:r.pos])
		if _, ok := first[sig]; !ok {
			first[sig] = i
		}
		in.sigs = append(in.sigs, first[sig])
	}
	return r.finish(sectionName(s.id))
}

// sig maps a type index to the first index of an equal type.
func (in *instrumenter) sig(t uint32) uint32 {
	if int(t) < len(in.sigs) {
		return in.sigs[t]
	}
	return t // invalid: wazero will say so
}

// scanFunctions notes the type of every defined function.
func (in *instrumenter) scanFunctions(s section) error {
	r := reader{b: s.payload, base: s.start}
	for range r.u32() {
		in.funcSigs = append(in.funcSigs, in.sig(r.u32()))
	}
	return r.finish(sectionName(s.id))
}

// scanGlobals notes the functions that global initialisers refer to.
func (in *instrumenter) scanGlobals(s section) error {
	r := reader{b: s.payload, base: s.start}
	for range r.u32() { // type, mutability, initialiser
		r.valType()
		r.byte()
		in.constExpr(&r)
	}
	return r.finish(sectionName(s.id))
}

// scanElements notes the functions that element segments put in tables.
// Bit 0 of a segment's flags marks a passive or declarative segment (else
// active, with an offset), bit 1 an explicit table index if active,
// bit 2 initialiser expressions rather than function indices.
func (in *instrumenter) scanElements(s section) error {
	r := reader{b: s.payload, base: s.start}
	for range r.u32() {
		flags := r.u32()
		if flags > 7 {
			r.fail(ErrMalformed, "element segment flags %d", flags)
		}
		if flags&3 == 2 {
			r.u32() // table index
		}
		if flags&1 == 0 {
			in.constExpr(&r) // offset
		}
		switch {
		case flags&3 == 0: // active in table 0: functions
		case flags&4 == 0:
			r.byte() // element kind: 0x00, functions
		default:
			r.valType() // reference type
		}
		for range r.u32() {
			if flags&4 == 0 {
				in.taken = append(in.taken, r.u32())
			} else {
				in.constExpr(&r)
			}
		}
	}
	return r.finish(sectionName(s.id))
}

// constExpr reads a constant expression, noting the functions it refers
// to.
func (in *instrumenter) constExpr(r *reader) {
	for r.err == nil {
		switch op := r.byte(); op {
		case opEnd:
			return
		case opRefFunc:
			in.taken = append(in.taken, r.u32())
		default:
			r.immediates(op)
		}
	}
}

// cyclic reports, for each function body, whether the function lies on a
// cycle of the call graph: whether it may call itself, directly or not. A
// call_indirect may call any function of its type whose address is taken.
func cyclic(bodies []funcBody, imported uint32, taken, funcSigs []uint32) []bool {
	n := len(bodies)
	g := callGraph{
		bodies:   bodies,
		imported: imported,
		targets:  make(map[uint32][]int),
		index:    make([]int, n),
		low:      make([]int, n),
		onStack:  make([]bool, n),
		cyclic:   make([]bool, n),
	}
	seen := make([]bool, n)
	for _, f := range taken {
		if v, ok := g.defined(f); ok && !seen[v] && v < len(funcSigs) {
			seen[v] = true
			g.targets[funcSigs[v]] = append(g.targets[funcSigs[v]], v)
		}
	}
	for v := range n {
		if g.index[v] == 0 {
			g.visit(v)
		}
	}
	return g.cyclic
}

// callGraph finds the strongly connected components of the call graph
// with Tarjan's algorithm: those of more than one function, or of one
// that calls itself, are its cycles.
type callGraph struct {
	bodies   []funcBody
	imported uint32
	targets  map[uint32][]int // of call_indirect, by signature
	index    []int            // visiting order, from 1; 0 before the visit
	low      []int            // lowest index reachable through the DFS subtree
	onStack  []bool           // in the component being built
	stack    []int
	next     int
	cyclic   []bool
}

// defined maps a function index to its body's, if it has one here. A call
// to an import leaves the guest for the host, which can look at the
// clock itself (the core imports nothing); nor does the host put
// functions of its own in the guest's tables.
func (g *callGraph) defined(f uint32) (int, bool) {
	if f < g.imported || int(f-g.imported) >= len(g.bodies) {
		return 0, false // imported, or the module is invalid and wazero will say so
	}
	return int(f - g.imported), true
}

func (g *callGraph) visit(v int) {
	g.next++
	g.index[v], g.low[v] = g.next, g.next
	g.stack = append(g.stack, v)
	g.onStack[v] = true
	edge := func(w int) {
		switch {
		case w == v:
			g.cyclic[v] = true
		case g.index[w] == 0:
			g.visit(w)
			g.low[v] = min(g.low[v], g.low[w])
		case g.onStack[w]:
			g.low[v] = min(g.low[v], g.index[w])
		}
	}
	for _, f := range g.bodies[v].calls {
		if w, ok := g.defined(f); ok {
			edge(w)
		}
	}
	for _, sig := range g.bodies[v].indirect {
		for _, w := range g.targets[sig] {
			edge(w)
		}
	}
	if g.low[v] != g.index[v] {
		return // not the root of its component
	}
	i := len(g.stack) - 1
	for g.stack[i] != v {
		i--
	}
	component := g.stack[i:]
	for _, w := range component {
		g.onStack[w] = false
		g.cyclic[w] = g.cyclic[w] || len(component) > 1
	}
	g.stack = g.stack[:i]
}

func sectionName(id byte) string {
	switch id {
	case sectionType:
		return "type section"
	case sectionImport:
		return "import section"
	case sectionFunction:
		return "function section"
	case sectionMemory:
		return "memory section"
	case sectionGlobal:
		return "global section"
	case sectionExport:
		return "export section"
	case sectionElement:
		return "element section"
	case sectionCode:
		return "code section"
	}
	return fmt.Sprintf("section %d", id)
}

// reader decodes a part of a module. The first error sticks: later reads
// return zero values, so decoding code checks r.err once at the end.
type reader struct {
	b    []byte
	pos  int
	base int // offset of b in the module, for messages
	err  error
}

var errTruncated = errors.New("unexpected end")

func (r *reader) fail(kind error, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
	}
}

// wrap describes r.err with what was being read and where.
func (r *reader) wrap(what string) error { return r.wrapAt(r.pos, what) }

func (r *reader) wrapAt(at int, what string) error {
	return fmt.Errorf("%s at offset %d: %w", what, r.base+at, r.err)
}

// finish checks that what was read is exactly b.
func (r *reader) finish(what string) error {
	if r.err == nil && r.pos != len(r.b) {
		r.fail(ErrMalformed, "%d bytes left over", len(r.b)-r.pos)
	}
	if r.err != nil {
		return r.wrap(what)
	}
	return nil
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail(ErrMalformed, "%v", errTruncated)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.fail(ErrMalformed, "%v: want %d bytes, %d left", errTruncated, n, len(r.b)-r.pos)
		return nil
	}
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	v, n, err := readU32(r.b[r.pos:])
	if err != nil {
		r.fail(ErrMalformed, "%v", err)
		return 0
	}
	r.pos += n
	return v
}

// leb skips a LEB128 number of at most maxBytes bytes; its value is for
// wazero to validate, the rewriter only needs its length.
func (r *reader) leb(maxBytes int) {
	for i := 0; r.err == nil; i++ {
		if i == maxBytes {
			r.fail(ErrMalformed, "LEB128 longer than %d bytes", maxBytes)
			return
		}
		if r.byte()&0x80 == 0 {
			return
		}
	}
}

// Maximum LEB128 lengths: 32-bit and 33-bit numbers take at most 5 bytes,
// 64-bit ones 10.
const (
	leb32 = 5
	leb64 = 10
)

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

// valType reads a value type: a number, vector or reference type, each a
// single byte without the GC and typed function references proposals.
func (r *reader) valType() {
	switch t := r.byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		r.fail(ErrUnsupported, "value type 0x%02x", t)
	}
}

// limits reads table or memory limits: flags (bit 0: a maximum follows;
// others: shared, 64-bit), minimum, maximum.
func (r *reader) limits() {
	flags := r.byte()
	r.leb(leb64)
	if flags&1 != 0 {
		r.leb(leb64)
	}
}

// blockType reads a block type: empty (0x40), a value type (one byte), or
// a type index as a signed 33-bit LEB128 (multi-value). The first two are
// one-byte negative numbers in that encoding, so one rule reads all three.
func (r *reader) blockType() { r.leb(leb32) }

// memArg reads alignment and offset. Bit 6 of the alignment says a memory
// index follows (multi-memory); the offset is 64-bit with memory64.
func (r *reader) memArg() {
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.leb(leb64)
}

// immediates skips the immediates of op, other than the structured control
// instructions, or fails if the op is not one the rewriter knows.
func (r *reader) immediates(op byte) {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b:
		// unreachable, nop, else, return, drop, select
	case op >= 0x45 && op <= 0xc4:
		// numeric, sign extension included (0xc0-0xc4)
	case op == 0xd1:
		// ref.is_null
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0xd2 || (op >= 0x20 && op <= 0x26):
		// br, br_if, call, ref.func, local.*, global.*, table.get/set: an index
		r.u32()
	case op == 0x0e: // br_table: label vector, default label
		for range r.u32() {
			r.u32()
		}
		r.u32()
	case op == 0x11: // call_indirect: type index, table index
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for range r.u32() {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memArg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow: memory index
		r.u32()
	case op == 0x41: // i32.const
		r.leb(leb32)
	case op == 0x42: // i64.const
		r.leb(leb64)
	case op == 0x43: // f32.const
		r.bytes(4)
	case op == 0x44: // f64.const
		r.bytes(8)
	case op == 0xd0: // ref.null: heap type
		r.leb(leb32)
	case op == opPrefixFC:
		r.prefixFC()
	case op == opPrefixFD:
		r.prefixFD()
	default:
		r.fail(ErrUnsupported, "opcode 0x%02x", op)
	}
}

// prefixFC skips the immediates of a 0xfc-prefixed instruction.
func (r *reader) prefixFC() {
	switch sub := r.u32(); {
	case sub <= 7: // saturating float-to-int truncation
	case sub == 9 || sub == 13 || sub == 11 || (sub >= 15 && sub <= 17):
		// data.drop, elem.drop, memory.fill, table.grow/size/fill: an index
		r.u32()
	case sub == 8 || sub == 10 || sub == 12 || sub == 14:
		// memory.init, memory.copy, table.init, table.copy: two indices
		r.u32()
		r.u32()
	default:
		r.fail(ErrUnsupported, "opcode 0xfc %d", sub)
	}
}

// prefixFD skips the immediates of a SIMD instruction. Opcodes without
// immediates include the unassigned ones, which wazero refuses.
func (r *reader) prefixFD() {
	switch sub := r.u32(); {
	case sub <= 0x0b || sub == 0x5c || sub == 0x5d: // v128 loads and stores
		r.memArg()
	case sub == 0x0c || sub == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load_lane, store_lane
		r.memArg()
		r.byte()
	case sub <= 0xff:
	default:
		r.fail(ErrUnsupported, "opcode 0xfd %d", sub)
	}
}

// Encoding helpers.

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS32 appends v as a signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for v < -64 || v >= 64 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v)&0x7f)
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

func appendSection(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = appendU32(b, uint32(len(payload)))
	return append(b, payload...)
}
