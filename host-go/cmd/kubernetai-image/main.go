// Command kubernetai-image puts a CoreDNS binary that is already built
// (by kubernetai-build) into a container image tarball, without a container
// engine. All the work is in package builder/image; this file reads flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kubernetai/kubernetai/host-go/builder/image"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// labelFlags collects repeated --label KEY=VALUE flags.
type labelFlags map[string]string

func (l labelFlags) String() string { return fmt.Sprint(map[string]string(l)) }
func (l labelFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	l[k] = v
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o := image.Options{Labels: map[string]string{}}
	var output string
	fs := flag.NewFlagSet("kubernetai-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: kubernetai-image --binary PATH [flags]

Writes an OCI image tarball (also a docker-archive) of a static CoreDNS:
/coredns, CA certificates, user nonroot (65532). Load it with docker load
or podman load, push it with crane push or skopeo copy. SOURCE_DATE_EPOCH,
when set, dates the image; otherwise it is dated 1970-01-01.

Example:
  kubernetai-image --binary bin/coredns --output bin/kubernetai-image.tar

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Binary, "binary", "", "the CoreDNS binary to put in the image (static, Linux)")
	fs.StringVar(&output, "output", "kubernetai-image.tar", "write the image tarball to `PATH`")
	fs.StringVar(&o.Tag, "tag", image.DefaultTag, "the image's `NAME[:TAG]` once loaded")
	fs.StringVar(&o.CACerts, "ca-certs", image.DefaultCACerts, "PEM bundle of CA certificates to include")
	fs.Var(labelFlags(o.Labels), "label", "add a `KEY=VALUE` label to the image config (repeatable)")
	fs.BoolVar(&o.NoBindCapability, "no-bind-capability", false, "do not give /coredns the file capability to bind ports below 1024")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kubernetai-image: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.Binary == "" {
		fmt.Fprintln(stderr, "kubernetai-image: --binary is required")
		return 2
	}
	var err error
	if o.Created, err = image.SourceDateEpoch(); err != nil {
		fmt.Fprintln(stderr, "kubernetai-image:", err)
		return 2
	}
	res, err := image.Write(output, o)
	if err != nil {
		fmt.Fprintln(stderr, "kubernetai-image:", err)
		return 1
	}
	fmt.Fprintln(stdout, image.Describe(output, res))
	return 0
}
