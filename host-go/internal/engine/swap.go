package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

// Reasons a Swap refuses a module, for logs and metrics.
const (
	SwapRefusedInstantiate = "instantiate" // an instance could not be made
	SwapRefusedConfigure   = "configure"   // the core refused the stanzas
	SwapRefusedPlans       = "plans"       // the core plans the stanzas differently
	SwapRefusedReplay      = "replay"      // the core failed on the state
	SwapRefusedSelfCheck   = "self_check"  // the core failed a query of the self-check
	SwapRefusedClosed      = "closed"      // the Engine closed meanwhile
)

// SwapError is why Swap refused a module; the Engine still serves the
// module it served before.
type SwapError struct {
	Reason string // one of the SwapRefused* constants
	Err    error
}

func (e *SwapError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *SwapError) Unwrap() error { return e.Err }

// swap replaces the module serving with mod, without failing or delaying
// a query. The new pool (as many instances as the old) is built beside
// the old one: each instance is configured with the same stanzas and hash
// seed, and must plan them exactly as the serving module did (the stanzas'
// sources deliver what those plans ask for); then, with state changes held
// back, each is fed the state the Engine keeps (nothing is asked of the
// sources again), one instance answers a self-check query per zone, and
// the Engine switches to the new pool. Changes held back meanwhile go to
// the new pool only, so none is lost. Queries that hold an instance of the
// old pool finish on it; the old pool is then closed, and its module
// returned: the caller owns it and may close it.
//
// A module that fails a step is refused with a *SwapError and the Engine
// keeps serving the old one; mod stays the caller's. One Swap runs at a
// time. ctx bounds the steps before the switch.
func (e *Engine) swap(ctx context.Context, mod *Module) (old *Module, err error) {
	e.swapMu.Lock()
	defer e.swapMu.Unlock()
	if e.isClosed() {
		return nil, &SwapError{SwapRefusedClosed, ErrClosed}
	}
	next := newGeneration(mod)
	ins, err := e.configured(ctx, mod, e.cfg.PoolSize)
	if err != nil {
		return nil, err
	}

	e.changeMu.Lock()
	snap := e.state.snapshot()
	err = e.feedAll(ctx, ins, snap)
	if err == nil {
		err = e.selfCheck(ctx, ins[0])
	}
	if err == nil {
		for _, in := range ins {
			next.pool.add(&slot{in: in, seq: snap.seq})
		}
		e.genMu.Lock()
		if e.closed {
			err = &SwapError{SwapRefusedClosed, ErrClosed}
		} else {
			prev := e.gen.Swap(next)
			prev.retire()
			next, ins = prev, nil // next is now the generation to drain
		}
		e.genMu.Unlock()
	}
	e.changeMu.Unlock()
	if err != nil {
		for _, in := range ins {
			_ = in.Close(context.Background())
		}
		return nil, err
	}
	e.swaps.Add(1)
	// Calls holding an old instance are bounded by the call timeouts, and
	// a replacement in the old pool stops retrying once retired.
	if err := next.drain(context.Background()); err != nil {
		e.cfg.Logf("kubernetai engine: closing the previous module's instances: %v", err)
	}
	return next.mod, nil
}

func (e *Engine) isClosed() bool {
	e.genMu.Lock()
	defer e.genMu.Unlock()
	return e.closed
}

// configured makes n instances of mod, configured like the serving ones,
// in parallel; all or none.
func (e *Engine) configured(ctx context.Context, mod *Module, n int) ([]*instance, error) {
	ins := make([]*instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in, err := mod.instantiate(ctx, e.limits())
			if err != nil {
				errs[i] = &SwapError{SwapRefusedInstantiate, err}
				return
			}
			ins[i] = in
			conf, err := in.Configure(ctx, e.cfg.Stanzas, e.cfg.HashSeed)
			if err != nil {
				errs[i] = &SwapError{SwapRefusedConfigure, err}
				return
			}
			if diff := configurationDiff(e.conf, conf); diff != "" {
				errs[i] = &SwapError{SwapRefusedPlans, errors.New(diff)}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, in := range ins {
			if in != nil {
				_ = in.Close(context.Background())
			}
		}
		// The first, for its reason: the others are alike.
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	return ins, nil
}

// configurationDiff describes how two modules' configurations differ in
// what the running host acts on, or returns "" when they do not: the
// stanzas' zones (answers, NOTIFY, the self-check), watches and sources
// (the feeds), and the runtime options (the engine and the plugin). Lines
// and startup timeouts are not compared: they served the start.
func configurationDiff(serving, candidate Configuration) string {
	if len(serving.Stanzas) != len(candidate.Stanzas) {
		return fmt.Sprintf("%d stanza plans, the serving module has %d", len(candidate.Stanzas), len(serving.Stanzas))
	}
	for i := range serving.Stanzas {
		a, b := &serving.Stanzas[i], &candidate.Stanzas[i]
		switch {
		case !slices.Equal(a.Zones, b.Zones):
			return fmt.Sprintf("stanza %d: zones %s, the serving module has %s",
				i+1, strings.Join(b.Zones, " "), strings.Join(a.Zones, " "))
		case !slices.Equal(a.Watches, b.Watches):
			return fmt.Sprintf("stanza %d: watches %v, the serving module has %v", i+1, b.Watches, a.Watches)
		case !reflect.DeepEqual(a.Source, b.Source):
			return fmt.Sprintf("stanza %d: source %+v, the serving module has %+v", i+1, b.Source, a.Source)
		}
	}
	if serving.Runtime != candidate.Runtime {
		return fmt.Sprintf("runtime options %+v, the serving module has %+v", candidate.Runtime, serving.Runtime)
	}
	return ""
}

// feedAll replays snap into every instance, in parallel.
func (e *Engine) feedAll(ctx context.Context, ins []*instance, snap *snapshot) error {
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() {
			if failed, err := e.feed(in, snap, applyChunkEvents); err != nil {
				if failed != nil {
					err = fmt.Errorf("stanza %d: %s %q: %w", failed.stanza+1, failed.Kind, failed.Key, err)
				}
				errs[i] = &SwapError{SwapRefusedReplay, err}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// selfCheck asks in for the SOA of every zone the stanzas serve: each
// call must return (any outcome; a trap or a cut-off refuses the module).
func (e *Engine) selfCheck(ctx context.Context, in *instance) error {
	for _, p := range e.conf.Stanzas {
		for _, z := range p.Zones {
			q, ok := soaQuery(z)
			if !ok {
				continue
			}
			if _, err := in.Lookup(ctx, q, nil); err != nil {
				return &SwapError{SwapRefusedSelfCheck, fmt.Errorf("%s SOA: %w", z, err)}
			}
		}
	}
	return nil
}

// soaQuery is the wire form of a recursion-desired query for name's SOA.
func soaQuery(name string) ([]byte, bool) {
	msg := []byte{0x6b, 0x61, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	if name = strings.TrimSuffix(name, "."); name != "" {
		for _, label := range strings.Split(name, ".") {
			if len(label) == 0 || len(label) > 63 {
				return nil, false
			}
			msg = append(msg, byte(len(label)))
			msg = append(msg, label...)
		}
	}
	if len(msg) > 12+254 {
		return nil, false
	}
	return append(msg, 0, 0, 6, 0, 1), true
}

// Reasons SwapComponent refuses a component before Swap sees it.
const (
	SwapRefusedNotWasm      = "not_wasm"      // not WebAssembly at all
	SwapRefusedNotComponent = "not_component" // a core module, not a component
	SwapRefusedMalformed    = "malformed"     // a truncated or broken component
	SwapRefusedContract     = "contract"      // another WIT version, or exports missing
	SwapRefusedInvalid      = "invalid"       // its core module does not compile
)

// SwapComponent compiles a component binary (through Config.Cache), then
// Swaps it in. A binary Compile refuses is refused
// with one of the reasons above; SwapRefusedContract covers a component
// of another WIT version. On success the returned module
// is the one that served before, the caller's to close; the new one
// belongs, like every module the Engine runs, to whoever closes the
// Engine (see Module).
func (e *Engine) SwapComponent(ctx context.Context, component []byte) (old *Module, err error) {
	mod, err := e.cfg.Cache.Compile(ctx, component)
	if err != nil {
		return nil, &SwapError{compileReason(err), err}
	}
	if old, err = e.swap(ctx, mod); err != nil {
		_ = mod.Close(context.Background())
		return nil, err
	}
	return old, nil
}

func compileReason(err error) string {
	switch {
	case errors.Is(err, wasm.ErrNotWasm):
		return SwapRefusedNotWasm
	case errors.Is(err, wasm.ErrNotComponent):
		return SwapRefusedNotComponent
	case errors.Is(err, wasm.ErrMalformed):
		return SwapRefusedMalformed
	case errors.Is(err, ErrContract):
		return SwapRefusedContract
	}
	return SwapRefusedInvalid
}
