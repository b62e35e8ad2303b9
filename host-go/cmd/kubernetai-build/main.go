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

// withFlags collects repeated --with flags.
type withFlags []string

func (w *withFlags) String() string     { return strings.Join(*w, " ") }
func (w *withFlags) Set(s string) error { *w = append(*w, s); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c builder.Config
	var keep, verbose bool
	var imagePath string
	fs := flag.NewFlagSet("kubernetai-build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kubernetai-build [flags]\n\nBuilds CoreDNS with the kubernetai plugin compiled in.")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.CoreDNS, "coredns", builder.DefaultCoreDNS, "CoreDNS release to build")
	fs.Var((*withFlags)(&c.With), "with", "add `module[@version][=path]` to the build (repeatable)")
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
