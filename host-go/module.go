package kubernetai

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// defaultComponent is the DNS core this plugin was built with: a CoreDNS
// with kubernetai answers with no file besides its Corefile. `make embed`
// refreshes it from plugin-rs.
//
//go:embed kubernetai.wasm
var defaultComponent []byte

// loadCore compiles the module the `wasm` option names, or the embedded
// one, through the `wasm_cache` directory when one is given. For a `wasm`
// file, it also returns the file's version as read, which the plugin then
// watches for new ones.
func loadCore(ctx context.Context, cf *corefile) (*engine.Module, *moduleFile, *engine.Cache, error) {
	cache, err := cf.cache()
	if err != nil {
		return nil, nil, nil, err
	}
	bytes, file, err := cf.module()
	if err != nil {
		return nil, nil, nil, err
	}
	mod, err := cache.Compile(ctx, bytes)
	if err != nil {
		return nil, nil, nil, cf.moduleError(err)
	}
	return mod, file, cache, nil
}

// cache opens the `wasm_cache` directory; nil without one. A directory
// that cannot be made or written stops CoreDNS: the operator asked for a
// cache that could never work. Later failures to read or write it are
// logged, and the module compiled without it.
func (cf *corefile) cache() (*engine.Cache, error) {
	dir, stanza, p := cf.hostPath("wasm_cache")
	if dir == "" {
		return nil, nil
	}
	c, err := engine.OpenCache(dir, log.Warningf)
	if err != nil {
		return nil, cf.errorAt(stanza, p.Line, "wasm_cache", err.Error())
	}
	return c, nil
}

// configure has the core of mod read the stanzas: their plans and the
// runtime options (`wasm_memory` among them, which the engine applies to
// each instance it makes). A refusal names the stanza, the option and the
// line.
func (cf *corefile) configure(ctx context.Context, mod *engine.Module) (engine.Configuration, error) {
	conf, err := engine.ReadConfiguration(ctx, mod, cf.stanzas)
	if err != nil {
		return engine.Configuration{}, cf.coreError(err)
	}
	return conf, nil
}

// module reads the `wasm` file, or returns the embedded component.
func (cf *corefile) module() ([]byte, *moduleFile, error) {
	path, stanza, p := cf.hostPath("wasm")
	if path == "" {
		return defaultComponent, nil, nil
	}
	b, fi, err := readModule(path)
	if err != nil {
		return nil, nil, cf.errorAt(stanza, p.Line, "wasm", err.Error())
	}
	return b, &moduleFile{path: path, seen: fi, handled: fi}, nil
}

// moduleError reports a module Compile refuses: at the `wasm` option, or
// for the embedded component, which the plugin was built with.
func (cf *corefile) moduleError(err error) error {
	if path, stanza, p := cf.hostPath("wasm"); path != "" {
		return cf.errorAt(stanza, p.Line, "wasm", fmt.Sprintf("%s: %v", path, err))
	}
	return fmt.Errorf("the embedded component: %w", err)
}
