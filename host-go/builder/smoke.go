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

// Smoke checks a built binary: that it was built without cgo, that it holds
// (or, for --stock, lacks) kubernetai, and that it lists the expected
// plugins. It prints the binary's -version on success.
func Smoke(ctx context.Context, p *Plan, stdout io.Writer) error {
	text, err := run(ctx, "go", "version", "-m", p.Output)
	if err != nil {
		return fmt.Errorf("smoke check: %w", err)
	}
	bi, err := parseVersionM(text)
	if err != nil {
		return fmt.Errorf("smoke check: go version -m %s: %w", p.Output, err)
	}
	if err := checkBuildInfo(bi, p.Stock); err != nil {
		return fmt.Errorf("smoke check: %s: %w", p.Output, err)
	}
	goos, goarch := setting(bi, "GOOS"), setting(bi, "GOARCH")
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		fmt.Fprintf(stdout, "%s: built for %s/%s; not run here, so -plugins was not checked\n", p.Output, goos, goarch)
		return nil
	}
	plugins, err := run(ctx, p.Output, "-plugins")
	if err != nil {
		return fmt.Errorf("smoke check: %w", err)
	}
	if err := checkPlugins(plugins, p.Stock); err != nil {
		return fmt.Errorf("smoke check: %s -plugins: %w", p.Output, err)
	}
	version, err := run(ctx, p.Output, "-version")
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

func checkBuildInfo(bi *debug.BuildInfo, stock bool) error {
	if v := setting(bi, "CGO_ENABLED"); v != "0" {
		return fmt.Errorf("build settings lack CGO_ENABLED=0 (found %q)", v)
	}
	has := false
	for _, d := range bi.Deps {
		has = has || d.Path == KubernetaiModule
	}
	switch {
	case !stock && !has:
		return fmt.Errorf("module %s is not among the binary's dependencies", KubernetaiModule)
	case stock && has:
		return fmt.Errorf("stock build contains module %s", KubernetaiModule)
	}
	return nil
}

// checkPlugins looks for the plugin names in `coredns -plugins`. Older
// CoreDNS printed them as dns.NAME, current releases as NAME; both count.
func checkPlugins(out string, stock bool) error {
	listed := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		listed[strings.TrimPrefix(strings.TrimSpace(l), "dns.")] = true
	}
	switch {
	case stock && !listed["kubernetes"]:
		return fmt.Errorf("plugin kubernetes (dns.kubernetes) is not listed")
	case stock && listed[Directive]:
		return fmt.Errorf("stock build lists plugin kubernetai (dns.kubernetai)")
	case !stock && !listed[Directive]:
		return fmt.Errorf("plugin kubernetai (dns.kubernetai) is not listed: the package %s does not register it (plugin.Register(%q, setup))", KubernetaiModule, Directive)
	}
	return nil
}
