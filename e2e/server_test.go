// Package e2e tests the CoreDNS binary built with kubernetai, as users run
// it: a real process, a Corefile, real DNS queries over UDP and TCP.
package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// corednsBinary is the CoreDNS built by `make coredns`.
func corednsBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("KUBERNETAI_COREDNS")
	if path == "" {
		path = "../bin/coredns"
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("no CoreDNS binary at %s (build it with `make coredns`): %v", abs, err)
	}
	return abs
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// output collects a process's output for failure messages.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// server is a running CoreDNS.
type server struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	out  *output
}

// writeFiles puts files into dir; a {port} in the Corefile is the port.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs CoreDNS on a free loopback port with the Corefile (whose
// {port} is replaced) and the other files in a temporary directory, and
// waits until it answers.
func start(t *testing.T, files map[string]string) *server {
	t.Helper()
	return startOn(t, freePort(t), files)
}

// startOn is start on a given port.
func startOn(t *testing.T, port int, files map[string]string) *server {
	t.Helper()
	dir := t.TempDir()
	files["Corefile"] = strings.ReplaceAll(files["Corefile"], "{port}", strconv.Itoa(port))
	writeFiles(t, dir, files)
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, out: &output{}}
	s.cmd = exec.Command(corednsBinary(t), "-conf", "Corefile")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("CoreDNS output:\n%s", s.out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("CoreDNS exited: %v\n%s", err, s.out)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("CoreDNS did not listen on %s\n%s", s.addr, s.out)
	return nil
}

// ask sends one query over net ("udp" or "tcp").
func (s *server) ask(t *testing.T, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, s.addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

// refused runs CoreDNS with a Corefile it must refuse, and returns what it
// printed.
func refused(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["Corefile"] = strings.ReplaceAll(files["Corefile"], "{port}", strconv.Itoa(freePort(t)))
	writeFiles(t, dir, files)
	cmd := exec.Command(corednsBinary(t), "-conf", "Corefile")
	cmd.Dir = dir
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("CoreDNS started with a Corefile it should refuse")
	}
	if err == nil {
		t.Fatalf("CoreDNS exited cleanly with a bad Corefile:\n%s", out)
	}
	return string(out)
}

// records renders the records of a section, one per line, without TTL
// differences hidden: "name ttl IN TYPE data".
func records(rrs []dns.RR) string {
	var lines []string
	for _, rr := range rrs {
		lines = append(lines, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return strings.Join(lines, "\n")
}
