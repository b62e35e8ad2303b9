package engine

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestMemoryLimit(t *testing.T) {
	const minPages = 17
	tests := []struct {
		limit, want uint64
		err         string
	}{
		{limit: 0, want: defaultMemoryLimit},
		{limit: 32<<20 + 100, want: 32 << 20},
		{limit: minPages * pageSize, want: minPages * pageSize},
		{limit: maxMemoryLimit, want: maxMemoryLimit},
		{limit: minPages*pageSize - 1, err: "memory limit of 1048576 bytes: the core needs at least 1114112 bytes to start"},
		{limit: 100, err: "memory limit of 0 bytes: the core needs at least 1114112 bytes"},
		{limit: 5 << 30, err: "memory limit of 5368709120 bytes: more than the 4 GiB"},
	}
	for _, tt := range tests {
		got, err := memoryLimit(tt.limit, minPages)
		if tt.err != "" {
			if !errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("memoryLimit(%d) = %d, %v; want an ErrMemoryLimit saying %q", tt.limit, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("memoryLimit(%d) = %d, %v; want %d", tt.limit, got, err, tt.want)
		}
	}
}

// Each instance has its own limit, set when it is made: one compiled
// module serves two limits. Growing stops at the limit, for lack of
// memory, and (where the memory is a reservation) never moves it.
func TestInstanceMemoryLimit(t *testing.T) {
	mod := compileGuest(t)
	for _, limit := range []uint64{8 << 20, 24 << 20} {
		in := newLimitedInstance(t, mod, limits{query: time.Minute, other: time.Minute, memory: limit}, []Stanza{{}})
		if runtime.GOOS == "linux" && !in.memory.reserved {
			t.Errorf("limit %d: the memory is not a reservation", limit)
		}
		base := memoryBase(t, in)
		_, err := in.Lookup(context.Background(), query("grow.x."), nil)
		if !errors.Is(err, ErrOutOfMemory) || !in.outOfMemory() {
			t.Errorf("limit %d: Lookup(grow) = %v, want out of memory", limit, err)
		}
		if size := in.memorySize(); size > limit || size < limit-(2<<20) {
			t.Errorf("limit %d: memory of %d bytes after growing without end", limit, size)
		}
		if in.memory.reserved && memoryBase(t, in) != base {
			t.Errorf("limit %d: the memory moved while it grew", limit)
		}
	}
}

func memoryBase(t *testing.T, in *instance) unsafe.Pointer {
	t.Helper()
	b, ok := in.mem.Read(0, 1)
	if !ok {
		t.Fatal("memory is empty")
	}
	return unsafe.Pointer(&b[0])
}

// A closed instance refuses calls, whether it was closed alone or with
// its Module.
func TestClosedInstanceRefusesCalls(t *testing.T) {
	ctx := context.Background()
	mod := compileGuest(t)
	alone := newInstance(t, mod, []Stanza{{}})
	_ = alone.Close(ctx)
	other, err := Compile(ctx, testGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	withModule := newInstance(t, other, []Stanza{{}})
	_ = other.Close(ctx)
	for name, in := range map[string]*instance{"closed": alone, "module closed": withModule} {
		_, err := in.Lookup(ctx, query("www.x."), nil)
		var ce *CallError
		if !errors.As(err, &ce) || !errors.Is(err, errInstanceClosed) || ce.Func != "lookup" {
			t.Errorf("%s: Lookup = %v, want a *CallError: closed", name, err)
		}
	}
}

// A Module closed while a call runs on one of its instances (CoreDNS
// shutting down under a late query) cuts the call off and waits for it to
// end before wazero frees the instance's memory: the guest never runs on
// unmapped memory, and the instance refuses later calls.
func TestModuleClosedDuringCall(t *testing.T) {
	ctx := context.Background()
	mod, err := Compile(ctx, testGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	in, err := mod.instantiate(ctx, limits{query: time.Hour, other: time.Hour, memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := in.Lookup(ctx, query("loop.x."), nil) // only Close ends it
		done <- err
	}()
	waitFor(t, "the call to begin", func() bool { return in.memory.busy() })
	if err := mod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var ce *CallError
	if err := <-done; !errors.As(err, &ce) || !errors.Is(err, errInstanceClosed) {
		t.Errorf("Lookup(loop) = %v, want a *CallError: closed", err)
	}
	if in.memory.buf != nil {
		t.Error("the memory was not released")
	}
	if _, err := in.Lookup(ctx, query("www.x."), nil); !errors.Is(err, errInstanceClosed) {
		t.Errorf("Lookup after Close = %v, want closed", err)
	}
}

// Should wazero free a memory while a call still uses it, the memory is
// released when the call ends, not before.
func TestMemoryFreedDuringCall(t *testing.T) {
	m := newLinearMemory(4 * pageSize)
	if m.Reallocate(pageSize) == nil || !m.enter() {
		t.Fatal("a fresh memory refused")
	}
	m.Free()
	if m.buf == nil {
		t.Fatal("released under a call")
	}
	if m.enter() {
		t.Error("a freed memory let a call begin")
	}
	if !m.exit() || m.buf != nil {
		t.Error("not released when the call ended")
	}
	m.Free() // again: nothing to do
}
