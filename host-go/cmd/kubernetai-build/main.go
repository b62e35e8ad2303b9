// Command kubernetai-build builds official CoreDNS with the kubernetai plugin
// compiled in. All the work is in package builder; this file only reads
// flags. See builder/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"

	"github.com/kubernetai/kubernetai/host-go/builder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a mistake on the command line, as opposed to a failed build.
type usageError struct{ error }

// exitCode reports err and maps it to the exit status: 2 for usage, 1 for a
// failed build. The flag package has already printed its own parse errors.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		if !errors.Is(err, errParse) {
			fmt.Fprintln(stderr, "kubernetai-build:", err)
		}
		return 2
	}
	fmt.Fprintln(stderr, "kubernetai-build:", err)
	return 1
}

var errParse = errors.New("bad flags")

// listFlag collects a repeated flag.
type listFlag []string

func (w *listFlag) String() string     { return strings.Join(*w, " ") }
func (w *listFlag) Set(s string) error { *w = append(*w, s); return nil }

const usageHead = `usage: kubernetai-build [flags]
       kubernetai-build version

Builds official CoreDNS with the kubernetai plugin, and any other plugins
you name, compiled in. Every --with module whose root package registers a
CoreDNS plugin is built in, at the place its --plugin gives; other --with
modules only pin a version or point at a local directory. The binary is
checked before it replaces --output.

Flags:
`

const usageExamples = `
Examples (in host-go of a clone of the kubernetai repository):

  # CoreDNS with kubernetai right after kubernetes
  go run ./cmd/kubernetai-build --with github.com/kubernetai/kubernetai/host-go=. --output ../bin/coredns

  # also the external plugin alternate, from a local checkout, before forward
  go run ./cmd/kubernetai-build --with github.com/kubernetai/kubernetai/host-go=. \
      --with github.com/coredns/alternate=../../alternate --plugin alternate:before=forward

  # kubernetai before forward, a dependency pinned, for 64-bit ARM
  GOARCH=arm64 go run ./cmd/kubernetai-build --with github.com/kubernetai/kubernetai/host-go=. \
      --before forward --with github.com/miekg/dns@v1.1.73 --output coredns-arm64

  # stock CoreDNS of the same release, without kubernetai
  go run ./cmd/kubernetai-build --stock --output coredns-stock

Exit status: 0 built and checked, 1 the build or a check failed, 2 a
mistake on the command line. See host-go/builder/README.md.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "version" {
		if len(args) > 1 {
			return usageError{fmt.Errorf("version: unexpected argument %q", args[1])}
		}
		info, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, versionLine(info))
		return nil
	}
	var c builder.Config
	var keep, verbose bool
	var imagePath string
	fs := flag.NewFlagSet("kubernetai-build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(stderr, usageExamples)
	}
	fs.StringVar(&c.CoreDNS, "coredns", builder.DefaultCoreDNS, "CoreDNS release to build, exactly (refused if a module requires a newer one)")
	fs.Var((*listFlag)(&c.With), "with", "add `module[@version][=path]` to the build (repeatable): a plugin's module, a pin or a local checkout")
	fs.Var((*listFlag)(&c.Plugins), "plugin", "build in the plugin `NAME:after=DIRECTIVE` (or NAME:before=DIRECTIVE) that a --with module registers (repeatable)")
	fs.StringVar(&c.After, "after", "", "place kubernetai right after `DIRECTIVE` in the plugin chain (default \""+builder.DefaultAnchor+"\")")
	fs.StringVar(&c.Before, "before", "", "place kubernetai right before `DIRECTIVE` in the plugin chain")
	fs.BoolVar(&c.Stock, "stock", false, "build CoreDNS without kubernetai")
	fs.StringVar(&c.Output, "output", "coredns", "write the binary to `PATH`")
	fs.BoolVar(&keep, "keep", false, "keep the generated work directory and print its path")
	fs.BoolVar(&verbose, "v", false, "stream the go command's output")
	fs.StringVar(&imagePath, "image", "", "after the smoke check, also write the binary's container image tarball to `PATH`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Errorf("%w: %v", errParse, err)}
	}
	c.Args = fs.Args()
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	self, _ := debug.ReadBuildInfo()
	plan, err := c.Resolve(cwd, self)
	if err != nil {
		return usageError{err}
	}
	img, err := checkImage(imagePath, plan.Output)
	if err != nil {
		return err
	}
	if err := builder.Build(ctx, plan, builder.Options{Keep: keep, Verbose: verbose, Stdout: stdout, Stderr: stderr}); err != nil {
		return err
	}
	return writeImage(imagePath, img, stdout)
}

// versionLine describes this builder: its module version ("(devel)" when
// built from a checkout), the commit when the go command recorded one, and
// the Go release it was built with.
func versionLine(info *debug.BuildInfo) string {
	if info == nil {
		return "kubernetai-build (unknown version: no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	line := "kubernetai-build " + v
	if rev != "" {
		line += " commit " + rev
		if modified == "true" {
			line += " (modified)"
		}
	}
	return line + " " + info.GoVersion
}
