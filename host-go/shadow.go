package kubernetai

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// A shadow module (`wasm_shadow`) is fed the same state as the module
// serving and asked a share of the real queries after the client has its
// answer, off the query's path; the two answers are compared (see
// diverges). With `promote_after N`, it is swapped in by itself after N
// comparisons without a divergence.

// shadowOptions is `wasm_shadow PATH [share FRACTION] [max_rate QPS]
// [promote_after QUERIES]`, as the core checked it.
type shadowOptions struct {
	path         string
	line         uint32
	stanza       int
	share        float64 // of the queries, 1 for all
	maxRate      int     // queries per second asked of the shadow at most
	promoteAfter uint64  // 0: only an operator promotes it
}

// Defaults of `wasm_shadow`. max_rate keeps a shadow's cost a small part
// of a core's: a lookup and its comparison take some microseconds.
const (
	defaultShadowRate = 1000
	// shadowQueue is how many comparisons may wait for the shadow; past
	// it, queries are not shadowed (counted as skipped, busy).
	shadowQueue = 64
	// shadowLogBurst divergences are logged at once, then one each
	// shadowLogEvery: "the first few per minute".
	shadowLogBurst = 5
	shadowLogEvery = 12 * time.Second
)

// shadowOptions reads `wasm_shadow`; nil when it is not given. The core
// has refused values that do not parse.
func (cf *corefile) shadowOptions() *shadowOptions {
	stanza, p := cf.first("wasm_shadow")
	if p == nil || len(p.Args) == 0 {
		return nil
	}
	o := &shadowOptions{path: cf.path(p.Args[0]), line: p.Line, stanza: stanza, share: 1, maxRate: defaultShadowRate}
	for i := 1; i+1 < len(p.Args); i += 2 {
		value := p.Args[i+1]
		switch p.Args[i] {
		case "share":
			o.share, _ = strconv.ParseFloat(value, 64)
		case "max_rate":
			o.maxRate, _ = strconv.Atoi(value)
		case "promote_after":
			o.promoteAfter, _ = strconv.ParseUint(value, 10, 64)
		}
	}
	return o
}

// shadow is a module asked the same questions as the one serving.
type shadow struct {
	opts   shadowOptions
	bytes  []byte // the component, for promotion
	digest string
	engine *engine.Engine
	mod    *engine.Module

	jobs    chan shadowJob
	limit   *rate.Limiter // max_rate
	logs    *rate.Limiter // divergence log lines
	clean   atomic.Uint64 // comparisons without divergence, before the first divergence
	blocked atomic.Bool   // a divergence stopped the automatic promotion
	// closeOnce ends the shadow (a promotion, the plugin stopping);
	// closed tells feeding and offers to stop first.
	closeOnce sync.Once
	closed    atomic.Bool
	// servers are the block's `server` labels (set by start).
	servers []string
}

// shadowJob is a query the module serving answered, to ask the shadow.
type shadowJob struct {
	server  string
	query   []byte
	replies []engine.UpstreamReply
	served  engine.Outcome
}

// newShadow loads the `wasm_shadow` module beside the serving engine: a
// pool of one instance (one comparison at a time), with the serving
// engine's limits, so that its memory is bounded by `wasm_memory`. Its
// stanzas must watch what the serving module's watch: it is fed from
// their sources. nil when the option is not given or names the module
// serving (nothing to compare).
func newShadow(ctx context.Context, cf *corefile, cache *engine.Cache, serving *engine.Engine, conf engine.Configuration) (*shadow, error) {
	o := cf.shadowOptions()
	if o == nil {
		return nil, nil
	}
	fail := func(err error) error { return cf.errorAt(o.stanza, o.line, "wasm_shadow", err.Error()) }
	b, _, err := readModule(o.path)
	if err != nil {
		return nil, fail(err)
	}
	mod, err := cache.Compile(ctx, b)
	if err != nil {
		return nil, fail(err)
	}
	if mod.Digest() == serving.Module().Digest() {
		log.Infof("wasm_shadow %s: the module serving (%s): nothing to compare", o.path, short(mod.Digest()))
		_ = mod.Close(ctx)
		return nil, nil
	}
	eng, plans, err := engine.New(ctx, mod, engine.Config{
		PoolSize:      1,
		Stanzas:       cf.stanzas,
		LookupTimeout: time.Duration(conf.Runtime.WasmTimeoutNs),
		MemoryLimit:   serving.MemoryLimit(),
		Logf: func(format string, args ...any) {
			log.Warningf("wasm_shadow %s: "+format, append([]any{o.path}, args...)...)
		},
	})
	if err == nil {
		err = sameWatches(conf.Stanzas, plans.Stanzas)
		if err != nil {
			_ = eng.Close(ctx)
		}
	}
	if err != nil {
		_ = mod.Close(ctx)
		return nil, fail(err)
	}
	return &shadow{
		opts: *o, bytes: b, digest: mod.Digest(), engine: eng, mod: mod,
		jobs:  make(chan shadowJob, shadowQueue),
		limit: rate.NewLimiter(rate.Limit(o.maxRate), max(1, o.maxRate/10)),
		logs:  rate.NewLimiter(rate.Every(shadowLogEvery), shadowLogBurst),
	}, nil
}

// sameWatches says whether the shadow's stanzas watch what the serving
// module's do: the sources deliver only that.
func sameWatches(serving, shadow []engine.StanzaPlan) error {
	if len(serving) != len(shadow) {
		return fmt.Errorf("the shadow module plans %d stanzas, the module serving %d", len(shadow), len(serving))
	}
	for i := range serving {
		if !reflect.DeepEqual(serving[i].Watches, shadow[i].Watches) {
			return fmt.Errorf("the shadow module watches other objects than the module serving for stanza %d", i+1)
		}
	}
	return nil
}

// close stops the shadow for good and frees its instance and module.
func (sh *shadow) close() {
	sh.closeOnce.Do(func() {
		sh.closed.Store(true)
		ctx := context.Background()
		_ = sh.engine.Close(ctx)
		_ = sh.mod.Close(ctx)
	})
}

// offer hands a query the serving module answered to the shadow, if the
// share and the rate allow and the shadow keeps up; it never waits.
func (sh *shadow) offer(j shadowJob) {
	if sh.closed.Load() || (sh.opts.share < 1 && rand.Float64() >= sh.opts.share) {
		return
	}
	if !sh.limit.Allow() {
		shadowSkipped.WithLabelValues(j.server, "rate").Inc()
		return
	}
	select {
	case sh.jobs <- j:
	default:
		shadowSkipped.WithLabelValues(j.server, "busy").Inc()
	}
}

// run compares the queries offered until ctx ends; promote is called once
// when promote_after comparisons in a row found no divergence. The shadow
// stops when it has become the module serving (an operator renamed it
// over the `wasm` file): there is nothing left to compare.
func (sh *shadow) run(ctx context.Context, serving func() string, promote func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-sh.jobs:
			if sh.closed.Load() {
				return
			}
			if serving() == sh.digest {
				log.Infof("wasm_shadow %s: module %s now serves; the shadow stops", sh.opts.path, short(sh.digest))
				sh.close()
				return
			}
			if sh.compare(ctx, j) {
				promote()
				return
			}
		}
	}
}

// compare asks the shadow j's query and counts what it made of it; true
// when the shadow is due for promotion.
func (sh *shadow) compare(ctx context.Context, j shadowJob) bool {
	out, err := sh.engine.Lookup(ctx, j.query, j.replies)
	if errors.Is(err, engine.ErrClosed) || ctx.Err() != nil {
		return false
	}
	shadowQueries.WithLabelValues(j.server).Inc()
	countGuestFailure([]string{j.server}, "shadow", err)
	kind := diverges(j.served, out, err)
	if kind == "" {
		return sh.opts.promoteAfter > 0 && !sh.blocked.Load() && sh.clean.Add(1) == sh.opts.promoteAfter
	}
	shadowDivergences.WithLabelValues(j.server, kind).Inc()
	if sh.logs.Allow() {
		log.Warningf("wasm_shadow %s: module %s diverges (%s) on %s: serving %s | shadow %s", sh.opts.path,
			short(sh.digest), kind, questionOf(j.query), summarize(j.served, nil), summarize(out, err))
	}
	if sh.opts.promoteAfter > 0 && !sh.blocked.Swap(true) {
		for _, server := range sh.servers {
			shadowBlocked.WithLabelValues(server).Set(1)
		}
		log.Warningf("wasm_shadow %s: module %s will not be promoted by itself after a divergence (%s) "+
			"at %d clean queries of %d; promote it by renaming it over the wasm file, or fix it",
			sh.opts.path, short(sh.digest), kind, sh.clean.Load(), sh.opts.promoteAfter)
	}
	return false
}

// shadowedCore feeds the shadow every change the serving core gets, after
// it, from the same goroutine: both hold the same state.
type shadowedCore struct {
	core
	sh *shadow
}

func (c shadowedCore) Apply(stanza int, events []engine.KeyedEvent) (engine.ApplyResult, error) {
	res, err := c.core.Apply(stanza, events)
	if !c.sh.closed.Load() {
		_, _ = c.sh.engine.Apply(stanza, events)
	}
	return res, err
}

func (c shadowedCore) SetSynced(stanza int, synced bool) {
	c.core.SetSynced(stanza, synced)
	if !c.sh.closed.Load() {
		c.sh.engine.SetSynced(stanza, synced)
	}
}

func (c shadowedCore) SetHost(info engine.HostInfo) error {
	err := c.core.SetHost(info)
	if !c.sh.closed.Load() {
		_ = c.sh.engine.SetHost(info)
	}
	return err
}

// promote swaps the shadow module in as the serving one, through the
// checks a new `wasm` file goes through, and ends the shadow either way. The `wasm` file is not changed: a
// restart serves it again.
func (k *Kubernetai) promote(ctx context.Context, sh *shadow) {
	start := time.Now()
	serving := k.real.Module().Digest()
	old, err := k.real.SwapComponent(ctx, sh.bytes)
	if err != nil {
		reason := "invalid"
		var se *engine.SwapError
		if errors.As(err, &se) {
			reason = se.Reason
		}
		// Refused as a new `wasm` file would be; the shadow stops, as a
		// divergence would stop its promotion.
		k.refuse(sh.opts.path+" (wasm_shadow promotion)", reason, err, serving)
		sh.close()
		for _, server := range sh.servers {
			shadowBlocked.WithLabelValues(server).Set(1)
		}
		return
	}
	sh.close()
	k.swapped(old, serving, time.Since(start))
	releaseMemory()
	for _, server := range k.metricServers() {
		shadowPromotions.WithLabelValues(server).Inc()
	}
	log.Infof("wasm_shadow %s: promoted module %s after %d queries without a divergence (was %s); the wasm file "+
		"is unchanged: rename the shadow over it to keep serving %s after a restart",
		sh.opts.path, short(sh.digest), sh.opts.promoteAfter, short(serving), short(sh.digest))
}

// startShadow runs the comparisons while the plugin runs.
func (k *Kubernetai) startShadow(ctx context.Context) {
	sh := k.shadow
	if sh == nil {
		return
	}
	sh.servers = k.metricServers()
	for _, server := range sh.servers {
		shadowBlocked.WithLabelValues(server).Set(0)
	}
	log.Infof("wasm_shadow %s: module %s answers %g%% of the queries (at most %d a second) beside module %s%s",
		sh.opts.path, short(sh.digest), sh.opts.share*100, sh.opts.maxRate, short(k.real.Module().Digest()), promotion(sh.opts))
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		sh.run(ctx, func() string { return k.real.Module().Digest() }, func() { k.promote(ctx, sh) })
	}()
}

func promotion(o shadowOptions) string {
	if o.promoteAfter == 0 {
		return ""
	}
	return fmt.Sprintf("; promoted after %d queries without a divergence", o.promoteAfter)
}
