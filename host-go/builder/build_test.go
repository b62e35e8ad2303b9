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
	fakeHello := "example.com/hello=testdata/fakehello"

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
		{name: "hello before kubernetai", c: Config{With: []string{fakeCore, fakeKai, fakeHello}, Plugins: []string{"hello:before=kubernetai"}},
			chain: "log kubernetes hello kubernetai forward", version: "kubernetai@local"},
		{name: "stock with hello", c: Config{Stock: true, With: []string{fakeCore, fakeHello}, Plugins: []string{"hello:after=log"}},
			chain: "log hello kubernetes forward", version: ", stock"},

		// Each failure below is found before go build runs.
		{name: "missing anchor", c: Config{After: "etcd", With: []string{fakeCore, fakeKai}},
			err: []string{`--after etcd: CoreDNS v1.15.0 has no directive "etcd", and no placement before this one adds it; its directives are: log kubernetes forward`}},
		{name: "plugin not registered", c: Config{With: []string{fakeCore, KubernetaiModule + "=testdata/fakekubernetai-unregistered"}},
			err: []string{`--after kubernetes (the default): module ` + KubernetaiModule + ` does not register plugin "kubernetai"`}},
		{name: "plugin module not placed", c: Config{With: []string{fakeCore, fakeKai, fakeHello}},
			err: []string{`--with example.com/hello registers CoreDNS plugin "hello", which no --plugin places`}},
		{name: "placement nobody provides", c: Config{With: []string{fakeCore, fakeKai}, Plugins: []string{"hello:after=log"}},
			err: []string{`--plugin hello:after=log: no --with module registers a plugin named "hello"`}},
		{name: "name CoreDNS has", c: Config{With: []string{fakeCore, fakeKai}, Plugins: []string{"forward:after=log"}},
			err: []string{`--plugin forward:after=log: CoreDNS v1.15.0 already has a directive "forward"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "bin")
			tt.c.Output = filepath.Join(bin, "coredns")
			// A working binary is there already; a failed build must
			// leave it alone.
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tt.c.Output, []byte("working"), 0o755); err != nil {
				t.Fatal(err)
			}
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
				if data, _ := os.ReadFile(tt.c.Output); string(data) != "working" {
					t.Errorf("failed build changed %s", tt.c.Output)
				}
				checkOnlyOutput(t, bin)
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
			checkOnlyOutput(t, bin)
		})
	}
}

// checkOnlyOutput fails when dir holds anything but the output binary, such
// as a temporary file a build left behind.
func checkOnlyOutput(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "coredns" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want only coredns", dir, names)
	}
}

// TestBuildFakeSmokeFails has the binary fail its smoke check after a
// complete build: the existing output must stay and the temporary file go.
// The fake kubernetai registers its plugin only when built with a tag the
// builder does not pass, so the source check passes and -plugins does not.
func TestBuildFakeSmokeFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	bin := t.TempDir()
	c := Config{
		With:   []string{CoreDNSModule + "=testdata/fakecoredns", KubernetaiModule + "=testdata/fakekubernetai-tagged"},
		Output: filepath.Join(bin, "coredns"),
	}
	if err := os.WriteFile(c.Output, []byte("working"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := buildFake(t, c, Options{})
	if err == nil || !strings.Contains(err.Error(), "smoke check") || !strings.Contains(err.Error(), "plugin kubernetai (dns.kubernetai) is not listed") {
		t.Fatalf("Build error = %v, want a failed smoke check", err)
	}
	if !strings.Contains(err.Error(), c.Output+" was left as it was") {
		t.Errorf("error does not say the output was kept: %v", err)
	}
	if data, _ := os.ReadFile(c.Output); string(data) != "working" {
		t.Errorf("failed build replaced %s", c.Output)
	}
	checkOnlyOutput(t, bin)
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
