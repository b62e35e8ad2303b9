package kubernetai

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/transfer"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

const pluginName = "kubernetai"

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	k, err := fromCorefile(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	c.OnStartup(func() error {
		k.servers = serverLabels(c)
		// The transfer plugin sends our NOTIFYs to its secondaries.
		if t, ok := dnsserver.GetConfig(c).Handler("transfer").(*transfer.Transfer); ok {
			k.notifier.attach(t, k.metricServers())
		}
		restarts.started(k)
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
	mod, file, cache, err := loadCore(ctx, cf)
	if err != nil {
		return nil, err
	}
	conf, err := cf.configure(ctx, mod)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	rt := conf.Runtime
	eng, conf, err := engine.New(ctx, mod, engine.Config{
		PoolSize:      int(rt.Pool),
		Stanzas:       cf.stanzas,
		LookupTimeout: time.Duration(rt.WasmTimeoutNs),
		MemoryLimit:   rt.WasmMemory,
		Cache:         cache,
		Logf:          log.Warningf,
	})
	if err != nil {
		_ = mod.Close(ctx)
		if errors.Is(err, engine.ErrMemoryLimit) {
			return nil, cf.optionError("wasm_memory", err)
		}
		return nil, cf.coreError(err)
	}
	k := &Kubernetai{
		engine: eng, real: eng, wasm: file, search: searchList(),
		notifier: newNotifier(time.Duration(rt.NotifyIntervalNs)),
	}
	if k.shadow, err = newShadow(ctx, cf, cache, eng, conf); err != nil {
		_ = eng.Close(ctx)
		_ = mod.Close(ctx)
		return nil, err
	}
	if k.shadow != nil {
		k.engine = shadowedCore{core: eng, sh: k.shadow}
	}
	if err := k.addStanzas(cf, conf.Stanzas); err != nil {
		_ = k.engine.Close(ctx)
		_ = mod.Close(ctx)
		if k.shadow != nil {
			k.shadow.close()
		}
		return nil, err
	}
	return k, nil
}

// addStanzas makes the stanzas of the plans, each with its source and
// the notifier that hears its zones' serials.
func (k *Kubernetai) addStanzas(cf *corefile, plans []engine.StanzaPlan) error {
	if len(plans) != len(cf.stanzas) {
		return fmt.Errorf("%s: the core planned %d stanzas of %d", cf.file, len(plans), len(cf.stanzas))
	}
	for i, plan := range plans {
		st, err := newStanza(cf, i, plan, k.engine)
		if err != nil {
			return err
		}
		st.notifier = k.notifier
		if k.real != nil {
			st.memoryLimit = k.real.MemoryLimit()
		}
		k.stanzas = append(k.stanzas, st)
	}
	return nil
}
