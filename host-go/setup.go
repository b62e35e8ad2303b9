package kubernetai

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"time"

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

// fromCorefile reads the server block's kubernetai stanzas, loads the
// module that is to read them, has the core configure them (it validates
// every option) and prepares each stanza's source. Everything that can be
// wrong with a Corefile is found here, before CoreDNS starts.
func fromCorefile(c *caddy.Controller) (*Kubernetai, error) {
	cf := readCorefile(c)
	ctx := context.Background()
	mod, file, rt, err := loadCore(ctx, cf)
	if err != nil {
		return nil, err
	}
	eng, conf, err := engine.New(ctx, mod, engine.Config{
		PoolSize:      int(rt.Pool),
		Stanzas:       cf.stanzas,
		LookupTimeout: time.Duration(rt.WasmTimeoutNs),
		Logf:          log.Warningf,
	})
	if err != nil {
		_ = mod.Close(ctx)
		return nil, cf.coreError(err)
	}
	k := &Kubernetai{
		engine: eng, real: eng, wasm: file, search: searchList(),
		notifier: newNotifier(time.Duration(rt.NotifyIntervalNs)),
	}
	if err := k.addStanzas(cf, conf.Stanzas); err != nil {
		_ = eng.Close(ctx)
		_ = mod.Close(ctx)
		return nil, err
	}
	return k, nil
}

// loadCore compiles the module the `wasm` option names, or the embedded
// one, and has it read the stanzas; if the `wasm_memory` the core reads
// differs from the limit the module was compiled with, it compiles it
// again (wazero applies the limit when compiling). For a `wasm` file, it
// also returns the file's version as read, which the plugin then watches
// for new ones.
func loadCore(ctx context.Context, cf *corefile) (*engine.Module, *moduleFile, engine.Runtime, error) {
	bytes, file, err := cf.module()
	if err != nil {
		return nil, nil, engine.Runtime{}, err
	}
	mod, err := engine.Compile(ctx, bytes)
	if err != nil {
		return nil, nil, engine.Runtime{}, cf.moduleError(err)
	}
	conf, err := engine.ReadConfiguration(ctx, mod, cf.stanzas)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, nil, engine.Runtime{}, cf.coreError(err)
	}
	if limit := conf.Runtime.WasmMemory; limit/pageSize != mod.MemoryLimitBytes()/pageSize {
		_ = mod.Close(ctx)
		if mod, err = engine.Compile(ctx, bytes, engine.WithMemoryLimit(limit)); err != nil {
			return nil, nil, engine.Runtime{}, fmt.Errorf("%s: wasm_memory of %d bytes: %w", cf.file, limit, err)
		}
	}
	return mod, file, conf.Runtime, nil
}

// pageSize is the unit of wasm linear memory, and of its limit.
const pageSize = 64 << 10

// module reads the `wasm` file, or returns the embedded component.
func (cf *corefile) module() ([]byte, *moduleFile, error) {
	path := cf.wasmPath()
	if path == "" {
		return defaultComponent, nil, nil
	}
	b, fi, err := readModule(path)
	if err != nil {
		return nil, nil, cf.errorAt(cf.wasmStanza, cf.wasm.Line, "wasm", err.Error())
	}
	return b, &moduleFile{path: path, seen: fi, handled: fi}, nil
}

// moduleError reports a module Compile refuses: at the `wasm` option, or
// for the embedded component, which the plugin was built with.
func (cf *corefile) moduleError(err error) error {
	if path := cf.wasmPath(); path != "" {
		return cf.errorAt(cf.wasmStanza, cf.wasm.Line, "wasm", fmt.Sprintf("%s: %v", path, err))
	}
	return fmt.Errorf("the embedded component: %w", err)
}

// addStanzas makes the stanzas of the plans, each with its source, and
// tells each which zones it is the first to serve (for NOTIFY).
func (k *Kubernetai) addStanzas(cf *corefile, plans []engine.StanzaPlan) error {
	if len(plans) != len(cf.stanzas) {
		return fmt.Errorf("%s: the core planned %d stanzas of %d", cf.file, len(plans), len(cf.stanzas))
	}
	owner := map[string]int{}
	for i := len(plans) - 1; i >= 0; i-- {
		for _, z := range plans[i].Zones {
			owner[z] = i
		}
	}
	for i, plan := range plans {
		st, err := newStanza(cf, i, plan, k.engine)
		if err != nil {
			return err
		}
		st.notifier, st.owns = k.notifier, map[string]bool{}
		for z, o := range owner {
			st.owns[z] = o == i
		}
		k.stanzas = append(k.stanzas, st)
	}
	return nil
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
