package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

// ErrContract: the component does not export what WITInterface needs. A
// *VersionError also matches it with errors.Is.
var ErrContract = errors.New("component does not implement " + WITInterface)

// VersionError says the component implements the interface under another
// version than the one this host understands.
type VersionError struct {
	Found []string // versions seen in the component's exports, e.g. "0.2.0"
	Want  string   // the version this host understands
}

func (e *VersionError) Error() string {
	have := make([]string, len(e.Found))
	for i, v := range e.Found {
		have[i] = witInterfacePrefix + v
	}
	return fmt.Sprintf("component implements %s; this host understands %s%s",
		strings.Join(have, " and "), witInterfacePrefix, e.Want)
}

func (e *VersionError) Unwrap() error { return ErrContract }

const (
	exportMemory  = "memory"
	exportRealloc = "cabi_realloc"
	postPrefix    = "cabi_post_"
)

// Module is a compiled component, checked against WITInterface. It owns a
// wazero runtime: closing the Module closes every instance made from it.
// The limit on each instance's memory is set when it is made, not here
// (see linearMemory).
type Module struct {
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	// cache is the wazero compilation cache the runtime compiled with (a
	// Cache's entry), nil without one; closed with the runtime.
	cache       wazero.CompilationCache
	cacheResult string // one of the Cache* results, "" without a cache
	digest      string
	minPages    uint32   // the size the core's memory starts at
	watch       watchdog // cuts off overdue calls of the module's instances
}

// Compile checks a component binary against WITInterface and compiles
// its core module, instrumented so that the host can cut off a call that
// overruns (wasm.Instrument). A component that is not one is refused with
// wasm.ErrNotWasm, ErrNotComponent or ErrMalformed, a core module using an
// instruction the instrumentation does not know with wasm.ErrUnsupported.
func Compile(ctx context.Context, component []byte) (*Module, error) {
	return (*Cache)(nil).Compile(ctx, component)
}

// prepare takes the core module out of a component, checks it against
// WITInterface and instruments it: what Compile gives wazero.
func prepare(component []byte) ([]byte, error) {
	core, err := wasm.CoreModule(component)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(core); err != nil {
		return nil, err
	}
	if n, err := wasm.ImportCount(core); err != nil {
		return nil, err
	} else if n != 0 {
		return nil, fmt.Errorf("%w: its core module has %d imports; the core must import nothing", ErrContract, n)
	}
	if core, err = wasm.Instrument(core); err != nil {
		if errors.Is(err, wasm.ErrRequirement) {
			err = fmt.Errorf("%w: %w", ErrContract, err)
		}
		return nil, fmt.Errorf("instrumenting the core module: %w", err)
	}
	return core, nil
}

func digestOf(component []byte) string {
	sum := sha256.Sum256(component)
	return hex.EncodeToString(sum[:])
}

// compileCore compiles a prepared core module with wazero, through the
// compilation cache cc when it is not nil (the Module then owns cc).
func compileCore(ctx context.Context, core []byte, digest string, cc wazero.CompilationCache) (*Module, error) {
	m := &Module{digest: digest, cache: cc}
	// NewRuntimeConfig picks the compiler where wazero has one (amd64,
	// arm64) and the interpreter elsewhere. Not WithCloseOnContextDone:
	// the instrumentation cuts calls off at a fraction of its cost. The
	// memory limit is wazero's largest: each instance's memory caps itself.
	config := wazero.NewRuntimeConfig()
	if cc != nil {
		config = config.WithCompilationCache(cc)
	}
	m.runtime = wazero.NewRuntimeWithConfig(ctx, config)
	var err error
	if m.compiled, err = m.runtime.CompileModule(ctx, core); err != nil {
		_ = m.runtime.Close(ctx)
		return nil, fmt.Errorf("compiling the core module: %w", err)
	}
	if err := checkExports(m.compiled); err != nil {
		_ = m.runtime.Close(ctx)
		return nil, err
	}
	m.minPages = m.compiled.ExportedMemories()[exportMemory].Min()
	m.watch.start()
	return m, nil
}

// CacheResult says what compiling the Module made of the cache: CacheHit,
// CacheMiss or CacheInvalid; "" when it was compiled without one.
func (m *Module) CacheResult() string { return m.cacheResult }

// Digest is the SHA-256 of the component binary, in hex: the identity of
// what is running, for logs and metrics.
func (m *Module) Digest() string { return m.digest }

// Close releases the compiled code and closes every instance of the
// module. Calls still running on an instance are cut off, and Close waits
// for them to end (or for ctx) before wazero frees their memory: each
// later call on an instance of the module fails at once.
func (m *Module) Close(ctx context.Context) error {
	var running []*instance
	for _, in := range m.watch.close() {
		if in.memory.shut() {
			in.interrupt.Set(1)
			running = append(running, in)
		}
	}
	for _, in := range running {
		for in.memory.busy() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	err := m.runtime.Close(ctx)
	if m.cache != nil {
		err = errors.Join(err, m.cache.Close(ctx))
	}
	return err
}

// checkExports makes sure the module exports every function this host
// calls, with the exact core signature, and its memory.
func checkExports(cm wazero.CompiledModule) error {
	if _, ok := cm.ExportedMemories()[exportMemory]; !ok {
		return fmt.Errorf("%w: no exported memory %q", ErrContract, exportMemory)
	}
	exports := cm.ExportedFunctions()
	var problems []string
	check := func(name string, want *coreFunc) {
		def, ok := exports[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing %q", name))
		} else if !slices.Equal(def.ParamTypes(), want.params) || !slices.Equal(def.ResultTypes(), want.results) {
			problems = append(problems, fmt.Sprintf("%q has type %s, want %s",
				name, signature(def.ParamTypes(), def.ResultTypes()), signature(want.params, want.results)))
		}
	}
	check(exportRealloc, &reallocSig)
	for i := range coreFuncs {
		f := &coreFuncs[i]
		check(f.export, f)
		if f.post != "" {
			check(f.post, &postSig)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if found := otherVersions(slices.Collect(maps.Keys(exports))); len(found) > 0 {
		return &VersionError{Found: found, Want: strings.TrimPrefix(WITInterface, witInterfacePrefix)}
	}
	return fmt.Errorf("%w: %s", ErrContract, strings.Join(problems, "; "))
}

// checkVersion refuses, before it is compiled, a core module that exports
// the interface under other versions and not under ours.
func checkVersion(core []byte) error {
	names, err := wasm.ExportNames(core)
	if err != nil {
		return err
	}
	if slices.Contains(names, coreFuncs[0].export) {
		return nil // the full check follows compilation
	}
	if found := otherVersions(names); len(found) > 0 {
		return &VersionError{Found: found, Want: strings.TrimPrefix(WITInterface, witInterfacePrefix)}
	}
	return nil
}

// otherVersions lists the interface versions that export names carry,
// other than ours, sorted.
func otherVersions(exports []string) []string {
	var found []string
	for _, name := range exports {
		rest, ok := strings.CutPrefix(strings.TrimPrefix(name, postPrefix), witInterfacePrefix)
		if !ok {
			continue
		}
		version, _, _ := strings.Cut(rest, "#")
		if witInterfacePrefix+version != WITInterface && !slices.Contains(found, version) {
			found = append(found, version)
		}
	}
	slices.Sort(found)
	return found
}

func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(params) + " -> " + names(results)
}
