package kubernetai

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// corefile is every kubernetai stanza of one server block, as the
// Corefile wrote it. The core reads the options (every one, the host's
// included) and returns them typed in its configuration; the host only
// collects the tokens, finds the two it needs before any core runs
// (`wasm`, the module that reads the rest, and `wasm_cache`, where its
// compilation is kept, and each stanza's `readiness`, which only the host
// acts on), resolves relative paths and reports errors where
// the Corefile has them.
type corefile struct {
	file    string
	root    string // the server block's `root`, for relative paths
	stanzas []engine.Stanza
}

// readCorefile collects the tokens of the server block's kubernetai
// stanzas. A stanza without zones takes the server block's keys.
func readCorefile(c *caddy.Controller) *corefile {
	cf := &corefile{file: c.File()}
	if conf := dnsserver.GetConfig(c); conf != nil {
		cf.root = conf.Root
	}
	for c.Next() {
		s := engine.Stanza{Zones: c.RemainingArgs(), Line: uint32(c.Line())}
		if len(s.Zones) == 0 {
			s.Zones = append(s.Zones, c.ServerBlockKeys...)
		}
		for c.NextBlock() {
			p := engine.Property{Name: c.Val(), Line: uint32(c.Line())}
			p.Args = c.RemainingArgs()
			s.Properties = append(s.Properties, p)
		}
		cf.stanzas = append(cf.stanzas, s)
	}
	return cf
}

// first finds the first occurrence of an option in the server block: its
// stanza (from 0) and the option; nil when it is not given. The core
// refuses any later one.
func (cf *corefile) first(option string) (int, *engine.Property) {
	for i := range cf.stanzas {
		if p := cf.option(i, option); p != nil {
			return i, p
		}
	}
	return 0, nil
}

// option is a stanza's (from 0) option, nil when it is not given: the
// core refuses it given twice in a stanza.
func (cf *corefile) option(stanza int, name string) *engine.Property {
	props := cf.stanzas[stanza].Properties
	for j := range props {
		if props[j].Name == name {
			return &props[j]
		}
	}
	return nil
}

// hostPath is the path the first occurrence of a server block option
// that the host reads before the core (`wasm`, `wasm_cache`) names,
// resolved, with that occurrence; "" when the option is not given or does
// not hold one path, which the core then refuses.
func (cf *corefile) hostPath(option string) (string, int, *engine.Property) {
	stanza, p := cf.first(option)
	if p == nil || len(p.Args) != 1 {
		return "", stanza, p
	}
	return cf.path(p.Args[0]), stanza, p
}

// wasmPath is the module file the `wasm` option names, resolved; "" for
// the embedded component.
func (cf *corefile) wasmPath() string {
	path, _, _ := cf.hostPath("wasm")
	return path
}

// path resolves a relative path as CoreDNS's file plugin does: against the
// server block's `root` when one is set.
func (cf *corefile) path(p string) string {
	if p == "" || filepath.IsAbs(p) || cf.root == "" {
		return p
	}
	return filepath.Join(cf.root, p)
}

// errorAt says, in CoreDNS's format, what is wrong with an option of a
// stanza (its index, from 0; people read it from 1), or with the stanza as
// a whole when option is "".
func (cf *corefile) errorAt(stanza int, line uint32, option, reason string) error {
	where := fmt.Sprintf("stanza %d", stanza+1)
	if option != "" {
		where += ": " + option
	}
	return fmt.Errorf("%s:%d - Error during parsing: %s: %s", cf.file, line, where, reason)
}

// coreError reports a configuration the core refused where the Corefile
// has it; other errors are the core failing, and say so.
func (cf *corefile) coreError(err error) error {
	var ce *engine.ConfigError
	if errors.As(err, &ce) {
		return cf.errorAt(int(ce.Stanza), ce.Line, ce.Property, ce.Reason)
	}
	return fmt.Errorf("%s: starting the DNS core: %w", cf.file, err)
}

// optionError reports a problem with the value of an option the core
// accepted but the host cannot use, at the option's first occurrence.
func (cf *corefile) optionError(option string, err error) error {
	if i, p := cf.first(option); p != nil {
		return cf.errorAt(i, p.Line, option, err.Error())
	}
	return fmt.Errorf("%s: %s: %w", cf.file, option, err)
}
