package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes an Engine.
type Config struct {
	// PoolSize is the number of instances, each a full replica of the
	// state; 0 means runtime.GOMAXPROCS(0).
	PoolSize int
	// Stanzas is the configuration every instance gets. The Engine keeps
	// it to configure replacements: do not modify it afterwards.
	Stanzas []Stanza
	// HashSeed keys the core's hash tables; 0 means random.
	HashSeed uint64
	// LookupTimeout bounds each guest call of Lookup, Transfer, AutoPath
	// and Metadata, unless the caller's context ends first; CoreDNS's
	// contexts have no deadline. 0 means defaultLookupTimeout.
	LookupTimeout time.Duration
	// CallTimeout bounds each call the Engine makes on its own behalf
	// (configure, apply, set-* and replays), which have no caller context.
	// 0 means defaultCallTimeout.
	CallTimeout time.Duration
	// MemoryLimit caps each instance's linear memory, in bytes, rounded
	// down to 64 KiB pages (wasm_memory); 0 means defaultMemoryLimit. A
	// batch that would not fit is refused (Apply).
	MemoryLimit uint64
	// Cache keeps the machine code of the modules SwapComponent compiles
	// (`wasm_cache`); nil for none.
	Cache *Cache
	// Logf reports instance replacements and quarantined objects; nil
	// discards them.
	Logf func(format string, args ...any)
}

// stats counts failures of the core (for tests and logs). Counters only
// grow.
type stats struct {
	Traps               uint64 // guest calls that trapped, ran out of memory or broke the ABI
	CutOffs             uint64 // guest calls cut off: past their deadline or their context ended
	Replacements        uint64 // instances replaced by a fresh one with the state replayed
	ReplacementFailures uint64 // replacement attempts that failed (retried with backoff)
	Quarantined         uint64 // objects left out of replays because the core fails on them
}

// Engine is a pool of core instances, each holding a full replica of the
// state. Lookup, Transfer, AutoPath and Metadata borrow an idle instance;
// Apply, SetSynced and SetHost reach every instance. An instance whose
// call fails is replaced by a fresh one that replays the state the Engine
// keeps. SwapComponent replaces the whole pool with one of another module.
//
// All methods are safe for concurrent use.
type Engine struct {
	cfg   Config
	conf  Configuration // the core's reading of cfg.Stanzas
	state *state
	// gen is the module serving and the pool of its instances. swap
	// replaces it under changeMu and genMu; queries load it without a lock.
	gen atomic.Pointer[generation]
	// changeMu serialises state changes, so that at most one is being
	// spread over the instances at any time, and swap holds it from its
	// snapshot of the state to the switch, so that no change falls between.
	changeMu sync.Mutex
	// genMu orders swap's switch with Close: once closed is set, no
	// generation is switched in (it would never be closed).
	genMu  sync.Mutex
	closed bool // under genMu
	// swapMu lets one swap run at a time.
	swapMu sync.Mutex
	now    func() time.Time

	traps, cutOffs, replacements, replaceFailures, quarantined, swaps atomic.Uint64
}

// New makes an Engine of cfg.PoolSize instances of mod, each configured
// with cfg.Stanzas, and returns the core's configuration. A configuration
// the core refuses is returned as a *ConfigError.
func New(ctx context.Context, mod *Module, cfg Config) (*Engine, Configuration, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, Configuration{}, err
	}
	if cfg.MemoryLimit, err = memoryLimit(cfg.MemoryLimit, mod.minPages); err != nil {
		return nil, Configuration{}, err
	}
	e := &Engine{cfg: cfg, state: newState(len(cfg.Stanzas)), now: time.Now}
	g := newGeneration(mod)
	for i := range cfg.PoolSize {
		in, conf, err := e.instantiate(ctx, mod)
		if err != nil {
			g.closeInstances(ctx)
			return nil, Configuration{}, err
		}
		if i == 0 {
			e.conf = conf
		}
		g.pool.add(&slot{in: in})
	}
	e.gen.Store(g)
	return e, e.conf, nil
}

// ReadConfiguration asks one throwaway instance of mod for the core's
// configuration of stanzas: what a host needs (the pool size, the memory
// limit) before it makes an Engine. A refusal is a *ConfigError.
func ReadConfiguration(ctx context.Context, mod *Module, stanzas []Stanza) (Configuration, error) {
	in, err := mod.instantiate(ctx, defaultLimits)
	if err != nil {
		return Configuration{}, err
	}
	defer in.Close(ctx)
	return in.Configure(ctx, stanzas, 1)
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = runtime.GOMAXPROCS(0)
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = defaultLookupTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.HashSeed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return cfg, fmt.Errorf("hash seed: %w", err)
		}
		cfg.HashSeed = binary.LittleEndian.Uint64(b[:])
	}
	return cfg, nil
}

// instantiate makes a configured instance of mod, closing it if configure
// fails.
func (e *Engine) instantiate(ctx context.Context, mod *Module) (*instance, Configuration, error) {
	in, err := mod.instantiate(ctx, e.limits())
	if err != nil {
		return nil, Configuration{}, err
	}
	conf, err := in.Configure(ctx, e.cfg.Stanzas, e.cfg.HashSeed)
	if err != nil {
		_ = in.Close(ctx)
		return nil, Configuration{}, err
	}
	return in, conf, nil
}

// limits are those of every instance of the Engine.
func (e *Engine) limits() limits {
	return limits{query: e.cfg.LookupTimeout, other: e.cfg.CallTimeout, memory: e.cfg.MemoryLimit}
}

// PoolSize is the number of instances of the pool (Config.PoolSize, the
// default filled in).
func (e *Engine) PoolSize() int { return e.cfg.PoolSize }

// MemoryLimit is the most linear memory each instance may have, in bytes
// (Config.MemoryLimit, rounded down to pages).
func (e *Engine) MemoryLimit() uint64 { return e.cfg.MemoryLimit }

// configuration is the core's configuration of the stanzas, as New
// returned it.
func (e *Engine) configuration() Configuration { return e.conf }

// hashSeed is the seed every instance was configured with.
func (e *Engine) hashSeed() uint64 { return e.cfg.HashSeed }

// Module is the compiled component the Engine runs now: the one given to
// New, or to the latest swap that succeeded.
func (e *Engine) Module() *Module { return e.gen.Load().mod }

// swapCount is the number of swaps that succeeded.
func (e *Engine) swapCount() uint64 { return e.swaps.Load() }

// stats returns the failure counters.
func (e *Engine) stats() stats {
	return stats{
		Traps:               e.traps.Load(),
		CutOffs:             e.cutOffs.Load(),
		Replacements:        e.replacements.Load(),
		ReplacementFailures: e.replaceFailures.Load(),
		Quarantined:         e.quarantined.Load(),
	}
}

// Lookup answers one query through an idle instance, waiting for one
// until ctx is done. ctx and Config.LookupTimeout also bound the guest
// call: a core that overruns them is cut off. A *CallError means the core
// failed on this query (answer SERVFAIL); the instance is replaced in the
// background.
func (e *Engine) Lookup(ctx context.Context, query []byte, replies []UpstreamReply) (Outcome, error) {
	g, s, err := e.borrow(ctx)
	if err != nil {
		return Outcome{}, err
	}
	out, err := s.in.Lookup(ctx, query, replies)
	e.giveBack(g, s)
	return out, err
}

// Transfer returns one page of the zone transfer of zone through an idle
// instance, from cursor (empty for the first page); authoritative is false
// when no stanza is authoritative for zone. A cursor the core does not
// take is a *ResultError.
func (e *Engine) Transfer(ctx context.Context, zone string, serial uint32, cursor []byte) (page TransferPage, authoritative bool, err error) {
	g, s, err := e.borrow(ctx)
	if err != nil {
		return TransferPage{}, false, err
	}
	page, authoritative, err = s.in.Transfer(ctx, zone, serial, cursor)
	e.giveBack(g, s)
	return page, authoritative, err
}

// AutoPath returns the search path for autopath of a query for qname from
// the client address, through an idle instance like Lookup; ok is false
// when no stanza knows a pod at client.
func (e *Engine) AutoPath(ctx context.Context, qname, client string) (search []string, ok bool, err error) {
	g, s, err := e.borrow(ctx)
	if err != nil {
		return nil, false, err
	}
	search, ok, err = s.in.Autopath(ctx, qname, client)
	e.giveBack(g, s)
	return search, ok, err
}

// Metadata returns the metadata plugin's values for a query for qname
// from the client address, through an idle instance like Lookup.
func (e *Engine) Metadata(ctx context.Context, qname, client string) ([]MetadataEntry, error) {
	g, s, err := e.borrow(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := s.in.Metadata(ctx, qname, client)
	e.giveBack(g, s)
	return entries, err
}

// borrow takes an idle instance of the generation serving. A generation
// that swap retires closes its pool, and a borrower that raced with the
// switch gets ErrClosed from it: it then borrows from the new generation,
// so a swap never fails a query. ErrClosed from the generation still
// serving means the Engine is closed.
func (e *Engine) borrow(ctx context.Context) (*generation, *slot, error) {
	for {
		g := e.gen.Load()
		s, err := g.pool.borrow(ctx)
		if err == ErrClosed && e.gen.Load() != g {
			continue
		}
		return g, s, err
	}
}

// giveBack returns a slot borrowed from g, or replaces its instance if it
// died.
func (e *Engine) giveBack(g *generation, s *slot) {
	if err := s.in.Err(); err != nil {
		e.replace(g, s, err)
		return
	}
	g.pool.release(s, s.seq)
}

// SetSynced tells every instance whether a stanza's source has delivered
// its initial state. While objects of the stanza are held back for lack of
// memory (Apply), the instances hear that it is not.
func (e *Engine) SetSynced(stanza int, synced bool) {
	if err := e.checkStanza(stanza); err != nil {
		e.cfg.Logf("kubernetai engine: SetSynced: %v", err)
		return
	}
	e.changeMu.Lock()
	defer e.changeMu.Unlock()
	if e.gen.Load().pool.isClosed() {
		return
	}
	seq, told := e.state.recordSynced(stanza, synced)
	e.spread(seq, func(ctx context.Context, in *instance) {
		_ = in.SetSynced(ctx, uint32(stanza), told)
	})
}

// SetHost tells every instance what the host knows of its machine: the
// addresses CoreDNS listens on and the resolv.conf search list. The
// Engine remembers it for replacements.
func (e *Engine) SetHost(info HostInfo) error {
	if err := info.check(); err != nil {
		return fmt.Errorf("host info: %w", err)
	}
	e.changeMu.Lock()
	defer e.changeMu.Unlock()
	if e.gen.Load().pool.isClosed() {
		return ErrClosed
	}
	info = HostInfo{LocalIPs: slices.Clone(info.LocalIPs), Search: slices.Clone(info.Search)}
	e.spread(e.state.recordHost(info), func(ctx context.Context, in *instance) {
		_ = in.SetHost(ctx, info)
	})
	return nil
}

func (e *Engine) checkStanza(stanza int) error {
	if stanza < 0 || stanza >= len(e.cfg.Stanzas) {
		return fmt.Errorf("stanza %d out of range: %d configured", stanza+1, len(e.cfg.Stanzas))
	}
	return nil
}

// spread runs change once on every instance that has not seen change
// target, taking each as it becomes idle. A replacement that snapshots
// the state after the change is recorded comes back holding target; one
// that snapshots before comes back at target-1 and gets the change here.
// Callers hold changeMu, so every other instance has seen target-1, and
// the generation serving cannot change under them.
func (e *Engine) spread(target uint64, change func(ctx context.Context, in *instance)) {
	g := e.gen.Load()
	for {
		s := g.pool.takeStale(target, false)
		if s == nil {
			return
		}
		if s.seq+1 < target {
			// Cannot happen by the reasoning above; if it ever does, a
			// replay repairs the instance instead of leaving it wrong.
			e.replace(g, s, fmt.Errorf("instance at change %d missed changes up to %d", s.seq, target-1))
			continue
		}
		change(context.Background(), s.in) // bounded by the instance's CallTimeout
		s.fresh = false
		if err := s.in.Err(); err != nil {
			e.replace(g, s, err)
			continue
		}
		g.pool.release(s, target)
	}
}

// count classifies a failed call for stats.
func (e *Engine) count(err error) {
	if errors.Is(err, ErrCutOff) {
		e.cutOffs.Add(1)
	} else {
		e.traps.Add(1)
	}
}

// Close stops the Engine: later calls return ErrClosed, calls in flight
// finish (until ctx is done), then the instances are closed. The Module
// serving (Module(): the one given to New, or to the last swap) stays
// open: the caller owns it.
func (e *Engine) Close(ctx context.Context) error {
	e.genMu.Lock()
	g := e.gen.Load()
	if !e.closed {
		e.closed = true
		g.retire()
	}
	e.genMu.Unlock()
	return g.drain(ctx)
}
