package kube

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binaries are the real kube-apiserver and etcd the harness runs, and the
// kubectl of the same release (for tests that drive a cluster as users do).
type Binaries struct {
	KubeAPIServer string
	Etcd          string
	// Kubectl is empty when KUBERNETAI_KUBE_APISERVER and KUBERNETAI_ETCD
	// name the binaries and KUBERNETAI_KUBECTL does not.
	Kubectl string
}

var (
	buildMu  sync.Mutex
	built    *Binaries
	buildErr error
)

// Main is a TestMain for packages that use the harness:
//
//	func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }
//
// It builds (or finds cached) kube-apiserver and etcd before the tests
// run, so that a cold build does not count against -timeout, and fails
// the package with a clear message when they cannot be had: tests that
// need them are never skipped.
//
// go test still stops a test binary one minute after its -timeout (10
// minutes by default), TestMain included, and a cold build takes 7 to 12
// minutes on 2 cores. So when a build would outlast that, Main stops
// waiting shortly before, says so and fails; the build goes on in the
// background, fills the cache, and the next run finds it (build.sh takes a
// lock, so a run that starts meanwhile waits for it). `make kube-binaries`
// or e2e/tools/build.sh before go test avoids all this.
func Main(m *testing.M) int {
	flag.Parse()
	budget := time.Duration(0)
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, ok := f.Value.(flag.Getter).Get().(time.Duration); ok && d > 0 {
			budget = d + time.Minute - 20*time.Second
		}
	}
	start := time.Now()
	b, err := BuildWithin(budget)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "kube: kube-apiserver %s, etcd %s and kubectl %s ready in %s\n",
		b.KubeAPIServer, b.Etcd, b.Kubectl, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// Build returns the kube-apiserver and etcd binaries, building them with
// e2e/tools/build.sh on first use in this process (a cold build takes
// minutes, a warm one well under a second; the binaries are cached under
// ~/.cache/kubernetai/kube/<version>/, never in the repository). Start
// calls it; call Main from TestMain to have it done before -timeout runs.
//
// KUBERNETAI_KUBE_APISERVER and KUBERNETAI_ETCD, when both are set, name
// binaries to use instead (and KUBERNETAI_KUBECTL a kubectl).
func Build() (Binaries, error) { return BuildWithin(0) }

// BuildWithin is Build, but gives up waiting after budget (0: no limit),
// leaving the build running in the background.
func BuildWithin(budget time.Duration) (Binaries, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if built == nil && buildErr == nil {
		var b Binaries
		b, buildErr = build(budget)
		if buildErr == nil {
			built = &b
		}
	}
	if buildErr != nil {
		return Binaries{}, buildErr
	}
	return *built, nil
}

func build(budget time.Duration) (Binaries, error) {
	if a, e := os.Getenv("KUBERNETAI_KUBE_APISERVER"), os.Getenv("KUBERNETAI_ETCD"); a != "" && e != "" {
		for _, p := range []string{a, e} {
			if _, err := os.Stat(p); err != nil {
				return Binaries{}, fmt.Errorf("kube: KUBERNETAI_KUBE_APISERVER/KUBERNETAI_ETCD: %v", err)
			}
		}
		b := Binaries{KubeAPIServer: a, Etcd: e, Kubectl: os.Getenv("KUBERNETAI_KUBECTL")}
		if b.Kubectl != "" {
			if _, err := os.Stat(b.Kubectl); err != nil {
				return Binaries{}, fmt.Errorf("kube: KUBERNETAI_KUBECTL: %v", err)
			}
		}
		return b, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return Binaries{}, err
	}
	script := filepath.Join(root, "tools", "build.sh")
	// Output goes to files, not pipes, so that a build outliving this
	// process (go test's kill, or Main giving up) still runs to its end.
	out, err := os.CreateTemp("", "kubernetai-kube-build-*.out")
	if err != nil {
		return Binaries{}, err
	}
	log, err := os.CreateTemp("", "kubernetai-kube-build-*.log")
	if err != nil {
		return Binaries{}, err
	}
	cmd := exec.Command("bash", script)
	cmd.Stdout, cmd.Stderr = out, log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Binaries{}, fmt.Errorf("kube: %s: %v", script, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if budget > 0 {
		timeout = time.After(budget)
	}
	// Show progress as it comes: a cold build is long.
	var shown int64
	show := func() {
		f, err := os.Open(log.Name())
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(shown, io.SeekStart); err == nil {
			n, _ := io.Copy(os.Stderr, f)
			shown += n
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			show()
			continue
		case <-timeout:
			show()
			return Binaries{}, fmt.Errorf("kube: kube-apiserver and etcd are still being built after %s, and go test "+
				"would stop this test binary soon (-timeout): giving up waiting.\n"+
				"The build goes on in the background (pid %d, log %s) and caches the binaries; run the tests "+
				"again when it is done (e2e/tools/build.sh waits for it), or build first with `make kube-binaries` "+
				"or e2e/tools/build.sh, or pass a longer -timeout: a cold build takes 7 to 12 minutes on 2 cores",
				time.Since(start).Round(time.Second), cmd.Process.Pid, log.Name())
		case err := <-done:
			show()
			defer os.Remove(out.Name())
			defer os.Remove(log.Name())
			out.Close()
			log.Close()
			if err != nil {
				b, _ := os.ReadFile(log.Name())
				return Binaries{}, fmt.Errorf("kube: %s failed after %s: %v\n%s\n"+
					"(run it by hand to see the whole build; it needs Go and the Go module proxy)",
					script, time.Since(start).Round(time.Second), err, lastLines(string(b), 40))
			}
			return parseBuildOutput(script, out.Name())
		}
	}
}

func parseBuildOutput(script, path string) (Binaries, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Binaries{}, err
	}
	var b Binaries
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "KUBE_APISERVER":
			b.KubeAPIServer = v
		case "ETCD":
			b.Etcd = v
		case "KUBECTL":
			b.Kubectl = v
		}
	}
	if b.KubeAPIServer == "" || b.Etcd == "" || b.Kubectl == "" {
		return Binaries{}, fmt.Errorf("kube: %s printed no KUBE_APISERVER/ETCD/KUBECTL paths:\n%s", script, data)
	}
	for _, p := range []string{b.KubeAPIServer, b.Etcd, b.Kubectl} {
		if _, err := os.Stat(p); err != nil {
			return Binaries{}, fmt.Errorf("kube: %s: %v", script, err)
		}
	}
	return b, nil
}

// ModuleRoot is the directory of the e2e module (it holds tools/ and
// testdata/), found from the working directory upwards: `go test` runs a
// package's tests in that package's directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module github.com/kubernetai/kubernetai/e2e\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("kube: no e2e module (github.com/kubernetai/kubernetai/e2e) above %s", dir)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
