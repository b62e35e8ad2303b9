package builder

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildFake runs the whole pipeline (generate, go mod tidy, go build,
// smoke check) against the fake CoreDNS in testdata, offline. It proves
// what unit tests cannot: that the generated module compiles and that the
// generated init really reorders the chain in a running binary.
func TestBuildFake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Setenv("GOPROXY", "off")       // everything is replaced by testdata
	t.Setenv("GOTOOLCHAIN", "local") // never download a toolchain
	t.Setenv("CGO_ENABLED", "1")     // Build must override it
	fakeCore := CoreDNSModule + "=testdata/fakecoredns"
	fakeKai := KubernetaiModule + "=testdata/fakekubernetai"

	tests := []struct {
		name    string
		c       Config
		chain   string // the binary's -directives output
		version string // in the printed -version line
		err     []string
	}{
		{name: "after kubernetes", c: Config{With: []string{fakeCore, fakeKai}},
			chain: "log kubernetes kubernetai forward", version: "kubernetai@local"},
		{name: "before log", c: Config{Before: "log", With: []string{fakeCore, fakeKai}},
			chain: "kubernetai log kubernetes forward", version: "kubernetai@local"},
		{name: "stock", c: Config{Stock: true, With: []string{fakeCore}},
			chain: "log kubernetes forward", version: ", stock"},
		{name: "missing anchor", c: Config{After: "etcd", With: []string{fakeCore, fakeKai}},
			err: []string{"smoke check", "-plugins", "exit status 1",
				`coredns: cannot place kubernetai (built with --after etcd): anchor directive "etcd" is not in the plugin chain: log kubernetes forward`}},
		{name: "plugin not registered", c: Config{With: []string{fakeCore, KubernetaiModule + "=testdata/fakekubernetai-unregistered"}},
			err: []string{"smoke check", "plugin kubernetai (dns.kubernetai) is not listed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Output = filepath.Join(t.TempDir(), "bin", "coredns")
			stdout, err := buildFake(t, tt.c, Options{})
			if len(tt.err) > 0 {
				if err == nil {
					t.Fatalf("Build succeeded, want an error")
				}
				for _, want := range tt.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if !strings.Contains(stdout, "CoreDNS-fake") || !strings.Contains(stdout, tt.version) {
				t.Errorf("stdout = %q, want the -version line with %q", stdout, tt.version)
			}
			out, err := exec.Command(tt.c.Output, "-directives").Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != tt.chain {
				t.Errorf("chain = %q, want %q", got, tt.chain)
			}
		})
	}
}

// TestBuildFakeKeep checks that --keep leaves the generated module behind.
func TestBuildFakeKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	c := Config{Stock: true, With: []string{CoreDNSModule + "=testdata/fakecoredns"}, Output: filepath.Join(t.TempDir(), "coredns")}
	var stderr bytes.Buffer
	_, err := buildFake(t, c, Options{Keep: true, Stderr: &stderr})
	// The directory is kept even when the build fails; clean it up first.
	_, dir, ok := strings.Cut(stderr.String(), "work directory kept: ")
	dir = strings.TrimSpace(dir)
	if ok && dir != "" {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("stderr does not name the kept directory: %q", stderr.String())
	}
	for _, f := range []string{"go.mod", "main.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("kept directory lacks %s: %v", f, err)
		}
	}
}

func buildFake(t *testing.T, c Config, o Options) (string, error) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Resolve(wd, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	o.Stdout = &stdout
	if o.Stderr == nil {
		o.Stderr = &bytes.Buffer{}
	}
	err = Build(context.Background(), p, o)
	return stdout.String(), err
}
