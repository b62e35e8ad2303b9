package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// User is one of the identities every cluster's token file knows.
type User string

const (
	// Admin is in system:masters: everything is allowed.
	Admin User = "kubernetai-admin"
	// Plugin is the least-privilege user the plugin runs as: it may do only
	// what the ClusterRole in deploy/rbac.yaml grants, once ApplyRBAC has
	// bound it.
	Plugin User = "kubernetai"
	// Nobody is authenticated and bound to nothing: "forbidden" for all
	// but discovery and health.
	Nobody User = "nobody"
)

// Users are all the users, in token-file order.
var Users = []User{Admin, Plugin, Nobody}

// Options tune Start. The zero value starts one cluster.
type Options struct {
	// Clusters is how many kube-apiservers to start on the one etcd (1 if 0).
	Clusters int
	// ReadyTimeout bounds each wait for /readyz, at start and after a
	// restart (3 minutes if 0: several apiservers starting at once on 2
	// cores take well over a minute).
	ReadyTimeout time.Duration
	// Verbosity is kube-apiserver's -v (0 if 0).
	Verbosity int
	// ServicePrefix is the length of each cluster's service IP range
	// (16 if 0: 65,534 ClusterIPs; 12 holds a million). Cluster i's range
	// starts at 10.(96+i*2^(16-ServicePrefix)).0.0.
	ServicePrefix int
}

// Env is one etcd and the kube-apiservers sharing it, each one cluster.
type Env struct {
	// Dir holds everything the servers write: etcd's data, each cluster's
	// certificates, token file and kubeconfigs, and every server's log
	// (<name>.log). It is removed by Close unless a test failed and
	// KUBERNETAI_KUBE_KEEP is set.
	Dir string
	// EtcdURL is the etcd client URL (http://127.0.0.1:PORT).
	EtcdURL  string
	Clusters []*Cluster
	Binaries Binaries

	t     testing.TB
	opts  Options
	etcd  *process
	close sync.Once
}

// Cluster is one kube-apiserver: one Kubernetes cluster as a client sees it.
type Cluster struct {
	// Name is cluster0, cluster1, ... (also its kubeconfig context name).
	Name string
	// URL is https://127.0.0.1:PORT.
	URL  string
	Port int
	// CAFile verifies URL: the certificate the apiserver generated into its
	// cert dir (apiserver.crt, leaf and CA). It outlives Stop/Start.
	CAFile  string
	CertDir string
	// ServiceCIDR is --service-cluster-ip-range, distinct per cluster
	// (10.96.0.0/16, 10.97.0.0/16, ...), so a ClusterIP tells its cluster.
	ServiceCIDR string
	// EtcdPrefix is this cluster's --etcd-prefix in the shared etcd.
	EtcdPrefix string
	// TokenFile is the --token-auth-file: one token per User, distinct per
	// cluster, so a token from one cluster is refused by another.
	TokenFile string
	// AdminClient is a clientset authenticated as Admin.
	AdminClient *kubernetes.Clientset

	env    *Env
	tokens map[User]string
	proc   *process
}

// Start starts etcd and opts.Clusters kube-apiservers, waits until every
// one is ready, and registers Close with t.Cleanup, so nothing outlives the
// test even when it fails. A failure to build or start is fatal to t.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Clusters <= 0 {
		opts.Clusters = 1
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 3 * time.Minute
	}
	bins, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "kubernetai-kube-")
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Dir: dir, Binaries: bins, t: t, opts: opts}
	t.Cleanup(e.Close)
	if err := e.start(); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *Env) start() error {
	ports, err := freePorts(2 + e.opts.Clusters)
	if err != nil {
		return err
	}
	saKey := filepath.Join(e.Dir, "service-account.key")
	if err := writeSigningKey(saKey); err != nil {
		return err
	}

	// etcd: one member on loopback, no fsync (the data is thrown away).
	client, peer := ports[0], ports[1]
	e.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	e.etcd = &process{
		name: "etcd",
		path: e.Binaries.Etcd,
		log:  filepath.Join(e.Dir, "etcd.log"),
		args: []string{
			"--name=e2e",
			"--data-dir=" + filepath.Join(e.Dir, "etcd"),
			"--listen-client-urls=" + e.EtcdURL,
			"--advertise-client-urls=" + e.EtcdURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=e2e=" + peerURL,
			"--initial-cluster-state=new",
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
	}
	if err := e.etcd.start(); err != nil {
		return err
	}
	if err := e.waitEtcd(30 * time.Second); err != nil {
		return err
	}

	for i := range e.opts.Clusters {
		c, err := e.newCluster(i, ports[2+i], saKey)
		if err != nil {
			return err
		}
		e.Clusters = append(e.Clusters, c)
	}
	for _, c := range e.Clusters {
		if err := c.proc.start(); err != nil {
			return err
		}
	}
	errs := make([]error, len(e.Clusters))
	var wg sync.WaitGroup
	for i, c := range e.Clusters {
		wg.Go(func() { errs[i] = c.waitReady(e.opts.ReadyTimeout) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, c := range e.Clusters {
		cs, err := kubernetes.NewForConfig(c.RestConfig(Admin))
		if err != nil {
			return err
		}
		c.AdminClient = cs
	}
	for i, c := range e.Clusters {
		wg.Go(func() { errs[i] = c.waitBootstrapped(e.opts.ReadyTimeout) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitBootstrapped waits until the objects every cluster starts with
// exist: /readyz can answer ok before the apiserver's bootstrap controller
// has made the default namespaces and the default/kubernetes Service, and
// tests (and stock CoreDNS beside ours) read them.
func (c *Cluster) waitBootstrapped(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		err := c.bootstrapped(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube: %s's kube-apiserver has not made its default objects after %s: %w", c.Name, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) bootstrapped(ctx context.Context) error {
	for _, ns := range []string{"default", "kube-system", "kube-public"} {
		if _, err := c.AdminClient.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			return err
		}
	}
	_, err := c.AdminClient.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	return err
}

func (e *Env) newCluster(i, port int, saKey string) (*Cluster, error) {
	name := fmt.Sprintf("cluster%d", i)
	cdir := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{
		Name:        name,
		URL:         fmt.Sprintf("https://127.0.0.1:%d", port),
		Port:        port,
		CertDir:     filepath.Join(cdir, "certs"),
		ServiceCIDR: serviceCIDR(i, e.opts.ServicePrefix),
		EtcdPrefix:  "/" + name + "/registry",
		TokenFile:   filepath.Join(cdir, "tokens.csv"),
		env:         e,
		tokens:      map[User]string{},
	}
	c.CAFile = filepath.Join(c.CertDir, "apiserver.crt")
	var csv strings.Builder
	for _, u := range Users {
		tok, err := randomToken()
		if err != nil {
			return nil, err
		}
		c.tokens[u] = tok
		groups := ""
		if u == Admin {
			groups = `,"system:masters"`
		}
		fmt.Fprintf(&csv, "%s,%s,%s-uid%s\n", tok, u, u, groups)
	}
	if err := os.WriteFile(c.TokenFile, []byte(csv.String()), 0o600); err != nil {
		return nil, err
	}
	c.proc = &process{
		name: name,
		path: e.Binaries.KubeAPIServer,
		log:  filepath.Join(e.Dir, name+".log"),
		args: []string{
			"--etcd-servers=" + e.EtcdURL,
			"--etcd-prefix=" + c.EtcdPrefix,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + c.CertDir,
			"--service-cluster-ip-range=" + c.ServiceCIDR,
			// A loopback advertise address fails the default reconciler;
			// there is no kubelet or node to reconcile anyway.
			"--endpoint-reconciler-type=none",
			"--authorization-mode=RBAC",
			"--token-auth-file=" + c.TokenFile,
			// No controller manager creates default service accounts.
			"--disable-admission-plugins=ServiceAccount",
			"--service-account-issuer=https://" + name + ".kubernetai.test",
			"--service-account-signing-key-file=" + saKey,
			"--service-account-key-file=" + saKey,
			"--profiling=false",
			"--v=" + strconv.Itoa(e.opts.Verbosity),
		},
	}
	return c, nil
}

// serviceCIDR is cluster i's --service-cluster-ip-range: ranges of
// prefix bits (16 if 0) side by side from 10.96.0.0.
func serviceCIDR(i, prefix int) string {
	if prefix == 0 {
		prefix = 16
	}
	return fmt.Sprintf("10.%d.0.0/%d", 96+i<<(16-prefix), prefix)
}

// Token is u's bearer token on this cluster.
func (c *Cluster) Token(u User) string { return c.tokens[u] }

// RestConfig connects to this cluster as u, verifying its certificate.
func (c *Cluster) RestConfig(u User) *rest.Config {
	return c.restConfig(c.tokens[u])
}

func (c *Cluster) restConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: c.CAFile},
		QPS:             100,
		Burst:           200,
		Timeout:         30 * time.Second,
	}
}

// Client is a clientset authenticated as u.
func (c *Cluster) Client(t testing.TB, u User) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.RestConfig(u))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Kubeconfig writes a kubeconfig for u on this cluster (one context, named
// after the cluster, current) into the Env's directory and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB, u User) string {
	t.Helper()
	path := filepath.Join(c.env.Dir, c.Name, string(u)+".kubeconfig")
	if err := c.WriteKubeconfig(path, c.tokens[u]); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteKubeconfig writes a kubeconfig at path that reaches this cluster
// with the given bearer token (any token: one of Token's, or one a test
// made up to be refused).
func (c *Cluster) WriteKubeconfig(path, token string) error {
	return writeKubeconfig(path, []*Cluster{c}, func(*Cluster) string { return token })
}

// Kubeconfig writes one kubeconfig with a context per cluster (named after
// the cluster; the first is current), each authenticated as u, and returns
// its path.
func (e *Env) Kubeconfig(t testing.TB, u User) string {
	t.Helper()
	path := filepath.Join(e.Dir, "all-"+string(u)+".kubeconfig")
	if err := writeKubeconfig(path, e.Clusters, func(c *Cluster) string { return c.tokens[u] }); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKubeconfig(path string, clusters []*Cluster, token func(*Cluster) string) error {
	cfg := clientcmdapi.NewConfig()
	for _, c := range clusters {
		cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthority: c.CAFile}
		cfg.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{Token: token(c)}
		cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
		if cfg.CurrentContext == "" {
			cfg.CurrentContext = c.Name
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// Stop stops this cluster's apiserver (SIGTERM, then SIGKILL after 30 s);
// its data stays in etcd and its certificates in CertDir. Clients see
// connection refused on URL until Start.
func (c *Cluster) Stop() { c.proc.stop(30 * time.Second) }

// Kill kills this cluster's apiserver with SIGKILL, as a crash or a lost
// machine would: open connections are cut without a goodbye. Start brings
// it back as after Stop.
func (c *Cluster) Kill() { c.proc.stop(0) }

// Start starts this cluster's apiserver again after Stop, with the same
// port, certificates, tokens and data, and waits until it is ready.
func (c *Cluster) Start() error {
	if err := c.proc.start(); err != nil {
		return err
	}
	return c.waitReady(c.env.opts.ReadyTimeout)
}

// PID is the apiserver's process id (0 while stopped).
func (c *Cluster) PID() int { return c.proc.pid() }

// Log is the end of the apiserver's log.
func (c *Cluster) Log(lines int) string { return c.proc.tail(lines) }

// EtcdPID is etcd's process id (0 once closed).
func (e *Env) EtcdPID() int { return e.etcd.pid() }

// Close stops every apiserver, then etcd, and removes Dir. It is
// registered with t.Cleanup by Start and may also be called earlier; later
// calls do nothing. When the test has failed, it logs the end of every
// server's log first.
func (e *Env) Close() {
	e.close.Do(func() {
		failed := e.t.Failed()
		// The ends of the logs before shutdown, where a failure shows.
		tails := map[string]string{}
		if failed {
			for _, c := range e.Clusters {
				tails[c.Name] = c.proc.tail(30)
			}
			if e.etcd != nil {
				tails["etcd"] = e.etcd.tail(30)
			}
		}
		var wg sync.WaitGroup
		for _, c := range e.Clusters {
			if c.proc != nil {
				wg.Go(func() { c.proc.stop(30 * time.Second) })
			}
		}
		wg.Wait()
		if e.etcd != nil {
			e.etcd.stop(10 * time.Second)
		}
		if failed {
			for _, c := range e.Clusters {
				e.t.Logf("---- %s's log before Close (%s):\n%s", c.Name, c.proc.log, tails[c.Name])
			}
			if e.etcd != nil {
				e.t.Logf("---- etcd's log before Close (%s):\n%s", e.etcd.log, tails["etcd"])
			}
		}
		if failed && os.Getenv("KUBERNETAI_KUBE_KEEP") != "" {
			e.t.Logf("kept %s (KUBERNETAI_KUBE_KEEP)", e.Dir)
			return
		}
		_ = os.RemoveAll(e.Dir)
	})
}

func (e *Env) waitEtcd(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	var last string
	for time.Now().Before(deadline) {
		if up, err := e.etcd.running(); !up {
			return fmt.Errorf("kube: etcd %v; its log:\n%s", err, e.etcd.tail(30))
		}
		resp, err := hc.Get(e.EtcdURL + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"health":"true"`) {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kube: etcd not healthy after %s (last: %s); its log:\n%s", timeout, last, e.etcd.tail(30))
}

// waitReady polls /readyz until it answers ok, verifying the apiserver's
// certificate against CAFile as soon as the apiserver has written it.
func (c *Cluster) waitReady(timeout time.Duration) error {
	start := time.Now()
	deadline := start.Add(timeout)
	var hc *http.Client
	defer func() {
		if hc != nil {
			hc.CloseIdleConnections()
		}
	}()
	last := "no certificate yet"
	for time.Now().Before(deadline) {
		if up, err := c.proc.running(); !up {
			return fmt.Errorf("kube: %s's kube-apiserver %v; its log:\n%s", c.Name, err, c.proc.tail(40))
		}
		if hc == nil {
			if pem, err := os.ReadFile(c.CAFile); err == nil {
				pool := x509.NewCertPool()
				if pool.AppendCertsFromPEM(pem) {
					hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
						TLSClientConfig: &tls.Config{RootCAs: pool},
					}}
				}
			}
		}
		if hc != nil {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, c.URL+"/readyz", nil)
			req.Header.Set("Authorization", "Bearer "+c.tokens[Admin])
			resp, err := hc.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
					return nil
				}
				last = fmt.Sprintf("%s: %s", resp.Status, lastLines(string(body), 5))
			} else {
				last = err.Error()
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("kube: %s's kube-apiserver not ready after %s (last /readyz: %s); its log:\n%s",
		c.Name, timeout, last, c.proc.tail(40))
}

// freePorts returns n distinct TCP ports free on 127.0.0.1 (held together
// while chosen, so they differ from each other).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeSigningKey writes a fresh ECDSA P-256 key: kube-apiserver signs
// service-account tokens with it and verifies them with its public half
// (one file serves both flags).
func writeSigningKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
