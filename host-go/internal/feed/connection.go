package feed

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Connection is how a stanza reaches its API server: the kubernetes
// plugin's `endpoint`, `tls`, `kubeconfig`, `apiserver_*` options, or the
// in-cluster service account when none is given.
type Connection struct {
	Endpoint    string
	TLS         []string // cert, key, CA
	Kubeconfig  string
	Context     string
	QPS         float32
	Burst       int
	MaxInflight int
	UserAgent   string
	// Observe, when set, hears of each request to the API server once its
	// response headers arrive or it fails (code 0), with how long that
	// took: the plugin's own request metrics. client-go's global ones are
	// the kubernetes plugin's, and mix every client in the process.
	Observe func(method string, code int, took time.Duration)
}

// OptionError is a connection that cannot be made, with the option at
// fault: kubeconfig, tls or endpoint; "" for the in-cluster credentials.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// option is the option that chooses how c connects, by the kubernetes
// plugin's precedence, to blame for a failure no option check names.
func (c *Connection) option() string {
	switch {
	case c.Kubeconfig != "":
		return "kubeconfig"
	case len(c.TLS) > 0:
		return "tls"
	case c.Endpoint != "":
		return "endpoint"
	}
	return ""
}

func (c *Connection) optionError(err error) error { return &OptionError{c.option(), err} }

// Config builds the client configuration, with the kubernetes plugin's
// precedence: a kubeconfig wins, then an endpoint (with tls), then
// in-cluster credentials. An error is an *OptionError.
func (c *Connection) Config() (*rest.Config, error) {
	cfg, err := c.base()
	if err != nil {
		return nil, err
	}
	// Protobuf is the API server's cheapest encoding for the core types.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.UserAgent = c.UserAgent
	if c.QPS > 0 {
		cfg.QPS = c.QPS
	}
	if c.Burst > 0 {
		cfg.Burst = c.Burst
	}
	// Observed inside the in-flight limit: a request's time is the API
	// server's, not its wait for a slot.
	if c.Observe != nil {
		addWrapper(cfg, func(rt http.RoundTripper) http.RoundTripper { return observe(rt, c.Observe) })
	}
	if c.MaxInflight > 0 {
		addWrapper(cfg, func(rt http.RoundTripper) http.RoundTripper { return limitInflight(rt, c.MaxInflight) })
	}
	return cfg, nil
}

// addWrapper wraps the transport client-go makes in w, around any wrapper
// given before.
func addWrapper(cfg *rest.Config, w func(http.RoundTripper) http.RoundTripper) {
	inner := cfg.WrapTransport
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if inner != nil {
			rt = inner(rt)
		}
		return w(rt)
	}
}

// observe reports each request's method, status code (0 when it failed)
// and time to its response headers (a watch's body streams on).
func observe(next http.RoundTripper, report func(method string, code int, took time.Duration)) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		report(r.Method, code, time.Since(start))
		return resp, err
	})
}

func (c *Connection) base() (*rest.Config, error) {
	switch {
	case c.Kubeconfig != "":
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return nil, &OptionError{"kubeconfig", fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)}
		}
		return cfg, nil
	case c.Endpoint != "":
		for _, f := range c.TLS {
			if _, err := os.Stat(f); err != nil {
				return nil, &OptionError{"tls", err}
			}
		}
		if _, _, err := rest.DefaultServerURL(c.Endpoint, "", schema.GroupVersion{}, len(c.TLS) > 0); err != nil {
			return nil, &OptionError{"endpoint", fmt.Errorf("endpoint %s: %w", c.Endpoint, err)}
		}
		overrides := &clientcmd.ConfigOverrides{ClusterInfo: clientcmdapi.Cluster{Server: c.Endpoint}}
		if len(c.TLS) == 3 {
			overrides.AuthInfo.ClientCertificate, overrides.AuthInfo.ClientKey = c.TLS[0], c.TLS[1]
			overrides.ClusterInfo.CertificateAuthority = c.TLS[2]
		}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{}, overrides).ClientConfig()
		if err != nil {
			return nil, c.optionError(fmt.Errorf("endpoint %s: %w", c.Endpoint, err))
		}
		return cfg, nil
	default:
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, &OptionError{"", fmt.Errorf("in-cluster credentials (no endpoint or kubeconfig given): %w", err)}
		}
		return cfg, nil
	}
}

// String names the API server for log lines.
func (c *Connection) String() string {
	switch {
	case c.Kubeconfig != "" && c.Context != "":
		return fmt.Sprintf("kubeconfig %s (context %s)", c.Kubeconfig, c.Context)
	case c.Kubeconfig != "":
		return "kubeconfig " + c.Kubeconfig
	case c.Endpoint != "":
		return c.Endpoint
	}
	return "the in-cluster API server"
}

// limitInflight caps concurrent requests to the API server
// (`apiserver_max_inflight`). A request holds its slot until RoundTrip
// returns, that is until the response's headers arrive, not while its
// body is read: a watch, whose body streams for as long as it runs, holds
// none once established. That is the kubernetes plugin's meaning of the
// option, and the only workable one: with watches holding slots, a stanza
// watching more resources than MAX would never list or relist the rest.
func limitInflight(next http.RoundTripper, n int) http.RoundTripper {
	slots := make(chan struct{}, n)
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			return next.RoundTrip(r)
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
