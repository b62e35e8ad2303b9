// Package builder builds official CoreDNS with the kubernetai plugin compiled
// in, the way xcaddy builds Caddy: it generates a small main module that
// imports CoreDNS's plugins and ours, places the kubernetai directive in the
// plugin chain, runs go build with CGO_ENABLED=0 and smoke-tests the binary.
package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
)

const (
	// DefaultCoreDNS is the CoreDNS release the plugin is developed against.
	DefaultCoreDNS = "v1.15.0"
	// DefaultAnchor is the directive kubernetai follows by default: right
	// after kubernetes, so a Corefile can use either plugin or both.
	DefaultAnchor = "kubernetes"
	// Directive is the name kubernetai registers with plugin.Register.
	Directive = "kubernetai"
	// KubernetaiModule is our Go module; its root package is the plugin.
	KubernetaiModule = "github.com/kubernetai/kubernetai/host-go"
	// CoreDNSModule is the module of official CoreDNS.
	CoreDNSModule = "github.com/coredns/coredns"
)

// Config is the command line, before validation.
type Config struct {
	CoreDNS string   // --coredns; "" means DefaultCoreDNS
	With    []string // --with specs, in order
	After   string   // --after; "" means DefaultAnchor unless Before is set
	Before  string   // --before
	Plugins []string // --plugin NAME:after=DIRECTIVE or NAME:before=DIRECTIVE, in order
	Stock   bool     // --stock: build without kubernetai
	Output  string   // --output; "" means ./coredns
	Args    []string // positional arguments, which the command takes none of
}

// Plan is a validated Config with every path absolute and every module
// resolved; the generators and Build read only this.
type Plan struct {
	CoreDNS string   // CoreDNS version, always set
	Modules []Module // requires in order: CoreDNS first, then --with
	// Placements are the directives added to CoreDNS's chain, in the order
	// they are inserted: kubernetai first (unless Stock), then each
	// --plugin. Build fills in their Module and Package.
	Placements []Placement
	Stock      bool
	Output     string // absolute path of the binary to write
}

var directiveRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Resolve validates c and turns it into a Plan. cwd anchors relative paths;
// self is the builder's own build info, the fallback source of the
// kubernetai version (nil when unavailable).
func (c Config) Resolve(cwd string, self *debug.BuildInfo) (*Plan, error) {
	if len(c.Args) > 0 {
		return nil, fmt.Errorf("unexpected argument %q: all input is given with flags", c.Args[0])
	}
	p := &Plan{Stock: c.Stock}
	var err error
	if p.CoreDNS, err = coreDNSVersion(c.CoreDNS); err != nil {
		return nil, err
	}
	if p.Placements, err = placements(c); err != nil {
		return nil, err
	}
	if p.Output, err = outputPath(c.Output, cwd); err != nil {
		return nil, err
	}
	if p.Modules, err = modules(c, p.CoreDNS, cwd, self); err != nil {
		return nil, err
	}
	// A --with github.com/coredns/coredns@VERSION pin is the release built.
	p.CoreDNS = p.Modules[0].Version
	return p, nil
}

// coreDNSVersion accepts "1.15.0" as a convenience for "v1.15.0". Only
// semantic versions are allowed: a CoreDNS branch or commit is better given
// as --with github.com/coredns/coredns=PATH.
func coreDNSVersion(v string) (string, error) {
	if v == "" {
		return DefaultCoreDNS, nil
	}
	if v[0] >= '0' && v[0] <= '9' {
		v = "v" + v
	}
	if !isSemver(v) {
		return "", fmt.Errorf("--coredns: %q: not a release version like %s", v, DefaultCoreDNS)
	}
	return v, nil
}

// placements returns kubernetai's placement (from --after/--before or the
// default) followed by those of --plugin, checked for what can be judged
// without the sources: syntax, duplicates, a plugin placed next to itself.
// Whether the names exist is judged by Build, once the sources are there.
func placements(c Config) ([]Placement, error) {
	var kai *Placement
	switch {
	case c.After != "" && c.Before != "":
		return nil, fmt.Errorf("--after and --before: give at most one of them")
	case c.Stock && (c.After != "" || c.Before != ""):
		return nil, fmt.Errorf("--stock builds without kubernetai, so --after and --before do not apply")
	case c.Stock:
	case c.Before != "":
		if err := checkAnchor("--before", c.Before); err != nil {
			return nil, err
		}
		kai = &Placement{Name: Directive, Anchor: c.Before, Flag: "--before " + c.Before}
	case c.After != "":
		if err := checkAnchor("--after", c.After); err != nil {
			return nil, err
		}
		kai = &Placement{Name: Directive, Anchor: c.After, After: true, Flag: "--after " + c.After}
	default:
		kai = &Placement{Name: Directive, Anchor: DefaultAnchor, After: true, Flag: "--after " + DefaultAnchor + " (the default)"}
	}
	var out []Placement
	kaiByPlugin := false
	for _, spec := range c.Plugins {
		pl, err := ParsePlugin(spec)
		if err != nil {
			return nil, err
		}
		if pl.Name == Directive {
			switch {
			case c.Stock:
				return nil, fmt.Errorf("%s: --stock builds without kubernetai", pl.Flag)
			case c.After != "" || c.Before != "":
				return nil, fmt.Errorf("%s: kubernetai is already placed by %s; give one of them", pl.Flag, kai.Flag)
			case kaiByPlugin:
				return nil, fmt.Errorf("%s: plugin kubernetai is placed twice (also by %s)", pl.Flag, kai.Flag)
			}
			kai, kaiByPlugin = &pl, true
			continue
		}
		for _, prev := range out {
			if prev.Name == pl.Name {
				return nil, fmt.Errorf("%s: plugin %s is placed twice (also by %s)", pl.Flag, pl.Name, prev.Flag)
			}
		}
		out = append(out, pl)
	}
	if kai != nil {
		out = append([]Placement{*kai}, out...)
	}
	return out, nil
}

func checkAnchor(flag, name string) error {
	if name == Directive {
		return fmt.Errorf("%s: %q: kubernetai cannot be placed next to itself", flag, name)
	}
	if !directiveRE.MatchString(name) {
		return fmt.Errorf("%s: %q: not a directive name", flag, name)
	}
	return nil
}

func outputPath(out, cwd string) (string, error) {
	if out == "" {
		out = "coredns"
	}
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
		return "", fmt.Errorf("--output: %q: give a file name, not a directory", out)
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(cwd, out)
	}
	// go build -o DIR would write DIR/<name>, and the smoke test would then
	// look at the wrong file.
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return "", fmt.Errorf("--output: %s is a directory; give a file name", out)
	}
	return filepath.Clean(out), nil
}

// modules parses the --with specs and adds what the build always needs:
// CoreDNS itself and, unless --stock, the kubernetai module.
func modules(c Config, coredns, cwd string, self *debug.BuildInfo) ([]Module, error) {
	seen := map[string]bool{}
	core := Module{Path: CoreDNSModule, Version: coredns}
	var with []Module
	for _, spec := range c.With {
		m, err := ParseWith(spec, cwd)
		if err != nil {
			return nil, err
		}
		if seen[m.Path] {
			return nil, fmt.Errorf("--with: %q: module %s is given more than once", spec, m.Path)
		}
		seen[m.Path] = true
		if m.Dir != "" {
			if err := checkLocal(m); err != nil {
				return nil, err
			}
		}
		if m.Path == CoreDNSModule {
			if core, err = mergeCoreDNS(c.CoreDNS, coredns, m); err != nil {
				return nil, err
			}
			continue
		}
		with = append(with, m)
	}
	if !c.Stock && !seen[KubernetaiModule] {
		m, err := SelfModule(self)
		if err != nil {
			return nil, err
		}
		with = append(with, m)
	}
	return append([]Module{core}, with...), nil
}

// mergeCoreDNS folds a --with for CoreDNS itself (a local checkout or a
// pin) into the CoreDNS requirement, refusing two different versions.
func mergeCoreDNS(flagVersion, coredns string, m Module) (Module, error) {
	if m.Version == "" {
		m.Version = coredns
		return m, nil
	}
	if flagVersion != "" && m.Version != coredns {
		return Module{}, fmt.Errorf("--with %s@%s conflicts with --coredns %s", m.Path, m.Version, coredns)
	}
	if !isSemver(m.Version) {
		return Module{}, fmt.Errorf("--with %s@%s: CoreDNS needs a version like %s", m.Path, m.Version, DefaultCoreDNS)
	}
	return m, nil
}

// SelfModule is the kubernetai module at the version this builder was built
// from, so that a builder installed from the module proxy at some version
// builds the plugin of that version with no further flags. A development
// build (go run or go install in a checkout) has no usable version.
func SelfModule(self *debug.BuildInfo) (Module, error) {
	hint := fmt.Sprintf("pass --with %s=PATH (a local checkout) or --with %s@VERSION", KubernetaiModule, KubernetaiModule)
	if self == nil || self.Main.Path != KubernetaiModule {
		return Module{}, fmt.Errorf("cannot tell which kubernetai to build (the builder carries no module version): %s", hint)
	}
	v := self.Main.Version
	if v == "" || v == "(devel)" || strings.HasSuffix(v, "+dirty") || !isSemver(v) {
		return Module{}, fmt.Errorf("cannot tell which kubernetai to build (the builder is a development build, version %q): %s", v, hint)
	}
	return Module{Path: KubernetaiModule, Version: v}, nil
}
