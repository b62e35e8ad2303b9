package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The rewriter is tested on small hand-assembled modules: the output must
// be exactly as expected where that is short to write, and otherwise
// compile in wazero and compute what the input computes.

// --- assembling core modules

const (
	tI32  = 0x7f
	tV128 = 0x7b
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u32(v uint32) []byte { return appendU32(nil, v) }

// vec is a vector: count, then the items.
func vec(items ...[]byte) []byte { return cat(u32(uint32(len(items))), cat(items...)) }

func sec(id byte, payload []byte) []byte { return appendSection(nil, id, payload) }

func wasmModule(sections ...[]byte) []byte {
	return cat([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, cat(sections...))
}

func funcType(params, results []byte) []byte {
	return cat([]byte{typeFunc}, u32(uint32(len(params))), params, u32(uint32(len(results))), results)
}

// body is a size-prefixed function body; locals is its vector of local
// declarations.
func body(locals []byte, code ...[]byte) []byte {
	b := cat(locals, cat(code...))
	return cat(u32(uint32(len(b))), b)
}

var noLocals = []byte{0}

func locals(n uint32, t byte) []byte { return cat([]byte{1}, u32(n), []byte{t}) }

func exportFunc(name string, idx uint32) []byte {
	return cat(appendName(nil, name), []byte{0x00}, u32(idx))
}

func exportMem() []byte { return cat(appendName(nil, "memory"), []byte{0x02, 0x00}) }

var memorySection = sec(5, vec([]byte{0x00, 0x01})) // one memory, at least one page

// codeSection is a code section of the given bodies.
func codeSection(bodies ...[]byte) []byte { return sec(10, vec(bodies...)) }

// simpleModule is a module of one function of type ft exported as "f",
// with memory.
func simpleModule(ft []byte, fnBody []byte) []byte {
	return wasmModule(
		sec(1, vec(ft)),
		sec(3, vec(u32(0))),
		memorySection,
		sec(7, vec(exportFunc("f", 0), exportMem())),
		codeSection(fnBody),
	)
}

// Instruction bytes, named where the tests use them often.
var (
	end        = []byte{opEnd}
	loopEmpty  = []byte{opLoop, blockEmpty}
	blockEmpt  = []byte{opBlock, blockEmpty}
	i32Add     = []byte{0x6a}
	i32LtU     = []byte{0x49}
	i32GeU     = []byte{0x4f}
	localGet   = func(i byte) []byte { return []byte{0x20, i} }
	localSet   = func(i byte) []byte { return []byte{0x21, i} }
	localTee   = func(i byte) []byte { return []byte{0x22, i} }
	i32Const   = func(v int32) []byte { return appendS32([]byte{opI32Const}, v) }
	br         = func(l byte) []byte { return []byte{0x0c, l} }
	brIf       = func(l byte) []byte { return []byte{0x0d, l} }
	increment  = func(i byte) []byte { return cat(localGet(i), i32Const(1), i32Add, localSet(i)) }
	fuelInit   = []byte{0x80, 0x80, 0x01} // fuelPerYield, as a signed LEB128
	interrupt0 = []byte{tI32, mutable, opI32Const, 0, opEnd}
	fuel0      = cat([]byte{tI32, mutable, opI32Const}, fuelInit, end)
)

// checkBytes is the check point for $fuel at global fuel and $yield at
// function yield.
func checkBytes(fuel, yield byte) []byte {
	return []byte{0x23, fuel, 0x41, 1, 0x6b, 0x24, fuel, 0x23, fuel, 0x45, 0x04, 0x40, 0x10, yield, 0x0b}
}

// yieldBytes is the size-prefixed body of $yield.
func yieldBytes(interrupt, fuel byte) []byte {
	b := cat([]byte{0, 0x41, 0, 0x40, 0, 0x1a, 0x23, interrupt, 0x04, 0x40, 0x00, 0x0b, 0x41}, fuelInit, []byte{0x24, fuel, 0x0b})
	return cat(u32(uint32(len(b))), b)
}

func exportInterrupt(idx uint32) []byte {
	return cat(appendName(nil, InterruptExport), []byte{exportKindGlobal}, u32(idx))
}

// --- running instrumented modules

// instantiate instruments a module, compiles and instantiates it with
// wazero's defaults (the features of the WebAssembly 2.0 draft), after the
// given modules, instantiated under their names.
func instantiate(t testing.TB, wasm []byte, deps map[string][]byte) api.Module {
	t.Helper()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatalf("instrument: %v", err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	for name, dep := range deps {
		if _, err := r.InstantiateWithConfig(ctx, dep, wazero.NewModuleConfig().WithName(name)); err != nil {
			t.Fatalf("instantiating %s: %v", name, err)
		}
	}
	mod, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiating the instrumented module: %v", err)
	}
	return mod
}

func call(t testing.TB, mod api.Module, name string, params ...uint64) uint64 {
	t.Helper()
	res, err := mod.ExportedFunction(name).Call(context.Background(), params...)
	if err != nil {
		t.Fatalf("%s%v: %v", name, params, err)
	}
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

func interruptOf(t testing.TB, mod api.Module) api.MutableGlobal {
	t.Helper()
	g, ok := mod.ExportedGlobal(InterruptExport).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 || g.Get() != 0 {
		t.Fatalf("export %q = %v, want a mutable i32 global holding 0", InterruptExport, mod.ExportedGlobal(InterruptExport))
	}
	return g
}

// --- the modules

// nestedLoops returns n*n, counted in two nested loops; with the check
// points at the given places.
func nestedLoops(check []byte) []byte {
	return body(locals(3, tI32), // i, j, acc after n
		blockEmpt, loopEmpty, check,
		localGet(1), localGet(0), i32GeU, brIf(1),
		i32Const(0), localSet(2),
		blockEmpt, loopEmpty, check,
		localGet(2), localGet(0), i32GeU, brIf(1),
		increment(3), increment(2), br(0),
		end, end,
		increment(1), br(0),
		end, end,
		localGet(3), end)
}

// typeIndexLoop counts down from n in a loop of type 70, (i32) -> (i32),
// whose index takes two bytes as a signed LEB128, and returns the count.
func typeIndexLoop() []byte {
	types := make([][]byte, 71)
	for i := range types {
		types[i] = funcType(nil, nil)
	}
	types[70] = funcType([]byte{tI32}, []byte{tI32})
	return wasmModule(
		sec(1, vec(types...)),
		sec(3, vec(u32(70))),
		memorySection,
		sec(7, vec(exportFunc("f", 0))),
		codeSection(typeIndexBody(nil)),
	)
}

func typeIndexBody(check []byte) []byte {
	return body(locals(1, tI32),
		localGet(0),
		[]byte{opLoop, 0xc6, 0x00}, check,
		increment(1),
		i32Const(1), []byte{opI32Sub}, localTee(0), localGet(0), brIf(0),
		end, []byte{opDrop}, localGet(1), end)
}

// brTable sums 1..n in a loop left through br_table.
var brTable = simpleModule(funcType([]byte{tI32}, []byte{tI32}), body(locals(1, tI32),
	blockEmpt, loopEmpty,
	blockEmpt, localGet(0), []byte{opI32Eqz}, []byte{0x0e, 2, 0, 2, 2}, end, // n != 0: body, else exit
	localGet(1), localGet(0), i32Add, localSet(1),
	localGet(0), i32Const(1), []byte{opI32Sub}, localSet(0),
	br(0), end, end,
	localGet(1), end))

// bulkMemory copies a passive data segment in a loop (memory.init, with a
// data count section), then drops, copies and fills, and returns a
// saturating truncation.
var bulkMemory = wasmModule(
	sec(1, vec(funcType(nil, []byte{tI32}))),
	sec(3, vec(u32(0))),
	memorySection,
	sec(7, vec(exportFunc("f", 0), exportMem())),
	sec(12, u32(1)),
	codeSection(body(locals(1, tI32),
		loopEmpty,
		localGet(0), i32Const(8), []byte{0x6c}, i32Const(0), i32Const(5), []byte{0xfc, 8, 0, 0}, // memory.init 0 at 8*i
		localGet(0), i32Const(1), i32Add, localTee(0), i32Const(3), i32LtU, brIf(0),
		end,
		[]byte{0xfc, 9, 0},                                              // data.drop 0
		i32Const(100), i32Const(0), i32Const(5), []byte{0xfc, 10, 0, 0}, // memory.copy
		i32Const(200), i32Const(7), i32Const(4), []byte{0xfc, 11, 0}, // memory.fill
		[]byte{0x43}, binary.LittleEndian.AppendUint32(nil, math.Float32bits(1e10)), []byte{0xfc, 0}, // i32.trunc_sat_f32_s
		[]byte{0xc0}, // i32.extend8_s: 0x7fffffff -> -1
		end)),
	sec(11, vec(cat([]byte{0x01}, appendName(nil, "hello")))), // passive
)

// references exercises tables, element segments of every shape the
// toolchain emits, reference instructions, call_indirect in a loop and a
// typed select.
var references = wasmModule(
	sec(1, vec(funcType(nil, []byte{tI32}), funcType([]byte{tI32}, []byte{tI32}))),
	sec(3, vec(u32(1), u32(0), u32(0))),
	sec(4, vec([]byte{0x70, 0x00, 2})), // funcref table, at least 2
	memorySection,
	sec(7, vec(exportFunc("f", 0))),
	sec(9, vec(
		cat([]byte{0}, i32Const(0), end, vec(u32(1), u32(2))),                                   // active: [11, 22]
		cat([]byte{1, 0x00}, vec(u32(2), u32(1))),                                               // passive: [22, 11]
		cat([]byte{3, 0x00}, vec(u32(1))),                                                       // declarative, for ref.func
		cat([]byte{5, 0x70}, vec(cat([]byte{opRefFunc, 2}, end), cat([]byte{0xd0, 0x70}, end))), // passive expressions
	)),
	codeSection(
		body(locals(2, tI32), // i, acc after the parameter
			loopEmpty,
			localGet(2), localGet(1), []byte{opCallIndir, 0, 0}, i32Add, localSet(2),
			localGet(1), i32Const(1), i32Add, localTee(1), i32Const(2), i32LtU, brIf(0),
			end,                                                                          // acc = 33
			i32Const(0), []byte{0x25, 0}, []byte{0xd1}, localGet(2), i32Add, localSet(2), // table.get, ref.is_null: +0
			[]byte{0xd0, 0x70}, i32Const(1), []byte{0xfc, 15, 0}, localGet(2), i32Add, localSet(2), // table.grow: +2
			[]byte{0xfc, 16, 0}, localGet(2), i32Add, localSet(2), // table.size: +3
			i32Const(2), []byte{opRefFunc, 1}, []byte{0x26, 0}, // table.set 2 = 11
			i32Const(0), []byte{opRefFunc, 2}, i32Const(1), []byte{0xfc, 17, 0}, // table.fill 0 = 22
			i32Const(0), i32Const(0), i32Const(1), []byte{0xfc, 12, 1, 0}, []byte{0xfc, 13, 1}, // table.init 0 = 22, elem.drop
			i32Const(1), i32Const(2), i32Const(1), []byte{0xfc, 14, 0, 0}, // table.copy 1 = 11
			localGet(2), i32Const(1), []byte{opCallIndir, 0, 0}, i32Add, localSet(2), // +11
			localGet(2), i32Const(1000), localGet(0), []byte{0x1c, 1, tI32}, // select (result i32)
			end),
		body(noLocals, i32Const(11), end),
		body(noLocals, i32Const(22), end),
	),
)

// simd doubles a vector in a loop and reads it back through shuffles,
// lanes, stores and loads.
var simd = simpleModule(funcType(nil, []byte{tI32}), body(cat([]byte{2, 1, tV128, 1, tI32}),
	[]byte{0xfd, 12}, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 2), 3), 4), localSet(0),
	loopEmpty,
	localGet(0), localGet(0), []byte{0xfd, 0xae, 0x01}, localSet(0), // i32x4.add
	localGet(1), i32Const(1), i32Add, localTee(1), i32Const(3), i32LtU, brIf(0),
	end,                                                                                                      // [8, 16, 24, 32]
	localGet(0), localGet(0), []byte{0xfd, 13}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, // i8x16.shuffle
	[]byte{0xfd, 27, 3},                              // i32x4.extract_lane 3: 32
	i32Const(0), localGet(0), []byte{0xfd, 11, 4, 0}, // v128.store
	i32Const(0), []byte{0xfd, 92, 2, 0}, []byte{0xfd, 27, 0}, i32Add, // v128.load32_zero, lane 0: +8
	i32Const(0), localGet(0), []byte{0xfd, 84, 0, 4, 0}, []byte{0xfd, 22, 0}, i32Add, // v128.load8_lane, i8x16.extract_lane_u: +16
	end))

// recursion calls itself twice per call, without loops: f(n) runs 2^n
// calls.
var recursion = simpleModule(funcType([]byte{tI32}, []byte{tI32}), body(noLocals,
	localGet(0), []byte{opI32Eqz}, []byte{opIf, tI32}, i32Const(1), []byte{0x05},
	localGet(0), i32Const(1), []byte{opI32Sub}, []byte{opCall, 0},
	localGet(0), i32Const(1), []byte{opI32Sub}, []byte{opCall, 0},
	i32Add, end, end))

// spin loops until the i32 at address 0 is not 0, then returns 7.
var spin = simpleModule(funcType(nil, []byte{tI32}), body(noLocals,
	loopEmpty, i32Const(0), []byte{0x28, 2, 0}, []byte{opI32Eqz}, brIf(0), end,
	i32Const(7), end))

// withImports imports a function and a global, so the instrumentation's
// indices come after them; env provides them.
var (
	withImports = wasmModule(
		sec(1, vec(funcType(nil, []byte{tI32}))),
		sec(2, vec(
			cat(appendName(appendName(nil, "env"), "f"), []byte{0x00}, u32(0)),
			cat(appendName(appendName(nil, "env"), "g"), []byte{0x03, tI32, 0x00}),
		)),
		sec(3, vec(u32(0))),
		memorySection,
		sec(6, vec(cat([]byte{tI32, mutable}, i32Const(5), end))),
		sec(7, vec(exportFunc("f", 1))),
		codeSection(body(locals(1, tI32),
			loopEmpty, increment(0), localGet(0), i32Const(3), i32LtU, brIf(0), end,
			[]byte{opCall, 0}, []byte{opGlobalGet, 0}, i32Add, []byte{opGlobalGet, 1}, i32Add, localGet(0), i32Add, end)),
	)
	env = wasmModule(
		sec(1, vec(funcType(nil, []byte{tI32}))),
		sec(3, vec(u32(0))),
		sec(6, vec(cat([]byte{tI32, 0x00}, i32Const(20), end))),
		sec(7, vec(exportFunc("f", 0), cat(appendName(nil, "g"), []byte{0x03, 0}))),
		codeSection(body(noLocals, i32Const(100), end)),
	)
)

func TestInstrument(t *testing.T) {
	noLoops := simpleModule(funcType(nil, []byte{tI32}), body(noLocals, i32Const(42), end))
	tests := []struct {
		name   string
		module []byte
		deps   map[string][]byte
		want   []byte // the exact output, when set
		code   []byte // the exact code section, when set
		check  func(t *testing.T, mod api.Module)
	}{
		{
			name:   "no loops",
			module: noLoops,
			want: wasmModule(
				sec(1, vec(funcType(nil, []byte{tI32}), funcType(nil, nil))),
				sec(3, vec(u32(0), u32(1))),
				memorySection,
				sec(6, vec(interrupt0, fuel0)),
				sec(7, vec(exportFunc("f", 0), exportMem(), exportInterrupt(0))),
				codeSection(body(noLocals, i32Const(42), end), yieldBytes(0, 1)),
			),
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f"); got != 42 {
					t.Errorf("f() = %d, want 42", got)
				}
			},
		},
		{
			name:   "nested loops",
			module: simpleModule(funcType([]byte{tI32}, []byte{tI32}), nestedLoops(nil)),
			want: wasmModule(
				sec(1, vec(funcType([]byte{tI32}, []byte{tI32}), funcType(nil, nil))),
				sec(3, vec(u32(0), u32(1))),
				memorySection,
				sec(6, vec(interrupt0, fuel0)),
				sec(7, vec(exportFunc("f", 0), exportMem(), exportInterrupt(0))),
				codeSection(nestedLoops(checkBytes(1, 1)), yieldBytes(0, 1)),
			),
			check: func(t *testing.T, mod api.Module) {
				// 40k iterations: the fuel runs out and $yield refills it.
				if got := call(t, mod, "f", 200); got != 200*200 {
					t.Errorf("f(200) = %d, want %d", got, 200*200)
				}
			},
		},
		{
			name:   "loop with a type index block type",
			module: typeIndexLoop(),
			code:   codeSection(typeIndexBody(checkBytes(1, 1)), yieldBytes(0, 1)),
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f", 50000); got != 50000 {
					t.Errorf("f(50000) = %d, want 50000", got)
				}
			},
		},
		{
			name:   "br_table",
			module: brTable,
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f", 100); got != 5050 {
					t.Errorf("f(100) = %d, want 5050", got)
				}
			},
		},
		{
			name:   "bulk memory and a data count section",
			module: bulkMemory,
			check: func(t *testing.T, mod api.Module) {
				if got := int32(call(t, mod, "f")); got != -1 {
					t.Errorf("f() = %d, want -1", got)
				}
				mem := mod.Memory()
				for _, want := range []struct {
					at  uint32
					val string
				}{{0, "hello"}, {8, "hello"}, {16, "hello"}, {24, "\x00"}, {100, "hello"}, {200, "\x07\x07\x07\x07\x00"}} {
					if got, _ := mem.Read(want.at, uint32(len(want.val))); string(got) != want.val {
						t.Errorf("memory at %d = %q, want %q", want.at, got, want.val)
					}
				}
			},
		},
		{
			name:   "reference types",
			module: references,
			check: func(t *testing.T, mod api.Module) {
				// Once only: the call drops a segment it needs.
				if got := call(t, mod, "f", 1); got != 49 {
					t.Errorf("f(1) = %d, want 49", got)
				}
			},
		},
		{
			name:   "SIMD",
			module: simd,
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f"); got != 56 {
					t.Errorf("f() = %d, want 56", got)
				}
			},
		},
		{
			name:   "recursion",
			module: recursion,
			want: wasmModule(
				sec(1, vec(funcType([]byte{tI32}, []byte{tI32}), funcType(nil, nil))),
				sec(3, vec(u32(0), u32(1))),
				memorySection,
				sec(6, vec(interrupt0, fuel0)),
				sec(7, vec(exportFunc("f", 0), exportMem(), exportInterrupt(0))),
				codeSection(
					body(noLocals, checkBytes(1, 1), localGet(0), []byte{opI32Eqz}, []byte{opIf, tI32}, i32Const(1), []byte{0x05},
						localGet(0), i32Const(1), []byte{opI32Sub}, []byte{opCall, 0},
						localGet(0), i32Const(1), []byte{opI32Sub}, []byte{opCall, 0},
						i32Add, end, end),
					yieldBytes(0, 1)),
			),
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f", 16); got != 1<<16 {
					t.Errorf("f(16) = %d, want %d", got, 1<<16)
				}
			},
		},
		{
			name:   "imports",
			module: withImports,
			deps:   map[string][]byte{"env": env},
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f"); got != 100+20+5+3 {
					t.Errorf("f() = %d, want 128", got)
				}
			},
		},
		{
			name:   "no sections to extend",
			module: wasmModule(memorySection),
			want: wasmModule(
				sec(1, vec(funcType(nil, nil))),
				sec(3, vec(u32(0))),
				memorySection,
				sec(6, vec(interrupt0, fuel0)),
				sec(7, vec(exportInterrupt(0))),
				codeSection(yieldBytes(0, 1)),
			),
		},
		{
			name:   "custom sections",
			module: cat(noLoops, sec(0, appendName(nil, "name")), sec(0, cat(appendName(nil, ".debug_info"), []byte{1, 2, 3}))),
			check: func(t *testing.T, mod api.Module) {
				if got := call(t, mod, "f"); got != 42 {
					t.Errorf("f() = %d, want 42", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Instrument(tt.module)
			if err != nil {
				t.Fatalf("instrument: %v", err)
			}
			if tt.want != nil && !bytes.Equal(out, tt.want) {
				t.Errorf("instrument =\n% x\nwant\n% x", out, tt.want)
			}
			if tt.code != nil && !bytes.HasSuffix(out, tt.code) {
				t.Errorf("instrument =\n% x\nwant it to end with the code section\n% x", out, tt.code)
			}
			mod := instantiate(t, tt.module, tt.deps)
			interruptOf(t, mod)
			if tt.check != nil {
				tt.check(t, mod)
			}
		})
	}
}

func TestInstrumentDropsDWARF(t *testing.T) {
	debug := sec(0, cat(appendName(nil, ".debug_line"), []byte{1, 2, 3}))
	names := sec(0, cat(appendName(nil, "name"), []byte{}))
	out, err := Instrument(cat(spin, debug, names))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(".debug_line")) || !bytes.HasSuffix(out, names) {
		t.Errorf("output keeps DWARF or lost the name section:\n% x", out)
	}
}

func TestInstrumentRefuses(t *testing.T) {
	ft := funcType(nil, []byte{tI32})
	withCode := func(code ...[]byte) []byte { return simpleModule(ft, body(noLocals, code...)) }
	tests := []struct {
		name     string
		module   []byte
		is       error
		contains string
		also     string // in the error message too
	}{
		{
			name: "reserved export",
			module: wasmModule(sec(1, vec(ft)), sec(3, vec(u32(0))), memorySection,
				sec(7, vec(exportFunc(InterruptExport, 0))), codeSection(body(noLocals, i32Const(1), end))),
			is: ErrRequirement, contains: `exports "kubernetai-interrupt"`,
		},
		{
			name:   "no memory",
			module: wasmModule(sec(1, vec(ft)), sec(3, vec(u32(0))), codeSection(body(noLocals, i32Const(1), end))),
			is:     ErrRequirement, contains: "no memory",
		},
		{
			name: "body larger than the section",
			module: wasmModule(sec(1, vec(ft)), sec(3, vec(u32(0))), memorySection,
				sec(10, cat(u32(1), u32(10), []byte{0, 0x41, 1, 0x0b}))),
			is: ErrMalformed, contains: "unexpected end",
		},
		{name: "no final end", module: withCode(i32Const(1)), is: ErrMalformed, contains: "function 0: instruction at offset"},
		{name: "code after the final end", module: withCode(i32Const(1), end, []byte{0x01}), is: ErrMalformed, contains: "1 bytes after the function's final end"},
		{name: "unterminated block", module: withCode(loopEmpty, i32Const(1), end), is: ErrMalformed, contains: "unexpected end"},
		{name: "truncated immediate", module: withCode([]byte{0x44, 0, 0, 0}), is: ErrMalformed, contains: "want 8 bytes"},
		{name: "overlong LEB128", module: withCode([]byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, end), is: ErrMalformed, contains: "LEB128 longer than 5 bytes"},
		{name: "atomics", module: withCode(i32Const(0), i32Const(0), []byte{0xfe, 0x00, 2, 0}, end), is: ErrUnsupported, contains: "function 0: instruction at offset ", also: "does not support: opcode 0xfe"},
		{name: "exceptions", module: withCode([]byte{0x06, blockEmpty}, end, i32Const(1), end), is: ErrUnsupported, contains: "opcode 0x06"},
		{name: "tail calls", module: withCode([]byte{0x12, 0}, end), is: ErrUnsupported, contains: "opcode 0x12"},
		{name: "unknown 0xfc", module: withCode([]byte{0xfc, 18, 0}, end), is: ErrUnsupported, contains: "opcode 0xfc 18"},
		{name: "relaxed SIMD", module: withCode([]byte{0xfd, 0x80, 0x02}, end), is: ErrUnsupported, contains: "opcode 0xfd 256"},
		{name: "typed function reference local", module: simpleModule(ft, body([]byte{1, 1, 0x63, 0x70}, i32Const(1), end)), is: ErrUnsupported, contains: "value type 0x63"},
		{name: "GC type", module: wasmModule(sec(1, vec([]byte{0x5e, tI32, 0}))), is: ErrUnsupported, contains: "type form 0x5e"},
		{name: "sections out of order", module: wasmModule(memorySection, sec(1, vec(ft))), is: ErrMalformed, contains: "out of order"},
		{name: "unknown section", module: wasmModule(sec(14, nil)), is: ErrMalformed, contains: "section id 14"},
		{name: "truncated section", module: wasmModule(sec(1, vec(ft)))[:12], is: ErrMalformed, contains: "truncated"},
		{name: "more bodies than functions", module: wasmModule(sec(1, vec(ft)), memorySection, codeSection(body(noLocals, i32Const(1), end))), is: ErrMalformed, contains: "1 function bodies for 0 functions"},
		{name: "not a module", module: []byte("\x00asm\x0d\x00\x01\x00"), is: ErrMalformed, contains: "not a core"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Instrument(tt.module)
			if err == nil {
				t.Fatal("instrument succeeded, want an error")
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.contains) || !strings.Contains(err.Error(), tt.also) {
				t.Errorf("error %q, want %v containing %q and %q", err, tt.is, tt.contains, tt.also)
			}
		})
	}
}

// The host's interrupt, set from another goroutine, stops a guest that
// loops or recurses without end; until then the guest keeps returning to
// Go, so that a garbage collection (which stops the world) completes.
func TestInterrupt(t *testing.T) {
	tests := []struct {
		name   string
		module []byte
		fn     string
		params []uint64
	}{
		{name: "loop", module: spin, fn: "f"},
		{name: "recursion", module: recursion, fn: "f", params: []uint64{62}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := instantiate(t, tt.module, nil)
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(tt.fn).Call(context.Background(), tt.params...)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			gc := make(chan struct{})
			go func() {
				runtime.GC()
				close(gc)
			}()
			select {
			case <-gc:
			case <-time.After(5 * time.Second):
				t.Fatal("a garbage collection did not complete while the guest ran")
			}
			select {
			case err := <-done:
				t.Fatalf("the guest returned (%v) before the interrupt", err)
			default:
			}
			start := time.Now()
			interruptOf(t, mod).Set(1)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Errorf("call = %v, want the interrupt's trap", err)
				}
				t.Logf("stopped %v after the interrupt", time.Since(start))
			case <-time.After(5 * time.Second):
				t.Fatal("the guest ignored the interrupt")
			}
		})
	}
}

// A guest waiting for the host to change memory sees the change: the
// check points do not get in the way of an ordinary loop.
func TestSpinEndsWhenMemoryChanges(t *testing.T) {
	mod := instantiate(t, spin, nil)
	done := make(chan []uint64, 1)
	go func() {
		res, err := mod.ExportedFunction("f").Call(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	time.Sleep(20 * time.Millisecond)
	mod.Memory().WriteUint32Le(0, 1)
	select {
	case got := <-done:
		if len(got) != 1 || got[0] != 7 {
			t.Errorf("f() = %v, want 7", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the guest did not see the memory change")
	}
}

func TestCyclic(t *testing.T) {
	// Function indices start after two imports; signatures are 0 and 1.
	const imported = 2
	tests := []struct {
		name   string
		bodies []funcBody
		taken  []uint32
		sigs   []uint32
		want   []bool
	}{
		{name: "chain", bodies: []funcBody{{calls: []uint32{3}}, {calls: []uint32{4, 0}}, {}}, want: []bool{false, false, false}},
		{name: "self", bodies: []funcBody{{calls: []uint32{2}}, {calls: []uint32{2}}}, want: []bool{true, false}},
		{name: "mutual", bodies: []funcBody{{calls: []uint32{3}}, {calls: []uint32{2}}, {calls: []uint32{2}}}, want: []bool{true, true, false}},
		{
			name:   "indirect",
			bodies: []funcBody{{indirect: []uint32{0}}, {calls: []uint32{2}}, {calls: []uint32{2}}, {}},
			taken:  []uint32{3, 4, 5, 3, 99},
			sigs:   []uint32{1, 0, 1, 0},
			want:   []bool{true, true, false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cyclic(tt.bodies, imported, tt.taken, tt.sigs)
			if !slices.Equal(got, tt.want) {
				t.Errorf("cyclic = %v, want %v", got, tt.want)
			}
		})
	}
}

// Both components the host runs go through the rewriter.
func TestInstrumentComponents(t *testing.T) {
	components := map[string][]byte{}
	for name, path := range map[string]string{
		"test guest": os.Getenv("KUBERNETAI_TEST_GUEST"),
		"real core":  filepath.Join("..", "..", "kubernetai.wasm"),
	} {
		if c, err := os.ReadFile(path); err == nil {
			components[name] = c
		}
	}
	if len(components) == 0 {
		t.Skip("no component to instrument: set KUBERNETAI_TEST_GUEST")
	}
	for name, c := range components {
		core, err := CoreModule(c)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := Instrument(core)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d bytes instrumented into %d in %v", name, len(core), len(out), time.Since(start))
	}
}

// FuzzInstrument: the rewriter never panics, and what wazero accepts
// before the rewrite it accepts after.
func FuzzInstrument(f *testing.F) {
	for _, m := range [][]byte{spin, recursion, brTable, bulkMemory, references, simd, typeIndexLoop(), withImports} {
		f.Add(m)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	f.Fuzz(func(t *testing.T, module []byte) {
		out, err := Instrument(module)
		if err != nil {
			return
		}
		in, err := r.CompileModule(ctx, module)
		if err != nil {
			return
		}
		_ = in.Close(ctx)
		compiled, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the module compiles but not once instrumented: %v", err)
		}
		_ = compiled.Close(ctx)
	})
}
