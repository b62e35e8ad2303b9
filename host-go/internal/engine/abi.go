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

// Canonical ABI layouts of the WIT types that cross through linear memory.
// Records lay out their fields in order, each at its own alignment, and
// align to their widest field; strings and lists are a (ptr u32, len u32)
// pair aligned to 4. Variants (result, option, outcome) put a u8
// discriminant at 0 and their payload at the alignment of the widest case.
// All of this is checked against the real core's cabi_post_* functions and
// return-area stores, and, byte for byte, by the round-trip tests against
// the test guest.
const (
	pairSize    = 8 // string, list<T>: ptr @0, len @4
	recordAlign = 4 // of every record the host lowers

	// record property { name: string, args: list<string>, line: u32 }
	propertySize, propertyName, propertyArgs, propertyLine = 20, 0, 8, 16
	// record stanza { zones: list<string>, properties: list<property>, line: u32 }
	stanzaSize, stanzaZones, stanzaProperties, stanzaLine = 20, 0, 8, 16
	// record stanza-plan { zones: list<string>, kinds: list<kind> }; kind is a u8
	planSize, planZones, planKinds = 16, 0, 8
	// record event { change: change, kind: kind, object: list<u8> }
	eventSize, eventChange, eventKind, eventObject = 12, 0, 1, 4
	// record upstream-reply { name: string, qtype: u16, message: list<u8> }
	replySize, replyName, replyQtype, replyMessage = 20, 0, 8, 12
	// record upstream-query { name: string, qtype: u16 }
	querySize, queryName, queryQtype = 12, 0, 8
	// record zone-serial { zone: string, serial: u32 }
	zoneSerialSize, zoneSerialZone, zoneSerialSerial = 12, 0, 8
	// record metadata-entry { key: string, value: string }
	metadataSize, metadataKey, metadataValue = 16, 0, 8

	// Return areas.

	// result<list<stanza-plan>, config-error> and option<list<…>>: every
	// payload aligns to 4, so it starts at 4.
	variantPayload = 4
	// result's err payload: config-error { stanza: u32, line: u32,
	// property: string, reason: string }
	configErrStanza, configErrLine, configErrProperty, configErrReason = 4, 8, 12, 20
	// apply-report { applied: u32, skipped: u32, problems: list<string>,
	// serials: list<zone-serial> }
	reportApplied, reportSkipped, reportProblems, reportSerials = 0, 4, 8, 16
	// list<metadata-entry>: the pair itself is the return area.
	metadataList = 0
	// variant outcome: the u64 in answer and fallthrough aligns the whole
	// variant to 8, so every case's payload starts at 8, rcode's u8 too.
	outcomePayload = 8
	// record answer { message: list<u8>, stanza: u32, fell-through: u64 }:
	// stanza leaves 4 bytes of padding before the u64.
	answerMessage, answerStanza, answerFellThrough = 0, 8, 16
)

var le = binary.LittleEndian

// errABI marks guest results that break the canonical ABI (a pointer out
// of memory, an unknown discriminant, a string that is not UTF-8).
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

// lower* functions copy Go values into guest memory, each block obtained
// from the guest's cabi_realloc. The guest owns those blocks and frees
// them once it has lifted the arguments, so the host never frees anything.

// alloc reserves size bytes aligned to align in guest memory.
func (in *instance) alloc(ctx context.Context, align, size uint32) (uint32, error) {
	ptr, err := in.call(ctx, in.realloc, exportRealloc, 0, 0, uint64(align), uint64(size))
	return uint32(ptr), err
}

// lowerBytes passes a list<u8>. An empty list is (1, 0): a dangling but
// aligned pointer, as the canonical ABI allows, with no allocation.
func (in *instance) lowerBytes(ctx context.Context, b []byte) (ptr, n uint32, err error) {
	if len(b) == 0 {
		return 1, 0, nil
	}
	if n, err = byteLen(len(b), 1); err != nil {
		return 0, 0, err
	}
	if ptr, err = in.alloc(ctx, 1, n); err != nil {
		return 0, 0, err
	}
	if !in.mem.Write(ptr, b) {
		return 0, 0, in.fail(exportRealloc, fmt.Errorf("%w: block [%#x, +%d) out of memory", errABI, ptr, n))
	}
	return ptr, n, nil
}

// lowerString passes a string, which the caller has checked is UTF-8.
func (in *instance) lowerString(ctx context.Context, s string) (ptr, n uint32, err error) {
	if len(s) == 0 {
		return 1, 0, nil
	}
	if n, err = byteLen(len(s), 1); err != nil {
		return 0, 0, err
	}
	if ptr, err = in.alloc(ctx, 1, n); err != nil {
		return 0, 0, err
	}
	if !in.mem.WriteString(ptr, s) {
		return 0, 0, in.fail(exportRealloc, fmt.Errorf("%w: block [%#x, +%d) out of memory", errABI, ptr, n))
	}
	return ptr, n, nil
}

// lowerList passes a list of n records of the given size: put fills each
// record, lowering what it points to, then the records go to guest memory
// in one write.
func (in *instance) lowerList(ctx context.Context, n int, size uint32, put func(rec []byte, i int) error) (ptr, length uint32, err error) {
	if n == 0 {
		return recordAlign, 0, nil
	}
	total, err := byteLen(n, size)
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, total)
	for i := range n {
		if err := put(buf[uint32(i)*size:uint32(i+1)*size], i); err != nil {
			return 0, 0, err
		}
	}
	if ptr, err = in.alloc(ctx, recordAlign, total); err != nil {
		return 0, 0, err
	}
	if !in.mem.Write(ptr, buf) {
		return 0, 0, in.fail(exportRealloc, fmt.Errorf("%w: block [%#x, +%d) out of memory", errABI, ptr, total))
	}
	return ptr, uint32(n), nil
}

func (in *instance) lowerStrings(ctx context.Context, ss []string) (ptr, n uint32, err error) {
	return in.lowerList(ctx, len(ss), pairSize, func(rec []byte, i int) error {
		return in.putString(ctx, rec, ss[i])
	})
}

// put* lower a value and store its (ptr, len) pair in a record.

func (in *instance) putString(ctx context.Context, dst []byte, s string) error {
	ptr, n, err := in.lowerString(ctx, s)
	putPair(dst, ptr, n)
	return err
}

func (in *instance) putBytes(ctx context.Context, dst []byte, b []byte) error {
	ptr, n, err := in.lowerBytes(ctx, b)
	putPair(dst, ptr, n)
	return err
}

func (in *instance) putStrings(ctx context.Context, dst []byte, ss []string) error {
	ptr, n, err := in.lowerStrings(ctx, ss)
	putPair(dst, ptr, n)
	return err
}

func putPair(dst []byte, ptr, n uint32) {
	le.PutUint32(dst, ptr)
	le.PutUint32(dst[4:], n)
}

// byteLen is n elements of size bytes, refused when guest memory (32-bit)
// could never hold them.
func byteLen(n int, size uint32) (uint32, error) {
	if uint64(n)*uint64(size) > math.MaxUint32 {
		return 0, fmt.Errorf("argument of %d×%d bytes does not fit in guest memory", n, size)
	}
	return uint32(n) * size, nil
}

// checkUTF8 refuses strings the guest could not hold: the Rust bindings
// lift strings without checking them, so invalid UTF-8 would be undefined
// behaviour in the core. Checked before anything is allocated in the guest.
func checkUTF8(what string, ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s %q is not valid UTF-8", what, s)
		}
	}
	return nil
}

// lifter copies results out of guest memory. The first read out of range
// sticks in err, so a caller checks once after reading everything.
type lifter struct {
	mem api.Memory
	err error
}

func (l *lifter) fault(format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf("%w: "+format, append([]any{errABI}, args...)...)
	}
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

// list reads the (ptr, len) pair at p and checks that len elements of
// size bytes lie in memory. It returns the base and the element count.
func (l *lifter) list(p, size uint32) (base, n uint32) {
	base, n = l.u32(p), l.u32(p+4)
	if l.err != nil {
		return 0, 0
	}
	total := uint64(n) * uint64(size)
	if total > uint64(l.mem.Size()) || uint64(base)+total > uint64(l.mem.Size()) {
		l.fault("list [%#x, +%d×%d) out of memory", base, n, size)
		return 0, 0
	}
	return base, n
}

// view returns the bytes of the list<u8> or string whose pair is at p,
// aliasing guest memory: valid only until the guest runs again.
func (l *lifter) view(p uint32) []byte {
	base, n := l.list(p, 1)
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

func (l *lifter) strings(p uint32) []string {
	base, n := l.list(p, pairSize)
	out := make([]string, n)
	for i := range n {
		out[i] = l.string(base + i*pairSize)
	}
	return out
}

func (l *lifter) discriminant(p uint32, cases uint8) uint8 {
	d := l.u8(p)
	if l.err == nil && d >= cases {
		l.fault("discriminant %d at %#x, want < %d", d, p, cases)
	}
	return d
}
