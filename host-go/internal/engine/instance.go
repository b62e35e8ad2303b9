package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

// instance is one instance of the core, with its own linear memory and
// state. It runs one call at a time and is not safe for concurrent use.
//
// Each call is bounded by its context and by a time limit
// (defaultLookupTimeout for Lookup, Transfer, AutoPath and Metadata,
// defaultCallTimeout for the others; an Engine sets its own): the
// Module's watchdog cuts off a call that overruns, which then fails with a
// *CallError wrapping ErrCutOff.
//
// Its methods calling the core's functions are generated (wit_gen.go).
// Any error other than a *ConfigError or a *ResultError (the function's
// own error result) is a *CallError (the guest trapped, ran out of
// memory, was cut off, or broke the ABI) or an argument the host refused
// before calling; after a *CallError the instance is dead and every later
// call returns that error again.
type instance struct {
	mod     api.Module
	mem     api.Memory
	realloc api.Function
	fns     [fnCount]api.Function
	posts   [fnCount]api.Function // nil where the function has no cabi_post_
	// stack is reused by every call so that calls do not allocate.
	stack [stackSize]uint64
	lift  lifter
	err   error // the first *CallError; the instance is dead once set
	// memory is the instance's linear memory; entered says that the call
	// in progress holds it (begin).
	memory  *linearMemory
	entered bool

	limits    limits
	watch     *watchdog
	interrupt api.MutableGlobal // set to 1 to make the guest trap (wasm.Instrument)
	// deadline of the call in progress, shared with the watchdog (see
	// begin): nanoseconds since epoch, 0 between calls, cutOff once cut off.
	deadline atomic.Int64
	ctxMu    sync.Mutex
	ctx      context.Context // of the call in progress if it can be cancelled; under ctxMu
}

// instantiate makes a fresh instance of the module with the limits lim.
// Its exports are looked up once here, not per call.
func (m *Module) instantiate(ctx context.Context, lim limits) (*instance, error) {
	limit, err := memoryLimit(lim.memory, m.minPages)
	if err != nil {
		return nil, err
	}
	lim.memory = limit
	mem := newLinearMemory(limit)
	// Anonymous (no name), so the compiled module can be instantiated many
	// times in one runtime; no start function: the core has none.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
	mod, err := m.runtime.InstantiateModule(mem.allocator(ctx), m.compiled, cfg)
	if err != nil {
		mem.Free()
		return nil, fmt.Errorf("instantiating the core: %w", err)
	}
	interrupt, ok := mod.ExportedGlobal(wasm.InterruptExport).(api.MutableGlobal)
	if !ok { // cannot happen: instrument exports it
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("instantiating the core: no mutable global %q", wasm.InterruptExport)
	}
	in := &instance{
		limits:    lim, // read by the watchdog: set before it sees the instance
		watch:     &m.watch,
		interrupt: interrupt,
		memory:    mem,
	}
	in.bind(mod)
	m.watch.add(in)
	return in, nil
}

// bind makes mod the instance's module and looks its exports up.
func (in *instance) bind(mod api.Module) {
	in.mod = mod
	in.mem = mod.Memory()
	in.realloc = mod.ExportedFunction(exportRealloc)
	in.lift.mem = in.mem
	for i, f := range coreFuncs {
		in.fns[i] = mod.ExportedFunction(f.export)
		if f.post != "" {
			in.posts[i] = mod.ExportedFunction(f.post)
		}
	}
}

// Close releases the instance; later calls fail at once.
func (in *instance) Close(ctx context.Context) error {
	in.watch.remove(in)
	return in.mod.Close(ctx)
}

// Err is the failure that killed the instance, or nil while it is usable.
func (in *instance) Err() error { return in.err }

// memorySize is the current size of the instance's linear memory in bytes.
func (in *instance) memorySize() uint64 { return uint64(in.mem.Size()) }

// memoryLimit is the most memory the instance may have.
func (in *instance) memoryLimit() uint64 { return in.limits.memory }

// outOfMemory reports whether the instance asked for more memory than its
// limit and was refused.
func (in *instance) outOfMemory() bool { return in.memory.refused }

// call calls the export of f with params and returns its first result.
func (in *instance) call(ctx context.Context, f fn, params ...uint64) (uint64, error) {
	return in.invoke(ctx, in.fns[f], coreFuncs[f].wit, params...)
}

// invoke runs f with params on the reused stack and returns its first
// result; what names f in errors.
func (in *instance) invoke(ctx context.Context, f api.Function, what string, params ...uint64) (uint64, error) {
	if in.err != nil {
		return 0, in.err
	}
	copy(in.stack[:], params)
	if err := f.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, in.fail(what, err)
	}
	return in.stack[0], nil
}

// fail records that the instance is dead and why: for lack of memory if
// it was refused some (the guest's allocator aborts then).
func (in *instance) fail(what string, err error) error {
	if in.err == nil {
		if in.memory.refused {
			err = fmt.Errorf("%w: %w", ErrOutOfMemory, err)
		}
		in.err = &CallError{Func: what, Err: err}
	}
	return in.err
}

// startLift prepares to read a return area of size bytes aligned to
// align at area.
func (in *instance) startLift(area, size, align uint32) *lifter {
	in.lift.err = nil
	in.lift.within(area, size, align, "return area")
	return &in.lift
}

// finish frees the return area of f once its result has been copied out
// (cabi_post_*), or kills the instance if reading the result failed.
func (in *instance) finish(ctx context.Context, f fn, area uint32) error {
	if in.lift.err != nil {
		return in.fail(coreFuncs[f].wit, in.lift.err)
	}
	if in.posts[f] == nil {
		return nil
	}
	_, err := in.invoke(ctx, in.posts[f], coreFuncs[f].post, uint64(area))
	return err
}
