package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Smoke checks the binary built for p at bin: that it was built without
// cgo, that it holds (or, for --stock, lacks) kubernetai and holds every
// other placed plugin's module, and that -plugins lists every placed plugin.
// It prints the binary's -version, as p.Output, on success.
func Smoke(ctx context.Context, p *Plan, bin string, stdout io.Writer) error {
	text, err := run(ctx, "go", "version", "-m", bin)
	if err != nil {
		return fmt.Errorf("smoke check: %w", err)
	}
	bi, err := parseVersionM(text)
	if err != nil {
		return fmt.Errorf("smoke check: go version -m %s: %w", bin, err)
	}
	if err := checkBuildInfo(bi, p); err != nil {
		return fmt.Errorf("smoke check: %s: %w", bin, err)
	}
	goos, goarch := setting(bi, "GOOS"), setting(bi, "GOARCH")
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		fmt.Fprintf(stdout, "%s: built for %s/%s; not run here, so -plugins was not checked\n", p.Output, goos, goarch)
		return nil
	}
	plugins, err := run(ctx, bin, "-plugins")
	if err != nil {
		return fmt.Errorf("smoke check: %w", err)
	}
	if err := checkPlugins(plugins, p); err != nil {
		return fmt.Errorf("smoke check: %s -plugins: %w", bin, err)
	}
	version, err := run(ctx, bin, "-version")
	if err != nil {
		return fmt.Errorf("smoke check: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s\n", p.Output, strings.Join(strings.Fields(version), " "))
	return nil
}

// run runs a short command and returns its standard output. The timeout
// guards against a binary that ignores -plugins and starts serving.
func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v%s", name, strings.Join(args, " "), err, indent(stderr.String()+string(out)))
	}
	return string(out), nil
}

// parseVersionM reads `go version -m` output: a "FILE: goVERSION" line,
// then the binary's build info with every line indented by a tab, which is
// the format debug.ParseBuildInfo reads once the indent is gone.
func parseVersionM(text string) (*debug.BuildInfo, error) {
	_, rest, ok := strings.Cut(text, "\n")
	if !ok || strings.TrimSpace(rest) == "" {
		return nil, fmt.Errorf("no build information (not a Go binary?)")
	}
	lines := strings.Split(strings.TrimRight(rest, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return debug.ParseBuildInfo(strings.Join(lines, "\n") + "\n")
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func checkBuildInfo(bi *debug.BuildInfo, p *Plan) error {
	if v := setting(bi, "CGO_ENABLED"); v != "0" {
		return fmt.Errorf("build settings lack CGO_ENABLED=0 (found %q)", v)
	}
	deps := map[string]bool{}
	for _, d := range bi.Deps {
		deps[d.Path] = true
	}
	if p.Stock && deps[KubernetaiModule] {
		return fmt.Errorf("stock build contains module %s", KubernetaiModule)
	}
	for _, pl := range p.Placements {
		if pl.Module != "" && !deps[pl.Module] {
			return fmt.Errorf("module %s (plugin %s) is not among the binary's dependencies", pl.Module, pl.Name)
		}
	}
	return nil
}

// checkPlugins looks for the plugin names in `coredns -plugins`. Older
// CoreDNS printed them as dns.NAME, current releases as NAME; both count.
func checkPlugins(out string, p *Plan) error {
	listed := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		listed[strings.TrimPrefix(strings.TrimSpace(l), "dns.")] = true
	}
	switch {
	case p.Stock && !listed["kubernetes"]:
		return fmt.Errorf("plugin kubernetes (dns.kubernetes) is not listed")
	case p.Stock && listed[Directive]:
		return fmt.Errorf("stock build lists plugin kubernetai (dns.kubernetai)")
	}
	for _, pl := range p.Placements {
		if !listed[pl.Name] {
			return fmt.Errorf("plugin %s (dns.%s) is not listed: the package %s does not register it (plugin.Register(%q, setup))", pl.Name, pl.Name, pl.Package, pl.Name)
		}
	}
	return nil
}
