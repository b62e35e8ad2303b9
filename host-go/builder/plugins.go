package builder

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Placement is one directive added to CoreDNS's plugin chain: kubernetai's
// (from --after/--before) or an external plugin's (from --plugin).
type Placement struct {
	Name   string // the directive, as the plugin registers it
	Anchor string // the directive it goes next to
	After  bool   // right after Anchor rather than right before it
	Flag   string // the flag that asked for it, for messages

	// Filled in by Arrange from the module sources.
	Module  string // module whose root package registers Name
	Package string // import path of that package
}

// ParsePlugin parses a --plugin value, NAME:after=DIRECTIVE or
// NAME:before=DIRECTIVE.
func ParsePlugin(spec string) (Placement, error) {
	bad := func(reason string) (Placement, error) {
		return Placement{}, fmt.Errorf("--plugin: %q: %s", spec, reason)
	}
	name, where, ok := strings.Cut(spec, ":")
	if !ok {
		return bad("want NAME:after=DIRECTIVE or NAME:before=DIRECTIVE")
	}
	side, anchor, ok := strings.Cut(where, "=")
	switch {
	case name == "":
		return bad("empty plugin name")
	case !directiveRE.MatchString(name):
		return bad("not a directive name: " + strconv.Quote(name))
	case !ok || (side != "after" && side != "before"):
		return bad("after the name, want after=DIRECTIVE or before=DIRECTIVE")
	case anchor == "":
		return bad("empty anchor directive")
	case !directiveRE.MatchString(anchor):
		return bad("not a directive name: " + strconv.Quote(anchor))
	case anchor == name:
		return bad("a plugin cannot be placed next to itself")
	}
	return Placement{Name: name, Anchor: anchor, After: side == "after", Flag: "--plugin " + spec}, nil
}

// Provider is what one --with module's root package registers with
// plugin.Register.
type Provider struct {
	Module string   // module path
	Names  []string // registered plugin names, sorted
}

// Arrange decides, before anything is compiled, which module provides each
// placement and where each lands in the chain. core is the chosen CoreDNS's
// directive list and providers what the --with modules register. It fills
// in the placements' Module and Package and returns the resulting chain.
//
// It refuses a name CoreDNS already has, a placement no --with provides
// (or that two provide), an anchor that is neither CoreDNS's nor placed
// earlier, and a --with that registers a plugin no placement puts anywhere
// (it would otherwise be left out of the binary without a word).
func Arrange(p *Plan, core []string, providers []Provider) ([]string, error) {
	version := "CoreDNS " + p.CoreDNS
	byName := map[string][]string{}
	for _, pr := range providers {
		for _, n := range pr.Names {
			if slices.Contains(core, n) {
				return nil, fmt.Errorf("--with %s registers plugin %q, a directive %s already has; CoreDNS cannot hold two plugins of one name", pr.Module, n, version)
			}
			byName[n] = append(byName[n], pr.Module)
		}
	}
	placed := map[string]bool{}
	chain := slices.Clone(core)
	for i := range p.Placements {
		pl := &p.Placements[i]
		if slices.Contains(core, pl.Name) {
			return nil, fmt.Errorf("%s: %s already has a directive %q; an external plugin needs a name of its own", pl.Flag, version, pl.Name)
		}
		mods := byName[pl.Name]
		switch {
		case len(mods) == 0 && pl.Name == Directive:
			return nil, fmt.Errorf("%s: module %s does not register plugin %q (no plugin.Register(%q, ...) in its root package)", pl.Flag, KubernetaiModule, Directive, Directive)
		case len(mods) == 0:
			return nil, fmt.Errorf("%s: no --with module registers a plugin named %q (%s); add --with MODULE[@VERSION][=PATH] for the module whose root package calls plugin.Register(%q, ...)", pl.Flag, pl.Name, registeredList(providers), pl.Name)
		case len(mods) > 1:
			return nil, fmt.Errorf("%s: modules %s all register a plugin named %q; keep one", pl.Flag, strings.Join(mods, ", "), pl.Name)
		}
		pl.Module, pl.Package = mods[0], mods[0]
		at := slices.Index(chain, pl.Anchor)
		if at < 0 {
			return nil, fmt.Errorf("%s: %s has no directive %q, and no placement before this one adds it; its directives are: %s", pl.Flag, version, pl.Anchor, strings.Join(core, " "))
		}
		if pl.After {
			at++
		}
		chain = slices.Insert(chain, at, pl.Name)
		placed[pl.Name] = true
	}
	for _, pr := range providers {
		for _, n := range pr.Names {
			if placed[n] {
				continue
			}
			if n == Directive && p.Stock {
				return nil, fmt.Errorf("--stock builds without kubernetai, but --with %s brings it; leave that --with out", pr.Module)
			}
			return nil, fmt.Errorf("--with %s registers CoreDNS plugin %q, which no --plugin places; add --plugin %s:after=DIRECTIVE (or :before=DIRECTIVE) to build it in, or leave the --with out", pr.Module, n, n)
		}
	}
	return chain, nil
}

// registeredList says what the --with modules register, for a message.
func registeredList(providers []Provider) string {
	var parts []string
	for _, pr := range providers {
		if len(pr.Names) > 0 {
			parts = append(parts, pr.Module+" registers "+strings.Join(pr.Names, ", "))
		}
	}
	if len(parts) == 0 {
		return "none of them registers any plugin"
	}
	return strings.Join(parts, "; ")
}

// pluginPackage is the import path of CoreDNS's plugin registry.
const pluginPackage = CoreDNSModule + "/plugin"

// RegisteredNames returns the plugin names that the Go package in dir
// passes to plugin.Register, read from its source (test files excluded).
// A name must be a string literal or a package-level string constant, as
// it is in CoreDNS's plugins; anything else is an error rather than a
// plugin silently left out. A directory with no Go files registers nothing.
func RegisteredNames(dir string) ([]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	consts := stringConsts(files)
	seen := map[string]bool{}
	var names []string
	for _, f := range files {
		local := importName(f, pluginPackage, "plugin")
		if local == "" {
			continue
		}
		var bad error
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || bad != nil {
				return bad == nil
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Register" || len(call.Args) == 0 {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
				return true
			}
			name, ok := stringValue(call.Args[0], consts)
			if !ok {
				bad = fmt.Errorf("%s: the name given to plugin.Register is not a string constant", fset.Position(call.Pos()))
				return false
			}
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
			return true
		})
		if bad != nil {
			return nil, bad
		}
	}
	sort.Strings(names)
	return names, nil
}

// importName returns the name a file uses for an import path, or "" when
// the file does not import it (or imports it only for side effects).
func importName(f *ast.File, path, def string) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p != path {
			continue
		}
		if im.Name == nil {
			return def
		}
		if im.Name.Name == "_" || im.Name.Name == "." {
			return ""
		}
		return im.Name.Name
	}
	return ""
}

// stringConsts maps the package-level constants of files to their
// expressions.
func stringConsts(files []*ast.File) map[string]ast.Expr {
	consts := map[string]ast.Expr{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						consts[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	return consts
}

// stringValue evaluates a string literal, a constant naming one, or a
// parenthesised form of either.
func stringValue(e ast.Expr, consts map[string]ast.Expr) (string, bool) {
	for range 10 { // bounds a chain of constants naming constants
		switch v := e.(type) {
		case *ast.BasicLit:
			if v.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		case *ast.ParenExpr:
			e = v.X
		case *ast.Ident:
			next, ok := consts[v.Name]
			if !ok {
				return "", false
			}
			e = next
		default:
			return "", false
		}
	}
	return "", false
}

// CoreDirectives reads CoreDNS's plugin chain, the string literals of
// `var Directives = []string{...}` in core/dnsserver (zdirectives.go in a
// release), from the CoreDNS source in dir.
func CoreDirectives(dir string) ([]string, error) {
	pkg := filepath.Join(dir, "core", "dnsserver")
	entries, err := os.ReadDir(pkg)
	if err != nil {
		return nil, fmt.Errorf("CoreDNS source: %w", err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(pkg, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("CoreDNS source: %w", err)
		}
		if list, ok := directivesVar(f); ok {
			return list, nil
		}
	}
	return nil, fmt.Errorf("CoreDNS source: no var Directives = []string{...} in %s", pkg)
}

func directivesVar(f *ast.File) ([]string, bool) {
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			if len(vs.Names) != 1 || vs.Names[0].Name != "Directives" || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.CompositeLit)
			if !ok {
				return nil, false
			}
			var list []string
			for _, el := range lit.Elts {
				s, ok := stringValue(el, nil)
				if !ok {
					return nil, false
				}
				list = append(list, s)
			}
			return list, true
		}
	}
	return nil, false
}
