package feed

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// twoClusters is a kubeconfig with a context per cluster, east current.
const twoClusters = `apiVersion: v1
kind: Config
current-context: east
clusters:
- name: east
  cluster: {server: "https://east.kubeconfig.test:6443"}
- name: west
  cluster: {server: "https://west.kubeconfig.test:6443"}
users:
- name: dns
  user: {token: secret}
contexts:
- name: east
  context: {cluster: east, user: dns}
- name: west
  context: {cluster: west, user: dns}
`

// TestConnectionPrecedence pins the kubernetes plugin's order: a
// kubeconfig wins over an endpoint and its tls files, which win over the
// in-cluster service account.
func TestConnectionPrecedence(t *testing.T) {
	kc := write(t, twoClusters)
	pem := write(t, "not read before a request")
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // no in-cluster fallback
	tests := []struct {
		name     string
		conn     Connection
		wantHost string
		wantCert string
	}{
		{"kubeconfig alone", Connection{Kubeconfig: kc}, "https://east.kubeconfig.test:6443", ""},
		{"kubeconfig with a context", Connection{Kubeconfig: kc, Context: "west"}, "https://west.kubeconfig.test:6443", ""},
		{"kubeconfig wins over endpoint and tls",
			Connection{Kubeconfig: kc, Endpoint: "https://endpoint.test:6443", TLS: []string{pem, pem, pem}},
			"https://east.kubeconfig.test:6443", ""},
		{"endpoint with tls", Connection{Endpoint: "https://endpoint.test:6443", TLS: []string{pem, pem, pem}},
			"https://endpoint.test:6443", pem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.conn.Config()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.wantHost || cfg.CertFile != tt.wantCert {
				t.Errorf("host %q cert %q, want %q %q", cfg.Host, cfg.CertFile, tt.wantHost, tt.wantCert)
			}
		})
	}
	if _, err := (&Connection{}).Config(); err == nil {
		t.Error("no endpoint, no kubeconfig and not in a cluster: want an error")
	}
}

// A connection that cannot be made names the option at fault, which the
// plugin reports with the stanza and line.
func TestConnectionOptionErrors(t *testing.T) {
	pem := write(t, "not read before a request")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	tests := []struct {
		name   string
		conn   Connection
		option string
		says   string
	}{
		{"missing kubeconfig", Connection{Kubeconfig: missing}, "kubeconfig", "missing.pem"},
		{"missing tls file", Connection{Endpoint: "https://a.test:6443", TLS: []string{pem, missing, pem}}, "tls", "missing.pem"},
		{"endpoint client-go refuses", Connection{Endpoint: "a.test:6443/some/path"}, "endpoint", "host must be a URL"},
		{"no connection outside a cluster", Connection{}, "", "in-cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLive(&tt.conn, nil, nil)
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tt.option || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("NewLive = %v, want an *OptionError for %q saying %q", err, tt.option, tt.says)
			}
		})
	}
}

func TestConnectionRateLimits(t *testing.T) {
	tests := []struct {
		name      string
		qps       float32
		burst     int
		wantQPS   float32
		wantBurst int
	}{
		{"given", 7.5, 11, 7.5, 11},
		{"unset: client-go's defaults", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := Connection{Endpoint: "https://endpoint.test:6443", QPS: tt.qps, Burst: tt.burst}
			cfg, err := conn.Config()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.QPS != tt.wantQPS || cfg.Burst != tt.wantBurst {
				t.Errorf("QPS %v burst %d, want %v %d", cfg.QPS, cfg.Burst, tt.wantQPS, tt.wantBurst)
			}
			if cfg.WrapTransport != nil {
				t.Error("no apiserver_max_inflight, yet the transport is wrapped")
			}
		})
	}
}

// blockingTransport holds every request until released (or its request
// is cancelled), and records how many were inside at once.
type blockingTransport struct {
	entered chan struct{}
	release chan struct{}

	mu           sync.Mutex
	inside, most int
}

func newBlockingTransport() *blockingTransport {
	return &blockingTransport{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	b.inside++
	b.most = max(b.most, b.inside)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inside--
		b.mu.Unlock()
	}()
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

func (b *blockingTransport) mostInside() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.most
}

// limited is the transport a Connection with apiserver_max_inflight n
// gives client-go, around inner.
func limited(t *testing.T, n int, inner http.RoundTripper) http.RoundTripper {
	t.Helper()
	cfg, err := (&Connection{Endpoint: "https://endpoint.test:6443", MaxInflight: n}).Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WrapTransport == nil {
		t.Fatal("apiserver_max_inflight does not wrap the transport")
	}
	return cfg.WrapTransport(inner)
}

func get(ctx context.Context, rt http.RoundTripper) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://endpoint.test:6443/api", nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// within fails the test when ch yields nothing for a long while: a guard
// against hanging on a broken limiter, not a measure of speed.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("still waiting for %s", what)
		var zero T
		return zero
	}
}

// TestMaxInflight fires n requests that the API server holds, then k
// more: those wait for a slot (here until they are cancelled) instead of
// reaching the server.
func TestMaxInflight(t *testing.T) {
	const n, k = 2, 3
	inner := newBlockingTransport()
	rt := limited(t, n, inner)

	held := make(chan error, n)
	for range n {
		go func() { held <- get(context.Background(), rt) }()
	}
	for range n {
		within(t, inner.entered, "the first requests to reach the server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, k)
	for range k {
		go func() { waiting <- get(ctx, rt) }()
	}
	cancel()
	for range k {
		if err := within(t, waiting, "the requests over the cap"); !errors.Is(err, context.Canceled) {
			t.Errorf("a request over the cap: %v, want it cancelled while waiting", err)
		}
	}
	close(inner.release)
	for range n {
		if err := within(t, held, "the held requests"); err != nil {
			t.Errorf("a held request: %v", err)
		}
	}
	if got := inner.mostInside(); got != n {
		t.Errorf("%d requests at the server at once, want %d", got, n)
	}
	// The slots are free again.
	done := make(chan error, 1)
	go func() { done <- get(context.Background(), rt) }()
	if err := within(t, done, "a request after the others"); err != nil {
		t.Error(err)
	}
}

// streamingTransport answers at once with a body that streams until the
// test closes it, as a watch does.
type streamingTransport struct{ bodies chan *io.PipeWriter }

func (s *streamingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	s.bodies <- pw
	return &http.Response{StatusCode: http.StatusOK, Body: pr, Request: r}, nil
}

// TestMaxInflightLeavesWatchesOut: a response whose body still streams
// holds no slot, so one slot serves a watch and a list beside it.
func TestMaxInflightLeavesWatchesOut(t *testing.T) {
	inner := &streamingTransport{bodies: make(chan *io.PipeWriter, 2)}
	rt := limited(t, 1, inner)
	req, _ := http.NewRequest(http.MethodGet, "https://endpoint.test:6443/api?watch=1", nil)
	watch, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Body.Close()
	stream := <-inner.bodies
	defer stream.Close()

	done := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "https://endpoint.test:6443/api", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	list := within(t, done, "a request beside an open watch")
	if list != nil {
		list.Body.Close()
		(<-inner.bodies).Close()
	}
}

// TestObserveRequests: with Observe, each request is reported with its
// method and status code, 0 when no response came; inside
// apiserver_max_inflight's limit when both are given.
func TestObserveRequests(t *testing.T) {
	refused := errors.New("connection refused")
	tests := []struct {
		name     string
		method   string
		status   int
		err      error
		inflight int
		want     int
	}{
		{"a list", http.MethodGet, http.StatusOK, nil, 0, http.StatusOK},
		{"forbidden", http.MethodGet, http.StatusForbidden, nil, 0, http.StatusForbidden},
		{"no response", http.MethodGet, 0, refused, 0, 0},
		{"with apiserver_max_inflight", http.MethodPost, http.StatusCreated, nil, 2, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				method string
				code   int
			}
			var got []seen
			conn := &Connection{Endpoint: "https://endpoint.test:6443", MaxInflight: tt.inflight,
				Observe: func(method string, code int, _ time.Duration) { got = append(got, seen{method, code}) }}
			cfg, err := conn.Config()
			if err != nil {
				t.Fatal(err)
			}
			rt := cfg.WrapTransport(roundTripper(func(*http.Request) (*http.Response, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &http.Response{StatusCode: tt.status, Body: io.NopCloser(strings.NewReader(""))}, nil
			}))
			req, _ := http.NewRequest(tt.method, "https://endpoint.test:6443/api/v1/services", nil)
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			if want := []seen{{tt.method, tt.want}}; len(got) != 1 || got[0] != want[0] {
				t.Errorf("observed %v, want %v", got, want)
			}
		})
	}
}
