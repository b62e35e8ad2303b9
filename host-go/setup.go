package kubernetai

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/engine"
	"github.com/kubernetai/kubernetai/host-go/feed"
)

const pluginName = "kubernetai"

var log = clog.NewWithPlugin(pluginName)

// defaultComponent is the DNS core this plugin was built with: a CoreDNS
// with kubernetai answers with no file besides its Corefile. `make embed`
// refreshes it from plugin-rs.
//
//go:embed kubernetai.wasm
var defaultComponent []byte

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	k, err := fromCorefile(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	c.OnStartup(func() error {
		// The transfer plugin sends our NOTIFYs to its secondaries.
		if t, ok := dnsserver.GetConfig(c).Handler("transfer").(*transfer.Transfer); ok {
			k.notifier.attach(t)
		}
		restarts.started(k)
		k.servers = serverLabels(c)
		return k.start(listenIPs(c))
	})
	// On a restart (the reload plugin), this instance's OnRestart runs
	// first, then the new instance's setup and OnStartup (which attaches
	// to this one's live feeds), then this one's OnShutdown; if the new
	// instance fails to start, OnRestartFailed instead (see restarts).
	c.OnRestart(restarts.begin)
	c.OnRestartFailed(restarts.failed)
	c.OnRestartFailed(k.reclaimSynced)
	c.OnShutdown(func() error {
		restarts.succeeded()
		return k.stop()
	})
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		k.Next = next
		return k
	})
	return nil
}

// fromCorefile parses the server block's kubernetai stanzas, loads the
// component, configures the core (which validates every DNS option) and
// prepares each stanza's source. Everything that can be wrong with a
// Corefile is found here, before CoreDNS starts.
func fromCorefile(c *caddy.Controller) (*Kubernetai, error) {
	cfg, err := parseCorefile(c)
	if err != nil {
		return nil, err
	}
	mod, file, err := loadModule(cfg)
	if err != nil {
		return nil, err
	}
	stanzas := make([]engine.Stanza, len(cfg.stanzas))
	for i, s := range cfg.stanzas {
		stanzas[i] = engine.Stanza{Zones: s.zones, Properties: s.props, Line: uint32(s.line)}
	}
	eng, plans, err := engine.New(context.Background(), mod, engine.Config{
		PoolSize:      cfg.pool,
		Stanzas:       stanzas,
		LookupTimeout: cfg.wasmTimeout,
		Logf:          log.Warningf,
	})
	if err != nil {
		_ = mod.Close(context.Background())
		var ce *engine.ConfigError
		if errors.As(err, &ce) {
			return nil, configError(cfg.file, int(ce.Line), int(ce.Stanza), ce.Property, ce.Reason)
		}
		return nil, fmt.Errorf("%s: starting the DNS core: %w", cfg.file, err)
	}
	interval := cfg.notifyInterval
	if interval == 0 {
		interval = defaultNotifyInterval
	}
	k := &Kubernetai{engine: eng, real: eng, wasm: file, notifier: newNotifier(interval), search: searchList()}
	owner := map[string]int{}
	for i := len(plans) - 1; i >= 0; i-- {
		for _, z := range plans[i].Zones {
			owner[z] = i
		}
	}
	for i, s := range cfg.stanzas {
		st, err := newStanza(cfg, s, plans[i], eng)
		if err != nil {
			_ = eng.Close(context.Background())
			_ = mod.Close(context.Background())
			return nil, err
		}
		st.notifier, st.owns = k.notifier, map[string]bool{}
		for z, o := range owner {
			st.owns[z] = o == i
		}
		k.stanzas = append(k.stanzas, st)
	}
	return k, nil
}

// loadModule compiles the component named by `wasm`, or the embedded one,
// with the `wasm_memory` limit. For a `wasm` file, it also returns the
// file's version as read, which the plugin then watches for new ones.
func loadModule(cfg *serverConfig) (*engine.Module, *moduleFile, error) {
	bytes, name := defaultComponent, "the embedded component"
	var file *moduleFile
	if cfg.wasm != "" {
		b, fi, err := readModule(cfg.wasm)
		if err != nil {
			return nil, nil, configError(cfg.file, cfg.wasmLine, stanzaOf(cfg, cfg.wasmLine), "wasm", err.Error())
		}
		bytes, name = b, cfg.wasm
		file = &moduleFile{path: cfg.wasm, seen: fi, handled: fi}
	}
	mod, err := engine.Compile(context.Background(), bytes, engine.WithMemoryLimit(cfg.wasmMemory))
	if err != nil {
		if cfg.wasm == "" {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return nil, nil, configError(cfg.file, cfg.wasmLine, stanzaOf(cfg, cfg.wasmLine), "wasm", fmt.Sprintf("%s: %v", name, err))
	}
	return mod, file, nil
}

// stanzaOf finds the stanza holding a Corefile line.
func stanzaOf(cfg *serverConfig, line int) int {
	for i := len(cfg.stanzas) - 1; i >= 0; i-- {
		if cfg.stanzas[i].line <= line {
			return i
		}
	}
	return 0
}

// start runs every stanza's source, then waits (up to the longest
// startup_timeout) for all of them to deliver their initial state, as the
// kubernetes plugin waits for its first sync.
func (k *Kubernetai) start(ips []string) error {
	if err := k.engine.SetHost(engine.HostInfo{LocalIPs: ips, Search: k.search}); err != nil {
		log.Errorf("telling the core the listening addresses: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	var longest time.Duration
	for _, s := range k.stanzas {
		s.servers = k.metricServers()
		s.claimSynced()
		run := func(ctx context.Context) error { return s.source.Run(ctx, s) }
		// A live source is attached now, before OnStartup returns: on a
		// reload, to the feed the old instance still holds, which the old
		// instance's OnShutdown then does not stop.
		if a, ok := s.source.(attacher); ok {
			att, err := a.Attach(s)
			if err != nil {
				log.Errorf("stanza %d: %s not started: %v", s.index+1, s.source, err)
				continue
			}
			run = att.Run
		}
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				log.Errorf("stanza %d: %s stopped: %v", s.index+1, s.source, err)
			}
		}()
		longest = max(longest, s.cfg.startupTimeout)
	}
	if k.real != nil {
		k.started = true
		moduleServing(k.real.Module().Digest(), 1)
		if k.wasm != nil {
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				k.watchModule(ctx, k.wasm)
			}()
		}
	}
	k.waitSynced(longest)
	return nil
}

// attacher is a source whose running feed can be shared (feed.Live).
type attacher interface {
	Attach(sink feed.Sink) (*feed.Attachment, error)
}

func (k *Kubernetai) waitSynced(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	nextLog := time.Now().Add(500 * time.Millisecond)
	for !k.Ready() {
		if time.Now().After(deadline) {
			log.Warning("starting server with unsynced Kubernetes data")
			return
		}
		if time.Now().After(nextLog) {
			log.Info("waiting for Kubernetes data before starting server")
			nextLog = time.Now().Add(500 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (k *Kubernetai) stop() error {
	if k.cancel != nil {
		k.cancel()
	}
	k.wg.Wait()
	for _, s := range k.stanzas {
		s.releaseSynced()
	}
	ctx := context.Background()
	if err := k.engine.Close(ctx); err != nil {
		log.Warningf("closing the DNS core: %v", err)
	}
	if k.real == nil {
		return nil
	}
	// The watcher has stopped: the module serving last is the one to close.
	mod := k.real.Module()
	if k.started {
		moduleServing(mod.Digest(), -1)
	}
	return mod.Close(ctx)
}

// listenIPs returns the addresses CoreDNS serves this block on, without
// loopback ones: the addresses of ns.dns.<zone>.
func listenIPs(c *caddy.Controller) []string {
	hosts := dnsserver.GetConfig(c).ListenHosts
	if len(hosts) == 0 || hosts[0] == "" {
		hosts = nil
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil
		}
		for _, a := range addrs {
			hosts = append(hosts, a.String())
		}
	}
	var ips []string
	for _, h := range hosts {
		ip := net.ParseIP(h)
		if ip == nil {
			ip, _, _ = net.ParseCIDR(h)
		}
		if ip != nil && !ip.IsLoopback() {
			ips = append(ips, ip.String())
		}
	}
	return ips
}

// searchList is the host's resolv.conf search list, which ends autopath
// search paths, as the kubernetes plugin reads it.
func searchList() []string {
	rc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	plugin.Zones(rc.Search).Normalize()
	return rc.Search
}

// core is what the plugin asks of the DNS core. *engine.Engine is the
// real one; tests give the plugin cores with chosen answers.
type core interface {
	Lookup(ctx context.Context, query []byte, replies []engine.UpstreamReply) (engine.Outcome, error)
	Transfer(ctx context.Context, zone string, serial uint32) ([][]byte, bool, error)
	AutoPath(ctx context.Context, qname, client string) ([]string, bool, error)
	Metadata(ctx context.Context, qname, client string) ([]engine.MetadataEntry, error)
	Apply(stanza int, events []engine.Event) (engine.ApplyReport, error)
	SetSynced(stanza int, synced bool)
	SetHost(info engine.HostInfo) error
	Close(ctx context.Context) error
}

// Kubernetai is the plugin: the stanza chain of one server block.
type Kubernetai struct {
	Next   plugin.Handler
	engine core
	// real is engine when it is the real one (tests give other cores):
	// it swaps modules, and the last one it ran is closed with it.
	real *engine.Engine
	// wasm is the `wasm` file, watched for new versions; nil when the
	// embedded component serves.
	wasm     *moduleFile
	started  bool
	stanzas  []*stanza
	notifier *notifier
	search   []string
	// servers are the `server` labels of the servers serving this block
	// (set at startup).
	servers []string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// reclaimSynced runs after a failed reload (after restarts.failed): the
// failed instance's stanzas had taken over this one's `synced` series,
// and this one serves on, so it shows its own state there again.
func (k *Kubernetai) reclaimSynced() error {
	for _, s := range k.stanzas {
		s.claimSynced()
	}
	return nil
}

// metricServers are the `server` labels of the stanzas' metrics. Outside
// a CoreDNS server (in tests) queries carry no server, which
// metrics.WithServer gives as "".
func (k *Kubernetai) metricServers() []string {
	if len(k.servers) == 0 {
		return []string{""}
	}
	return k.servers
}

// Name implements plugin.Handler.
func (k *Kubernetai) Name() string { return pluginName }

// Ready implements the ready plugin's Readiness: every stanza has
// delivered its initial state.
func (k *Kubernetai) Ready() bool {
	for _, s := range k.stanzas {
		if !s.synced.Load() {
			return false
		}
	}
	return true
}
