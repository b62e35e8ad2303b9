package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubernetai/kubernetai/e2e/kube"
)

// TestMain builds (or finds cached) kube-apiserver and etcd before go
// test's -timeout starts counting; see e2e/README.md.
func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

// stockBinary is CoreDNS built without kubernetai by `make coredns-stock`
// (the same release, flags and builder).
func stockBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("KUBERNETAI_STOCK_COREDNS")
	if path == "" {
		path = "../bin/coredns-stock"
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("no stock CoreDNS binary at %s (build it with `make coredns-stock`): %v", abs, err)
	}
	return abs
}

// liveServer is a CoreDNS process serving DNS on a loopback port, with its
// ready and prometheus plugins on two more (when the Corefile has
// {ready} and {metrics}).
type liveServer struct {
	*server
	ready   string // http://127.0.0.1:P/ready
	metrics string // http://127.0.0.1:P/metrics
	exited  chan error
}

// startBinary runs binary with the Corefile in files (placeholders
// {port}, {ready}, {metrics} replaced by free loopback ports) and waits
// until it accepts TCP on its DNS port. It does not wait for the clusters
// to sync: see waitReady.
func startBinary(t testing.TB, binary string, files map[string]string) *liveServer {
	t.Helper()
	port, readyPort, metricsPort := freePort(t), freePort(t), freePort(t)
	dir := t.TempDir()
	corefile := files["Corefile"]
	for k, v := range map[string]int{"{port}": port, "{ready}": readyPort, "{metrics}": metricsPort} {
		corefile = strings.ReplaceAll(corefile, k, strconv.Itoa(v))
	}
	all := map[string]string{}
	for k, v := range files {
		all[k] = v
	}
	all["Corefile"] = corefile
	writeFiles(t, dir, all)
	s := &liveServer{
		server:  &server{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, out: &output{}},
		ready:   fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort),
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		exited:  make(chan error, 1),
	}
	s.cmd = exec.Command(binary, "-conf", "Corefile")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(binary), s.out)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s.checkAlive(t)
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s\n%s", binary, s.addr, s.out)
	return nil
}

// stop kills the server before the test ends (its cleanup then finds it
// gone).
func (s *liveServer) stop() {
	_ = s.cmd.Process.Kill()
	err := <-s.exited
	s.exited <- err
}

// checkAlive fails t if the process has exited.
func (s *liveServer) checkAlive(t testing.TB) {
	t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("CoreDNS exited: %v\n%s", err, s.out)
	default:
	}
}

// readyStatus is the ready plugin's HTTP status (0 when it does not answer).
func (s *liveServer) readyStatus() int { return httpStatus(s.ready, 2*time.Second) }

// httpStatus is the status of a GET of url (0 when nothing answers within
// timeout).
func httpStatus(url string, timeout time.Duration) int {
	c := http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitReady waits until the ready plugin reports every plugin ready (for
// kubernetai: every stanza synced; for kubernetes: its informers synced).
func (s *liveServer) waitReady(t testing.TB) {
	t.Helper()
	waitFor(t, "ready "+s.addr, 90*time.Second, func() bool {
		s.checkAlive(t)
		return s.readyStatus() == http.StatusOK
	})
}

// scrape returns the prometheus plugin's text exposition.
func (s *liveServer) scrape(t testing.TB) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(s.metrics)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// metric is the value of the sample whose name and labels are exactly
// series (e.g. `coredns_kubernetai_synced{server="dns://127.0.0.1:53",stanza="1"}`),
// and whether it is there.
func metric(exposition, series string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}

// stanzaSeries names the series of a per-stanza metric of s: the server
// label is the address CoreDNS serves the block on, as its own metrics
// name it. extra labels (e.g. `le="+Inf"`) follow, as Prometheus writes them.
func stanzaSeries(s *server, name, stanza string, extra ...string) string {
	labels := append([]string{`server="dns://` + s.addr + `"`, `stanza="` + stanza + `"`}, extra...)
	return name + "{" + strings.Join(labels, ",") + "}"
}
