package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Options control how Build talks; they do not change what is built.
type Options struct {
	Keep    bool      // keep the work directory and report its path
	Verbose bool      // stream the go command's output
	Stdout  io.Writer // result lines (the -version of the binary)
	Stderr  io.Writer // progress and go's output
}

// Build generates the main module for p, checks the plan against the
// sources it resolves (before compiling anything), builds the binary into a
// temporary file beside p.Output, smoke-tests it and only then renames it
// to p.Output, so a failed build never replaces a working binary.
func Build(ctx context.Context, p *Plan, o Options) (err error) {
	dir, err := os.MkdirTemp("", "kubernetai-build-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	defer func() { err = finish(dir, o, err) }()

	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(GoMod(p)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.Stderr, "kubernetai-build: resolving CoreDNS %s and %d more module(s)\n", p.CoreDNS, len(p.Modules)-1)
	g := goRunner{dir: dir, o: o}
	if q := queried(p); len(q) > 0 {
		if err := g.run(ctx, append([]string{"get"}, q...)...); err != nil {
			return err
		}
	}
	if err := check(ctx, g, p); err != nil {
		return err
	}
	src, err := MainGo(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return err
	}
	if err := g.run(ctx, "mod", "tidy"); err != nil {
		return err
	}
	// Tidy sees main.go's imports for the first time; check that they
	// did not move CoreDNS either.
	if err := checkSelected(ctx, g, p); err != nil {
		return err
	}
	label, err := commitLabel(ctx, g, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Stderr, "kubernetai-build: building %s into %s\n", describe(p), p.Output)
	if err := os.MkdirAll(filepath.Dir(p.Output), 0o755); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	tmp, err := tempBeside(p.Output)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	ldflags := "-s -w -X github.com/coredns/coredns/coremain.GitCommit=" + label
	if err := g.run(ctx, "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, "."); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := Smoke(ctx, p, tmp, o.Stdout); err != nil {
		return fmt.Errorf("%w\n(%s was left as it was)", err, p.Output)
	}
	if err := os.Rename(tmp, p.Output); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

// tempBeside reserves a temporary file in out's directory, so the final
// rename stays on one file system and is atomic.
func tempBeside(out string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".build-*")
	if err != nil {
		return "", fmt.Errorf("--output: %w", err)
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("--output: %w", err)
	}
	return name, nil
}

// modInfo is the part of `go list -m -json` that Build reads.
type modInfo struct {
	Path    string
	Version string
	Dir     string
	Replace *modInfo
}

// listModules returns go list -m -json for paths, keyed by module path,
// downloading what is not local first.
func listModules(ctx context.Context, g goRunner, p *Plan) (map[string]modInfo, error) {
	var remote, all []string
	for _, m := range p.Modules {
		all = append(all, m.Path)
		if m.Dir == "" {
			remote = append(remote, m.Path)
		}
	}
	if len(remote) > 0 {
		if err := g.run(ctx, append([]string{"mod", "download"}, remote...)...); err != nil {
			return nil, err
		}
	}
	out, err := g.output(ctx, append([]string{"list", "-m", "-json"}, all...)...)
	if err != nil {
		return nil, err
	}
	mods := map[string]modInfo{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var mi modInfo
		if err := dec.Decode(&mi); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list -m -json: %w", err)
		}
		mods[mi.Path] = mi
	}
	return mods, nil
}

// dirOf is where a listed module's source is.
func dirOf(mi modInfo) string {
	if mi.Replace != nil && mi.Replace.Dir != "" {
		return mi.Replace.Dir
	}
	return mi.Dir
}

// check reads the sources of the resolved modules and refuses the build,
// before compiling, when CoreDNS would not be the requested version or
// the placements do not fit (see Arrange).
func check(ctx context.Context, g goRunner, p *Plan) error {
	mods, err := listModules(ctx, g, p)
	if err != nil {
		return err
	}
	if err := checkSelected(ctx, g, p); err != nil {
		return err
	}
	core := mods[CoreDNSModule]
	directives, err := CoreDirectives(dirOf(core))
	if err != nil {
		return err
	}
	var providers []Provider
	for _, m := range p.Modules[1:] {
		mi, ok := mods[m.Path]
		if !ok || dirOf(mi) == "" {
			return fmt.Errorf("--with %s: go list -m found no source for it", m.Path)
		}
		names, err := RegisteredNames(dirOf(mi))
		if err != nil {
			return fmt.Errorf("--with %s: reading the plugins it registers: %w", m.Path, err)
		}
		providers = append(providers, Provider{Module: m.Path, Names: names})
	}
	_, err = Arrange(p, directives, providers)
	return err
}

// checkSelected compares the CoreDNS version Go selects with the one asked
// for. Go builds the highest version any module requires, so a plugin
// that needs a newer CoreDNS would quietly upgrade it.
func checkSelected(ctx context.Context, g goRunner, p *Plan) error {
	want := p.Modules[0]
	if want.Dir != "" {
		return nil // a local checkout is built as it is; its version is a label
	}
	got, err := g.output(ctx, "list", "-m", "-f", "{{.Version}}", CoreDNSModule)
	if err != nil {
		return err
	}
	got = strings.TrimSpace(got)
	if got == want.Version {
		return nil
	}
	graph, err := g.output(ctx, "mod", "graph")
	if err != nil {
		return err
	}
	return versionError(want.Version, got, graph)
}

// versionError explains why Go selected CoreDNS got instead of want, naming
// the modules that require it, from `go mod graph` output.
func versionError(want, got, graph string) error {
	var by []string
	for _, line := range strings.Split(graph, "\n") {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " ")
		// The generated module's own line says nothing: go has already
		// raised it to the selected version.
		if ok && from != MainModule && to == CoreDNSModule+"@"+got && !slices.Contains(by, from) {
			by = append(by, from)
		}
	}
	who := "another module"
	if len(by) > 0 {
		who = strings.Join(by, ", ")
	}
	return fmt.Errorf("--coredns %s: cannot build it: %s requires %s %s, and Go builds the highest version required, so the binary would be CoreDNS %s; use --coredns %s, or a version of that module that works with CoreDNS %s",
		want, who, CoreDNSModule, got, got, got, want)
}

// finish removes the work directory unless asked to keep it. On failure the
// kept directory is where one debugs, so the hint names the flag.
func finish(dir string, o Options, err error) error {
	if o.Keep {
		fmt.Fprintf(o.Stderr, "kubernetai-build: work directory kept: %s\n", dir)
		return err
	}
	if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
		return fmt.Errorf("removing work directory: %w", rmErr)
	}
	if err != nil {
		return fmt.Errorf("%w\n(rerun with --keep to inspect the generated module)", err)
	}
	return nil
}

func describe(p *Plan) string {
	var parts []string
	for _, pl := range p.Placements {
		where := "before"
		if pl.After {
			where = "after"
		}
		parts = append(parts, fmt.Sprintf("%s (%s %s)", pl.Name, where, pl.Anchor))
	}
	switch {
	case p.Stock && len(parts) == 0:
		return "stock CoreDNS " + p.CoreDNS
	case p.Stock:
		return "stock CoreDNS " + p.CoreDNS + " with " + strings.Join(parts, ", ")
	}
	return "CoreDNS " + p.CoreDNS + " with " + strings.Join(parts, ", ")
}

// commitLabel is what `coredns -version` shows as the commit: which
// kubernetai went in, so two binaries can be told apart after the fact.
func commitLabel(ctx context.Context, g goRunner, p *Plan) (string, error) {
	if p.Stock {
		return "stock", nil
	}
	const f = `{{with .Replace}}{{if .Version}}{{.Version}}{{else}}local{{end}}{{else}}{{.Version}}{{end}}`
	out, err := g.output(ctx, "list", "-m", "-f", f, KubernetaiModule)
	if err != nil {
		return "", err
	}
	return "kubernetai@" + strings.TrimSpace(out), nil
}

// goRunner runs the go command in the work directory.
type goRunner struct {
	dir string
	o   Options
}

// env passes the caller's environment through (GOOS, GOARCH, GOPROXY,
// GOFLAGS...) and overrides only what the build depends on: no cgo, like
// CoreDNS's releases; no workspace, which would swallow the temporary
// module; and -mod=mod appended to GOFLAGS (the last one wins) so go may
// write go.mod and go.sum.
func (g goRunner) env() []string {
	flags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -mod=mod")
	return append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS="+flags)
}

func (g goRunner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = g.dir
	cmd.Env = g.env()
	return cmd
}

// run runs go, streaming its output with -v and otherwise holding it back
// to show only when the step fails.
func (g goRunner) run(ctx context.Context, args ...string) error {
	cmd := g.command(ctx, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if g.o.Verbose {
		fmt.Fprintf(g.o.Stderr, "kubernetai-build: go %s\n", strings.Join(args, " "))
		cmd.Stdout, cmd.Stderr = g.o.Stderr, g.o.Stderr
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v%s", args[0], err, indent(buf.String()))
	}
	return nil
}

func (g goRunner) output(ctx context.Context, args ...string) (string, error) {
	cmd := g.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v%s", args[0], err, indent(stderr.String()))
	}
	return string(out), nil
}

// indent formats captured output for an error message, keeping the tail,
// which is where go puts the reason.
func indent(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	if len(lines) > 40 {
		lines = append([]string{"..."}, lines[len(lines)-40:]...)
	}
	return "\n\t" + strings.Join(lines, "\n\t")
}
