package kubernetai

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
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
