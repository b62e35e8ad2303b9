package wasm

import (
	"errors"
	"fmt"
)

var (
	// ErrNotWasm: the bytes are not a WebAssembly binary at all.
	ErrNotWasm = errors.New("not a WebAssembly binary")
	// ErrNotComponent: a core module was given where a component is needed.
	ErrNotComponent = errors.New("a core WebAssembly module, not a component (wrap it with `wasm-tools component new`)")
	// ErrMalformed: the component's framing is broken or it does not hold
	// exactly one core module.
	ErrMalformed = errors.New("malformed component")
)

const (
	preambleLen = 8

	sectionCoreModule = 1 // in a component: an embedded core module
	sectionImport     = 2 // in a core module: its imports
)

var wasmMagic = [4]byte{0x00, 'a', 's', 'm'}

// Version and layer words of the two binary kinds (little-endian u16 each).
var (
	coreModuleVersion = [4]byte{0x01, 0x00, 0x00, 0x00} // version 1, layer 0
	componentVersion  = [4]byte{0x0d, 0x00, 0x01, 0x00} // version 0xd, layer 1
)

// section is one top-level section: its id and payload.
type section struct {
	id      byte
	offset  int // of the id byte, for error messages
	start   int // of the payload
	payload []byte
}

// CoreModule returns the payload of the only top-level core module
// section of a component binary. The result aliases component.
func CoreModule(component []byte) ([]byte, error) {
	if err := checkPreamble(component); err != nil {
		return nil, err
	}
	sections, err := splitSections(component[preambleLen:], preambleLen)
	if err != nil {
		return nil, err
	}
	var modules [][]byte
	for _, s := range sections {
		if s.id == sectionCoreModule {
			modules = append(modules, s.payload)
		}
	}
	if len(modules) != 1 {
		return nil, fmt.Errorf("%w: holds %d core modules at the top level, want exactly 1", ErrMalformed, len(modules))
	}
	return modules[0], nil
}

func checkPreamble(b []byte) error {
	if len(b) < preambleLen || [4]byte(b[:4]) != wasmMagic {
		return ErrNotWasm
	}
	switch v := [4]byte(b[4:8]); v {
	case componentVersion:
		return nil
	case coreModuleVersion:
		return ErrNotComponent
	default:
		return fmt.Errorf("%w: unsupported version/layer % x (want component encoding % x)",
			ErrMalformed, v[:], componentVersion[:])
	}
}

// splitSections cuts a sequence of sections (id byte, LEB128 u32 size,
// payload). base is the offset of b in the whole binary.
func splitSections(b []byte, base int) ([]section, error) {
	var out []section
	for off := 0; off < len(b); {
		id := b[off]
		size, n, err := readU32(b[off+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: section id %d at offset %d: size: %v", ErrMalformed, id, base+off, err)
		}
		start := off + 1 + n
		if uint64(size) > uint64(len(b)-start) {
			return nil, fmt.Errorf("%w: section id %d at offset %d: truncated (size %d, %d bytes left)",
				ErrMalformed, id, base+off, size, len(b)-start)
		}
		out = append(out, section{id: id, offset: base + off, start: base + start, payload: b[start : start+int(size)]})
		off = start + int(size)
	}
	return out, nil
}

// readU32 decodes an unsigned LEB128 value of at most 32 bits, returning it
// and the number of bytes read.
func readU32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i == len(b) {
			return 0, 0, errors.New("truncated LEB128")
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, 0, errors.New("LEB128 overflows 32 bits")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("LEB128 longer than 5 bytes")
}

// ExportNames returns the names a core module exports, in order: enough
// to tell a module of another contract before compiling it.
func ExportNames(core []byte) ([]string, error) {
	if len(core) < preambleLen || [4]byte(core[:4]) != wasmMagic || [4]byte(core[4:8]) != coreModuleVersion {
		return nil, fmt.Errorf("%w: the embedded module is not a core WebAssembly module", ErrMalformed)
	}
	sections, err := splitSections(core[preambleLen:], preambleLen)
	if err != nil {
		return nil, fmt.Errorf("embedded core module: %w", err)
	}
	var names []string
	for _, s := range sections {
		if s.id != sectionExport {
			continue
		}
		r := reader{b: s.payload, base: s.start}
		for range r.u32() {
			names = append(names, r.name())
			r.byte() // kind
			r.u32()  // index
		}
		if err := r.finish(sectionName(s.id)); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// ImportCount returns how many imports a core module declares. The core
// must be self-contained: anything it imported would have to be provided
// by this host, which provides nothing.
func ImportCount(core []byte) (uint32, error) {
	if len(core) < preambleLen || [4]byte(core[:4]) != wasmMagic || [4]byte(core[4:8]) != coreModuleVersion {
		return 0, fmt.Errorf("%w: the embedded module is not a core WebAssembly module", ErrMalformed)
	}
	sections, err := splitSections(core[preambleLen:], preambleLen)
	if err != nil {
		return 0, fmt.Errorf("embedded core module: %w", err)
	}
	var n uint32
	for _, s := range sections {
		if s.id == sectionImport {
			count, _, err := readU32(s.payload)
			if err != nil {
				return 0, fmt.Errorf("%w: embedded core module: import section: %v", ErrMalformed, err)
			}
			n += count
		}
	}
	return n, nil
}
