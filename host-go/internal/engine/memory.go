package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// ErrOutOfMemory is wrapped by the *CallError of a guest call that failed
// after the host refused to grow the instance's linear memory past its
// limit (Config.MemoryLimit): the core needed more memory than it may
// have.
var ErrOutOfMemory = errors.New("out of memory")

// ErrMemoryLimit is wrapped by the error of a memory limit no instance
// can have: below what the core needs to start, or above 4 GiB.
var ErrMemoryLimit = errors.New("memory limit")

// errInstanceClosed is the *CallError of a call on an instance that was
// closed (by itself or with its Module): its memory is gone.
var errInstanceClosed = errors.New("the instance is closed")

const (
	// defaultMemoryLimit caps an instance's linear memory unless
	// Config.MemoryLimit says otherwise (the core's default wasm_memory).
	defaultMemoryLimit = 256 << 20
	// maxMemoryLimit is all a wasm32 memory can address.
	maxMemoryLimit = 1 << 32

	pageSize = 1 << 16
)

// linearMemory backs the linear memory of one instance, in place of
// wazero's default, through its MemoryAllocator hook (RATIONALE.md).
//
// It holds the instance's cap: a grow past limit is refused (and
// remembered, so a failure that follows is known to be for lack of
// memory), while the module is compiled once with wazero's largest limit.
// Where the kernel gives one (memory_linux.go), the whole limit is
// reserved as address space at instantiation and committed page by page
// as the guest touches it: growth never copies and the memory is outside
// the Go heap. Elsewhere, or when the reservation is refused, the memory
// is a Go slice grown by append, as wazero's own allocator does.
//
// The memory must not be unmapped under a call. Every host call on the
// instance is bracketed by enter and exit (begin and end). A closed
// instance's memory refuses enter, so it refuses further calls. wazero
// frees the memory when the instance or its Module is closed: an
// instance is closed by whoever holds it, between calls, and a Module
// first shuts its instances and cuts off the calls still running
// (Module.Close); should one still run when wazero frees its memory, the
// memory is unmapped when that call ends, not before.
type linearMemory struct {
	limit    uint64
	buf      []byte // the reservation (reserved), or the memory itself
	reserved bool
	// refused is set when a grow past limit was refused. Written during a
	// call, read by whoever holds the instance afterwards.
	refused bool
	// use counts host calls in progress (useCalls), with useShut once no
	// call may begin and useFreed once wazero has freed the memory.
	use atomic.Int64
}

const (
	useCalls = 1<<32 - 1
	useShut  = 1 << 32
	useFreed = 1 << 33
)

// newLinearMemory makes the memory of an instance limited to limit bytes,
// a whole number of pages between 1 and maxMemoryLimit.
func newLinearMemory(limit uint64) *linearMemory {
	m := &linearMemory{limit: limit}
	m.buf, m.reserved = reserve(limit)
	return m
}

// memoryLimit rounds a limit down to whole pages and checks it against
// what a wasm32 memory can be and what the module needs (min pages).
func memoryLimit(limit uint64, minPages uint32) (uint64, error) {
	if limit == 0 {
		limit = defaultMemoryLimit
	}
	limit -= limit % pageSize
	switch least := max(uint64(minPages), 1) * pageSize; {
	case limit > maxMemoryLimit:
		return 0, fmt.Errorf("%w of %d bytes: more than the 4 GiB a wasm32 memory can address", ErrMemoryLimit, limit)
	case limit < least:
		return 0, fmt.Errorf("%w of %d bytes: the core needs at least %d bytes to start", ErrMemoryLimit, limit, least)
	}
	return limit, nil
}

// allocator hands m to wazero for the one memory of the instance being
// made.
func (m *linearMemory) allocator(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
		func(_, _ uint64) experimental.LinearMemory { return m }))
}

// Reallocate implements experimental.LinearMemory: wazero calls it for
// the initial size and at every memory.grow. nil makes the grow fail.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused = true
		return nil
	}
	if m.reserved {
		return m.buf[:size:size]
	}
	if n := uint64(len(m.buf)); size > n {
		m.buf = append(m.buf, make([]byte, size-n)...)
	}
	return m.buf[:size]
}

// Free implements experimental.LinearMemory: the memory is released now,
// or by the call in progress when it ends.
func (m *linearMemory) Free() {
	if m.use.Or(useShut|useFreed)&(useCalls|useFreed) == 0 {
		m.release()
	}
}

// shut refuses every later call, and reports whether one is in progress.
func (m *linearMemory) shut() (busy bool) {
	return m.use.Or(useShut)&useCalls != 0
}

// busy reports whether a call is in progress.
func (m *linearMemory) busy() bool { return m.use.Load()&useCalls != 0 }

// enter marks a host call on the memory; false once it is shut.
func (m *linearMemory) enter() bool {
	for {
		u := m.use.Load()
		if u&useShut != 0 {
			return false
		}
		if m.use.CompareAndSwap(u, u+1) {
			return true
		}
	}
}

// exit ends what enter began, releasing the memory if it was freed
// meanwhile. It reports whether the memory was shut meanwhile.
func (m *linearMemory) exit() (shut bool) {
	u := m.use.Add(-1)
	if u&(useCalls|useFreed) == useFreed {
		m.release()
	}
	return u&useShut != 0
}

func (m *linearMemory) release() {
	if m.reserved {
		unreserve(m.buf)
	}
	m.buf = nil
}
