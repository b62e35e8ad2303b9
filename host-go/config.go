package kubernetai

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	meta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// defaultStartupTimeout is how long CoreDNS waits for a stanza's first
// sync before serving anyway, as the kubernetes plugin's.
const defaultStartupTimeout = 5 * time.Second

// serverConfig is every kubernetai stanza of one server block.
type serverConfig struct {
	file    string
	root    string // the server block's `root`, for relative paths
	keys    []string
	stanzas []*stanzaConfig
	// wasm is a component file to load instead of the embedded one.
	wasm     string
	wasmLine int
	// pool is the number of instances; 0 means one per CPU.
	pool int
	// wasmTimeout bounds each guest call on the query path (0: the
	// engine's default); wasmMemory caps each instance's linear memory in
	// bytes (0: the engine's default).
	wasmTimeout time.Duration
	wasmMemory  uint64
	// notifyInterval is the least time between two NOTIFYs for a zone.
	notifyInterval time.Duration
}

// stanzaConfig is one kubernetai block: what the core validates (every
// property) and what the host interprets itself (sources, connections).
type stanzaConfig struct {
	index int
	line  int
	zones []string
	props []engine.Property

	snapshot        string
	snapshotLine    int
	startupTimeout  time.Duration
	labels          labels.Selector
	namespaceLabels labels.Selector
	// Connection options, for live API servers.
	endpoint    string
	tls         []string
	kubeconfig  string
	kubecontext string
	qps         float32
	burst       int
	maxInflight int
	liveLine    int
}

// configError names where a Corefile went wrong, in CoreDNS's format.
func configError(file string, line, stanza int, property, reason string) error {
	where := fmt.Sprintf("stanza %d", stanza+1)
	if property != "" {
		where += ": " + property
	}
	return fmt.Errorf("%s:%d - Error during parsing: %s: %s", file, line, where, reason)
}

// parseCorefile reads every kubernetai block of the server block. Only the
// options the host owns are interpreted here; the core validates the rest
// when the engine is configured.
func parseCorefile(c *caddy.Controller) (*serverConfig, error) {
	cfg := &serverConfig{file: c.File(), keys: c.ServerBlockKeys}
	if conf := dnsserver.GetConfig(c); conf != nil {
		cfg.root = conf.Root
	}
	for c.Next() {
		s := &stanzaConfig{index: len(cfg.stanzas), line: c.Line(), zones: c.RemainingArgs()}
		if len(s.zones) == 0 {
			s.zones = append(s.zones, cfg.keys...)
		}
		s.startupTimeout = defaultStartupTimeout
		for c.NextBlock() {
			p := engine.Property{Name: c.Val(), Line: uint32(c.Line())}
			p.Args = c.RemainingArgs()
			s.props = append(s.props, p)
			if err := cfg.hostProperty(s, p); err != nil {
				return nil, configError(cfg.file, int(p.Line), s.index, p.Name, err.Error())
			}
		}
		cfg.stanzas = append(cfg.stanzas, s)
	}
	return cfg, nil
}

// hostProperty interprets the properties the host owns; others are left
// to the core.
func (cfg *serverConfig) hostProperty(s *stanzaConfig, p engine.Property) error {
	switch p.Name {
	case "snapshot":
		path, err := oneArg(p)
		s.snapshot, s.snapshotLine = cfg.path(path), int(p.Line)
		return err
	case "wasm":
		if cfg.wasm != "" {
			return fmt.Errorf("given more than once in this server block (first on line %d)", cfg.wasmLine)
		}
		path, err := oneArg(p)
		cfg.wasm, cfg.wasmLine = cfg.path(path), int(p.Line)
		return err
	case "pool":
		n, err := intArg(p, 1)
		if cfg.pool != 0 {
			return fmt.Errorf("given more than once in this server block")
		}
		cfg.pool = n
		return err
	case "wasm_timeout":
		if cfg.wasmTimeout != 0 {
			return fmt.Errorf("given more than once in this server block")
		}
		d, err := durationArg(p)
		if err == nil && (d < minWasmTimeout || d > maxWasmTimeout) {
			err = fmt.Errorf("%s is out of range: want between %s and %s", d, minWasmTimeout, maxWasmTimeout)
		}
		cfg.wasmTimeout = d
		return err
	case "wasm_memory":
		if cfg.wasmMemory != 0 {
			return fmt.Errorf("given more than once in this server block")
		}
		v, err := oneArg(p)
		if err != nil {
			return err
		}
		cfg.wasmMemory, err = parseSize(v)
		return err
	case "notify_interval":
		if cfg.notifyInterval != 0 {
			return fmt.Errorf("given more than once in this server block")
		}
		d, err := durationArg(p)
		if err == nil && d <= 0 {
			err = fmt.Errorf("must be longer than 0s")
		}
		cfg.notifyInterval = d
		return err
	case "startup_timeout":
		d, err := durationArg(p)
		s.startupTimeout = d
		return err
	case "labels", "namespace_labels":
		sel, err := selector(p)
		if p.Name == "labels" {
			s.labels = sel
		} else {
			s.namespaceLabels = sel
		}
		return err
	default:
		return cfg.connectionProperty(s, p)
	}
}

// connectionProperty interprets the options for live API servers.
func (cfg *serverConfig) connectionProperty(s *stanzaConfig, p engine.Property) error {
	var err error
	switch p.Name {
	case "endpoint":
		if len(p.Args) == 0 {
			return fmt.Errorf("needs a URL")
		}
		// The kubernetes plugin still takes several URLs, and uses the
		// first: so does this one, saying so.
		s.endpoint = p.Args[0]
		if len(p.Args) > 1 {
			log.Warningf("%s:%d: stanza %d: endpoint: only the first URL, %s, is used; ignoring %s",
				cfg.file, p.Line, s.index+1, p.Args[0], strings.Join(p.Args[1:], " "))
		}
	case "tls":
		if len(p.Args) != 3 {
			return fmt.Errorf("needs CERT KEY CACERT, got %d values", len(p.Args))
		}
		s.tls = []string{cfg.path(p.Args[0]), cfg.path(p.Args[1]), cfg.path(p.Args[2])}
	case "kubeconfig":
		if len(p.Args) != 1 && len(p.Args) != 2 {
			return fmt.Errorf("needs FILE [CONTEXT], got %d values", len(p.Args))
		}
		s.kubeconfig = cfg.path(p.Args[0])
		if len(p.Args) == 2 {
			s.kubecontext = p.Args[1]
		}
	case "apiserver_qps":
		var v string
		if v, err = oneArg(p); err == nil {
			var f float64
			f, err = strconv.ParseFloat(v, 32)
			if err != nil || f < 0 {
				return fmt.Errorf("%q is not a number >= 0", v)
			}
			s.qps = float32(f)
		}
	case "apiserver_burst":
		s.burst, err = intArg(p, 0)
	case "apiserver_max_inflight":
		s.maxInflight, err = intArg(p, 0)
	default:
		return nil
	}
	if s.liveLine == 0 {
		s.liveLine = int(p.Line)
	}
	return err
}

// path resolves a relative path as CoreDNS's file plugin does: against the
// server block's `root` when one is set.
func (cfg *serverConfig) path(p string) string {
	if p == "" || filepath.IsAbs(p) || cfg.root == "" {
		return p
	}
	return filepath.Join(cfg.root, p)
}

func oneArg(p engine.Property) (string, error) {
	if len(p.Args) != 1 {
		return "", fmt.Errorf("takes one value, got %d", len(p.Args))
	}
	return p.Args[0], nil
}

func durationArg(p engine.Property) (time.Duration, error) {
	v, err := oneArg(p)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 5s", v)
	}
	return d, nil
}

// Bounds of wasm_timeout and wasm_memory. A call shorter than a
// millisecond cannot be told from a slow machine; a call longer than a
// minute holds a query's instance for longer than any client waits. The
// core needs a few MiB of its own before any object; wasm32 addresses 4
// GiB at most.
const (
	minWasmTimeout = time.Millisecond
	maxWasmTimeout = time.Minute
	minWasmMemory  = 4 << 20
	maxWasmMemory  = 4 << 30
)

// parseSize reads a memory size: bytes, or a number with a binary suffix
// Ki, Mi, Gi (optionally followed by B: 64Mi, 256MiB), or a decimal one
// K, M, G (1000s, as Kubernetes quantities read them).
func parseSize(v string) (uint64, error) {
	units := []struct {
		suffix string
		factor uint64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9},
		{"B", 1},
	}
	num, factor := v, uint64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a size such as 64Mi or 256MiB", v)
	}
	if n > maxWasmMemory/factor || n*factor < minWasmMemory || n*factor > maxWasmMemory {
		return 0, fmt.Errorf("%q is out of range: want between 4Mi and 4Gi", v)
	}
	return n * factor, nil
}

func intArg(p engine.Property, min int) (int, error) {
	v, err := oneArg(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, fmt.Errorf("%q is not an integer >= %d", v, min)
	}
	return n, nil
}

// selector parses a label selector as the kubernetes plugin does (all
// arguments joined), into the form the API server applies.
func selector(p engine.Property) (labels.Selector, error) {
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("needs a label selector")
	}
	text := strings.Join(p.Args, " ")
	ls, err := meta.ParseToLabelSelector(text)
	if err != nil {
		return nil, fmt.Errorf("unable to parse label selector %q: %v", text, err)
	}
	sel, err := meta.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("unable to use label selector %q: %v", text, err)
	}
	return sel, nil
}
