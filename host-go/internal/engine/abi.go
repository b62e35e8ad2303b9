package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// The hand-written half of the canonical ABI glue: wit_gen.go, generated
// from the WIT by internal/witgen, lays out and walks the contract's
// types; the functions here move bytes in and out of guest memory and
// make the canonical ABI's checks (CanonicalABI.md, load_* and store_*):
// a guest result is read only within memory, at its alignment, with
// strings that are UTF-8 and discriminants that name a case; what the
// guest's cabi_realloc returns must be aligned and within memory; and
// everything the host lowers is checked before the first allocation.

var le = binary.LittleEndian

// maxListBytes is the canonical ABI's MAX_LIST_BYTE_LENGTH (and
// MAX_STRING_BYTE_LENGTH): no string or list is longer, either way.
const maxListBytes = 1<<28 - 1

// errABI marks guest results that break the canonical ABI (a pointer out
// of memory or misaligned, an unknown discriminant, a string that is not
// UTF-8).
var errABI = errors.New("canonical ABI violation")

// CallError reports a guest call that failed: the core trapped, ran out of
// memory, was cut off because its context ended, or broke the canonical
// ABI. The instance is dead afterwards.
type CallError struct {
	Func string // WIT function, or cabi_realloc / cabi_post_<function>
	Err  error
}

func (e *CallError) Error() string { return "kubernetai core: " + e.Func + ": " + e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

// ResultError is the error case of a function's result, when it is a
// string: the core refused the call and the instance stays usable.
type ResultError struct {
	Func    string // WIT function
	Message string
}

func (e *ResultError) Error() string { return "kubernetai core: " + e.Func + ": " + e.Message }

// coreFunc is a core export and its signature (coreFuncs, generated).
// Checked against every module at load time, so a signature mismatch is
// refused before any call can misread memory.
type coreFunc struct {
	wit     string // WIT function
	export  string
	post    string // cabi_post_ export; "" when there is none
	params  []api.ValueType
	results []api.ValueType
}

var (
	reallocSig = coreFunc{wit: exportRealloc, export: exportRealloc, params: []api.ValueType{i32, i32, i32, i32}, results: []api.ValueType{i32}}
	postSig    = coreFunc{params: []api.ValueType{i32}}
)

// --- lowering: argument blocks come from the guest's cabi_realloc. The
// guest owns them and frees them once it has lifted the arguments, so the
// host never frees anything.

// alloc reserves size bytes aligned to align in guest memory.
func (in *instance) alloc(ctx context.Context, align, size uint32) (uint32, error) {
	p, err := in.invoke(ctx, in.realloc, exportRealloc, 0, 0, uint64(align), uint64(size))
	ptr := uint32(p)
	if err == nil && (ptr%align != 0 || uint64(ptr)+uint64(size) > uint64(in.mem.Size())) {
		err = in.fail(exportRealloc, fmt.Errorf("%w: block [%#x, +%d) misaligned (%d) or out of memory", errABI, ptr, size, align))
	}
	return ptr, err
}

// lowerBlock copies b into a block of guest memory aligned to align.
func (in *instance) lowerBlock(ctx context.Context, align uint32, b []byte) (uint32, error) {
	ptr, err := in.alloc(ctx, align, uint32(len(b)))
	if err == nil {
		in.mem.Write(ptr, b) // in range: checked by alloc
	}
	return ptr, err
}

// lowerBytes passes a list<u8>. An empty list is (1, 0): an aligned
// address, as the guest's bindings want, and no allocation.
func (in *instance) lowerBytes(ctx context.Context, b []byte) (ptr, n uint32, err error) {
	if len(b) == 0 {
		return 1, 0, nil
	}
	ptr, err = in.lowerBlock(ctx, 1, b)
	return ptr, uint32(len(b)), err
}

// lowerString passes a string, which the caller has checked.
func (in *instance) lowerString(ctx context.Context, s string) (ptr, n uint32, err error) {
	if len(s) == 0 {
		return 1, 0, nil
	}
	if ptr, err = in.alloc(ctx, 1, uint32(len(s))); err == nil {
		in.mem.WriteString(ptr, s)
	}
	return ptr, uint32(len(s)), err
}

// storeString and storeBytes lower a value and store its (ptr, len) pair
// at dst, in a record or list being built.
func (in *instance) storeString(ctx context.Context, dst []byte, s string) error {
	ptr, n, err := in.lowerString(ctx, s)
	putPair(dst, ptr, n)
	return err
}

func (in *instance) storeBytes(ctx context.Context, dst []byte, b []byte) error {
	ptr, n, err := in.lowerBytes(ctx, b)
	putPair(dst, ptr, n)
	return err
}

func putPair(dst []byte, ptr, n uint32) {
	le.PutUint32(dst, ptr)
	le.PutUint32(dst[4:], n)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// checkString refuses a string the guest could not lift: the Rust
// bindings take strings as valid UTF-8 without checking, so anything else
// would be undefined behaviour in the core.
func checkString(s string) error {
	if err := checkLength(len(s), 1); err != nil {
		return err
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	return nil
}

func checkBytes(b []byte) error { return checkLength(len(b), 1) }

// checkLength refuses a list of n elements of size bytes that the
// canonical ABI does not let the guest lift.
func checkLength(n int, size uint32) error {
	if uint64(n)*uint64(size) > maxListBytes {
		return fmt.Errorf("%d×%d bytes, more than the canonical ABI's %d", n, size, maxListBytes)
	}
	return nil
}

// --- lifting

// lifter copies results out of guest memory. The first violation sticks
// in err, and later reads return zeros, so a caller checks once after
// reading everything.
type lifter struct {
	mem api.Memory
	err error
}

func (l *lifter) fault(format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf("%w: "+format, append([]any{errABI}, args...)...)
	}
}

// within checks that size bytes at p, aligned to align, lie in memory.
func (l *lifter) within(p, size, align uint32, what string) bool {
	if l.err != nil {
		return false
	}
	if p%align != 0 || uint64(p)+uint64(size) > uint64(l.mem.Size()) {
		l.fault("%s [%#x, +%d) misaligned (%d) or out of memory", what, p, size, align)
		return false
	}
	return true
}

func (l *lifter) u8(p uint32) uint8 {
	v, ok := l.mem.ReadByte(p)
	if !ok {
		l.fault("u8 at %#x out of memory", p)
	}
	return v
}

func (l *lifter) u16(p uint32) uint16 {
	v, ok := l.mem.ReadUint16Le(p)
	if !ok {
		l.fault("u16 at %#x out of memory", p)
	}
	return v
}

func (l *lifter) u32(p uint32) uint32 {
	v, ok := l.mem.ReadUint32Le(p)
	if !ok {
		l.fault("u32 at %#x out of memory", p)
	}
	return v
}

func (l *lifter) u64(p uint32) uint64 {
	v, ok := l.mem.ReadUint64Le(p)
	if !ok {
		l.fault("u64 at %#x out of memory", p)
	}
	return v
}

func (l *lifter) f64(p uint32) float64 { return math.Float64frombits(l.u64(p)) }

// bool is any non-zero byte, as the canonical ABI reads it.
func (l *lifter) bool(p uint32) bool { return l.u8(p) != 0 }

// case8, case16 and case32 read a discriminant of n cases.
func (l *lifter) case8(p, n uint32) uint8   { return uint8(l.checkCase(uint32(l.u8(p)), p, n)) }
func (l *lifter) case16(p, n uint32) uint16 { return uint16(l.checkCase(uint32(l.u16(p)), p, n)) }
func (l *lifter) case32(p, n uint32) uint32 { return l.checkCase(l.u32(p), p, n) }

func (l *lifter) checkCase(d, p, n uint32) uint32 {
	if l.err == nil && d >= n {
		l.fault("discriminant %d at %#x, want < %d", d, p, n)
		return 0
	}
	return d
}

// list reads the (ptr, len) pair at p and checks that len elements of
// size bytes, aligned to align, lie in memory. It returns the base and
// the element count.
func (l *lifter) list(p, size, align uint32) (base, n uint32) {
	base, n = l.u32(p), l.u32(p+4)
	total := uint64(n) * uint64(size)
	if l.err == nil && total > maxListBytes {
		l.fault("list at %#x of %d×%d bytes, more than %d", p, n, size, maxListBytes)
	}
	if !l.within(base, uint32(min(total, maxListBytes)), align, "list") {
		return 0, 0
	}
	return base, n
}

// view returns the bytes of the list<u8> or string whose pair is at p,
// aliasing guest memory: valid only until the guest runs again.
func (l *lifter) view(p uint32) []byte {
	base, n := l.list(p, 1, 1)
	if l.err != nil || n == 0 {
		return nil
	}
	b, _ := l.mem.Read(base, n) // in range: checked by list
	return b
}

func (l *lifter) bytes(p uint32) []byte {
	v := l.view(p)
	if v == nil {
		return []byte{} // an empty list, not a missing one
	}
	return append([]byte(nil), v...)
}

func (l *lifter) string(p uint32) string {
	v := l.view(p)
	if !utf8.Valid(v) {
		l.fault("string at %#x is not UTF-8", p)
		return ""
	}
	return string(v)
}
