package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Options control how Build talks; they do not change what is built.
type Options struct {
	Keep    bool      // keep the work directory and report its path
	Verbose bool      // stream the go command's output
	Stdout  io.Writer // result lines (the -version of the binary)
	Stderr  io.Writer // progress and go's output
}

// Build generates the main module for p, builds it into p.Output and
// smoke-tests the binary.
func Build(ctx context.Context, p *Plan, o Options) (err error) {
	dir, err := os.MkdirTemp("", "kubernetai-build-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	defer func() { err = finish(dir, o, err) }()

	if err := writeModule(dir, p); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.Output), 0o755); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	fmt.Fprintf(o.Stderr, "kubernetai-build: building %s into %s\n", describe(p), p.Output)
	g := goRunner{dir: dir, o: o}
	if q := queried(p); len(q) > 0 {
		if err := g.run(ctx, append([]string{"get"}, q...)...); err != nil {
			return err
		}
	}
	if err := g.run(ctx, "mod", "tidy"); err != nil {
		return err
	}
	label, err := commitLabel(ctx, g, p)
	if err != nil {
		return err
	}
	ldflags := "-s -w -X github.com/coredns/coredns/coremain.GitCommit=" + label
	if err := g.run(ctx, "build", "-trimpath", "-ldflags", ldflags, "-o", p.Output, "."); err != nil {
		return err
	}
	return Smoke(ctx, p, o.Stdout)
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

func writeModule(dir string, p *Plan) error {
	src, err := MainGo(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(GoMod(p)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644)
}

func describe(p *Plan) string {
	if p.Stock {
		return "stock CoreDNS " + p.CoreDNS
	}
	where := "before"
	if p.After {
		where = "after"
	}
	return fmt.Sprintf("CoreDNS %s with kubernetai %s %s", p.CoreDNS, where, p.Anchor)
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
