package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

// The tests run against tools/test-guest, a fake core whose results are
// derived from its inputs (see its src/lib.rs), so every byte crossing the
// canonical ABI can be checked.

const guestBuild = "build it from the repository root with:\n" +
	"  cargo build --release --target wasm32-unknown-unknown -p kubernetai-test-guest\n" +
	"  wasm-tools component new target/wasm32-unknown-unknown/release/kubernetai_test_guest.wasm -o target/components/test-guest.wasm\n" +
	"or point KUBERNETAI_TEST_GUEST at a built copy"

var (
	guestOnce  sync.Once
	guestBytes []byte
	guestErr   error
)

// testGuest returns the test-guest component's bytes.
func testGuest(tb testing.TB) []byte {
	tb.Helper()
	guestOnce.Do(func() {
		path := os.Getenv("KUBERNETAI_TEST_GUEST")
		if path == "" {
			path = filepath.Join("..", "..", "target", "components", "test-guest.wasm")
		}
		guestBytes, guestErr = os.ReadFile(path)
	})
	if guestErr != nil {
		tb.Fatalf("test guest component missing (%v); %s", guestErr, guestBuild)
	}
	return guestBytes
}

// compileGuest compiles the test guest, closed at the end of the test.
func compileGuest(tb testing.TB) *Module {
	tb.Helper()
	ctx := context.Background()
	mod, err := Compile(ctx, testGuest(tb))
	if err != nil {
		tb.Fatalf("Compile(test guest): %v", err)
	}
	tb.Cleanup(func() { _ = mod.Close(ctx) })
	return mod
}

// newInstance returns a configured instance of the test guest.
func newInstance(tb testing.TB, mod *Module, stanzas []Stanza) *instance {
	tb.Helper()
	return newLimitedInstance(tb, mod, defaultLimits, stanzas)
}

// newLimitedInstance returns a configured instance of the test guest with
// the limits lim.
func newLimitedInstance(tb testing.TB, mod *Module, lim limits, stanzas []Stanza) *instance {
	tb.Helper()
	ctx := context.Background()
	in, err := mod.instantiate(ctx, lim)
	if err != nil {
		tb.Fatalf("Instantiate: %v", err)
	}
	tb.Cleanup(func() { _ = in.Close(ctx) })
	if _, err := in.Configure(ctx, stanzas, 42); err != nil {
		tb.Fatalf("Configure: %v", err)
	}
	return in
}

// query is a DNS query message for name (uncompressed, type A, class IN).
func query(name string) []byte {
	msg := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		msg = append(msg, byte(len(label)))
		msg = append(msg, label...)
	}
	return append(msg, 0, 0, 1, 0, 1)
}

// echo is what the test guest answers to an ordinary query: the query with
// the QR bit set, followed by the local IPs joined by ",".
func echo(q []byte, ips ...string) []byte {
	out := append([]byte(nil), q...)
	if len(out) > 2 {
		out[2] |= 0x80
	}
	return append(out, strings.Join(ips, ",")...)
}

// answered is the test guest's answer to an ordinary query: echo, from
// stanza 0, no stanza having fallen through.
func answered(q []byte, ips ...string) Outcome {
	return Outcome{Kind: OutcomeAnswer, Answer: Answer{Message: echo(q, ips...)}}
}

// kinds is the number of kinds of objects.
const kinds = int(KindServiceImport) + 1

// guestPlan is the test guest's plan of a stanza with these zones (as
// lifted: lower-cased) whose only options add the watches of extra kinds
// (pods: KindPod, multicluster: KindServiceImport): the three default
// watches without selectors, the in-cluster API server, the default
// startup timeout.
func guestPlan(zones []string, extra ...Kind) StanzaPlan {
	watches := []Watch{{Kind: KindNamespace}, {Kind: KindService}, {Kind: KindEndpointSlice}}
	for _, k := range extra {
		watches = append(watches, Watch{Kind: k})
	}
	if zones == nil {
		zones = []string{}
	}
	return StanzaPlan{
		Zones:            zones,
		Watches:          watches,
		Source:           Source{Kind: SourceAPIServer, APIServer: Connection{IgnoredEndpoints: []string{}, TLS: []string{}}},
		StartupTimeoutNs: 5e9,
	}
}

// guestConfiguration is the test guest's configuration of stanzas whose
// plans are given, without runtime options: its defaults.
func guestConfiguration(plans ...StanzaPlan) Configuration {
	if plans == nil {
		plans = []StanzaPlan{}
	}
	return Configuration{Stanzas: plans, Runtime: Runtime{WasmTimeoutNs: 1e9, WasmMemory: 256 << 20, NotifyIntervalNs: 5e9}}
}

// serials is what the test guest reports for a stanza's zones after an
// apply at now: zone i has serial now-i.
func serials(now uint32, zones ...string) []ZoneSerial {
	out := make([]ZoneSerial, len(zones))
	for i, z := range zones {
		out[i] = ZoneSerial{Zone: z, Serial: now - uint32(i)}
	}
	return out
}

// perStanza reads a test guest answer of one u32 per stanza (count,
// calls, serial).
func perStanza(t testing.TB, in *instance, label string) []uint32 {
	t.Helper()
	out, err := in.Lookup(context.Background(), query(label+".x."), nil)
	if err != nil || out.Kind != OutcomeAnswer {
		t.Fatalf("Lookup(%s) = %v, %v", label, out, err)
	}
	values := make([]uint32, len(out.Answer.Message)/4)
	for i := range values {
		values[i] = binary.BigEndian.Uint32(out.Answer.Message[4*i:])
	}
	return values
}

// --- wasm binary construction, for components the toolchain would not make.

var (
	componentPreamble = []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}
	corePreamble      = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
)

// leb appends v as an unsigned LEB128, as the binary format writes
// counts, sizes and indices.
func leb(b []byte, v int) []byte { return binary.AppendUvarint(b, uint64(v)) }

func wasmName(b []byte, s string) []byte { return append(leb(b, len(s)), s...) }

func wasmSection(b []byte, id byte, payload []byte) []byte {
	return append(leb(append(b, id), len(payload)), payload...)
}

// wrapComponent makes a component binary holding the given core modules
// and nothing else: enough for the host, which reads only section 1.
func wrapComponent(cores ...[]byte) []byte {
	b := append([]byte(nil), componentPreamble...)
	for _, c := range cores {
		b = wasmSection(b, 1, c)
	}
	return b
}

// fakeFunc is an exported function of a fake core module; its body traps,
// or runs code if set (the instructions, without the final end).
type fakeFunc struct {
	name            string
	params, results []byte // value types: 0x7f i32, 0x7e i64
	code            []byte
}

// fakeCore builds a core module exporting memory and funcs, with one
// function import when withImport is set.
func fakeCore(funcs []fakeFunc, withImport bool) []byte {
	var types, imports, fns, exports, code []byte
	types = leb(types, len(funcs))
	for _, f := range funcs {
		types = append(types, 0x60)
		types = append(leb(types, len(f.params)), f.params...)
		types = append(leb(types, len(f.results)), f.results...)
	}
	base := 0
	if withImport {
		imports = leb(imports, 1)
		imports = wasmName(wasmName(imports, "env"), "f")
		imports = append(imports, 0x00, 0x00) // func of type 0
		base = 1
	}
	fns = leb(fns, len(funcs))
	exports = leb(exports, len(funcs)+1)
	code = leb(code, len(funcs))
	for i, f := range funcs {
		fns = leb(fns, i)
		exports = leb(append(wasmName(exports, f.name), 0x00), base+i)
		body := f.code
		if body == nil {
			body = []byte{0x00} // unreachable
		}
		body = append(append([]byte{0}, body...), 0x0b) // no locals, the code, end
		code = append(leb(code, len(body)), body...)
	}
	exports = append(wasmName(exports, "memory"), 0x02, 0x00)

	b := append([]byte(nil), corePreamble...)
	b = wasmSection(b, 1, types)
	if withImport {
		b = wasmSection(b, 2, imports)
	}
	b = wasmSection(b, 3, fns)
	b = wasmSection(b, 5, []byte{1, 0x00, 17}) // one memory, min 17 pages
	b = wasmSection(b, 7, exports)
	return wasmSection(b, 10, code)
}

// ourVersion is the version of the contract this host speaks.
var ourVersion = strings.TrimPrefix(WITInterface, witInterfacePrefix)

// fakeFuncs is the full export set of interface core at version, with the
// canonical signatures (those of coreFuncs: witgen's tests pin them).
func fakeFuncs(version string) []fakeFunc {
	rename := func(name string) string { return strings.Replace(name, WITInterface, witInterfacePrefix+version, 1) }
	out := []fakeFunc{{name: exportRealloc, params: reallocSig.params, results: reallocSig.results}}
	for _, f := range coreFuncs {
		out = append(out, fakeFunc{name: rename(f.export), params: f.params, results: f.results})
		if f.post != "" {
			out = append(out, fakeFunc{name: rename(f.post), params: postSig.params})
		}
	}
	return out
}

// renameCoreExports returns a component holding the core module of
// component with its exports renamed by rename: a component built from the
// same code against another version of the WIT.
func renameCoreExports(tb testing.TB, component []byte, rename func(string) string) []byte {
	tb.Helper()
	core, err := wasm.CoreModule(component)
	if err != nil {
		tb.Fatal(err)
	}
	out := append([]byte(nil), corePreamble...)
	for r := bytes.NewReader(core[len(corePreamble):]); r.Len() > 0; {
		id, _ := r.ReadByte()
		payload := make([]byte, readLEB(tb, r))
		_, _ = r.Read(payload)
		if id == 7 { // export section: vec(name, kind byte, index)
			payload = renameExports(tb, payload, rename)
		}
		out = wasmSection(out, id, payload)
	}
	return wrapComponent(out)
}

func renameExports(tb testing.TB, section []byte, rename func(string) string) []byte {
	r := bytes.NewReader(section)
	count := readLEB(tb, r)
	out := leb(nil, count)
	for range count {
		name := make([]byte, readLEB(tb, r))
		_, _ = r.Read(name)
		kind, _ := r.ReadByte()
		out = leb(append(wasmName(out, rename(string(name))), kind), readLEB(tb, r))
	}
	return out
}

func readLEB(tb testing.TB, r *bytes.Reader) int {
	v, err := binary.ReadUvarint(r)
	if err != nil {
		tb.Fatal(err)
	}
	return int(v)
}
