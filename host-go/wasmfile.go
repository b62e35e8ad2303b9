package kubernetai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// modulePoll is how often the `wasm` file is checked for a new version.
// A version is read once it has looked the same (size, modification time,
// file) on two checks in a row, so a file still being written is not.
var modulePoll = time.Second

// moduleRefs counts, per server and digest, the engines serving a module
// there: the module_info gauge is 1 while any does (a reload's old and new
// instances may serve the same one on the same server, and server blocks
// sharing a server each run their own engine).
var moduleRefs = struct {
	sync.Mutex
	n map[[2]string]int
}{n: map[[2]string]int{}}

// moduleServing counts an engine of the block served by servers starting
// (delta 1) or ending (-1) to serve the module of digest.
func moduleServing(servers []string, digest string, delta int) {
	moduleRefs.Lock()
	defer moduleRefs.Unlock()
	for _, server := range servers {
		key := [2]string{server, digest}
		moduleRefs.n[key] += delta
		if moduleRefs.n[key] > 0 {
			moduleInfo.WithLabelValues(server, digest, engine.WITInterface).Set(1)
			continue
		}
		delete(moduleRefs.n, key)
		moduleInfo.DeleteLabelValues(server, digest, engine.WITInterface)
	}
}

// moduleFile is the `wasm` file as last seen.
type moduleFile struct {
	path string
	// seen is the file at the previous check; handled the version last
	// loaded or refused, which is not tried again.
	seen, handled os.FileInfo
}

func sameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// readModule reads the `wasm` file with its version, as setup loads it.
func readModule(path string) ([]byte, os.FileInfo, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(path)
	return b, before, err
}

// watchModule swaps the module the engine runs for each new version of
// the `wasm` file, until ctx is done.
func (k *Kubernetai) watchModule(ctx context.Context, f *moduleFile) {
	tick := time.NewTicker(modulePoll)
	defer tick.Stop()
	var statErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fi, err := os.Stat(f.path)
		if err != nil {
			if err.Error() != statErr { // once per distinct problem
				log.Warningf("wasm %s: %v; still serving module %s", f.path, err, short(k.real.Module().Digest()))
				statErr = err.Error()
			}
			f.seen = nil
			continue
		}
		statErr = ""
		stable := sameVersion(fi, f.seen)
		f.seen = fi
		if !stable || sameVersion(fi, f.handled) {
			continue
		}
		k.tryModule(ctx, f, fi)
	}
}

// tryModule reads a stable new version of the `wasm` file and swaps it
// in, or refuses it.
func (k *Kubernetai) tryModule(ctx context.Context, f *moduleFile, fi os.FileInfo) {
	start := time.Now()
	b, err := os.ReadFile(f.path)
	if after, serr := os.Stat(f.path); err == nil && (serr != nil || !sameVersion(fi, after)) {
		f.seen = nil // changed while read: wait until it is stable again
		return
	}
	f.handled = fi
	serving := k.real.Module().Digest()
	if err != nil {
		k.refuse(f.path, "read", err, serving)
		return
	}
	sum := sha256.Sum256(b)
	if digest := hex.EncodeToString(sum[:]); digest == serving {
		return // touched or copied again: nothing new
	}
	old, err := k.real.SwapComponent(ctx, b)
	if err != nil {
		reason := "invalid"
		var se *engine.SwapError
		if errors.As(err, &se) {
			reason = se.Reason
		}
		k.refuse(f.path, reason, err, serving)
		return
	}
	took := k.swapped(old, serving, time.Since(start))
	log.Infof("wasm %s: now serving module %s (was %s); swapped in %v", f.path, short(k.real.Module().Digest()),
		short(serving), took.Round(time.Microsecond))
	releaseMemory() // last: the metrics above follow the switch at once
}

// swapped closes the module a swap replaced (serving was its digest) and
// counts the swap, which took took until then; it returns the time the
// swap took in all.
func (k *Kubernetai) swapped(old *engine.Module, serving string, took time.Duration) time.Duration {
	now := k.real.Module().Digest()
	_ = old.Close(context.Background())
	servers := k.metricServers()
	moduleServing(servers, now, 1)
	moduleServing(servers, serving, -1)
	k.countCacheLookup()
	for _, server := range servers {
		swaps.WithLabelValues(server).Inc()
		swapDuration.WithLabelValues(server).Observe(took.Seconds())
	}
	return took
}

func (k *Kubernetai) refuse(path, reason string, err error, serving string) {
	for _, server := range k.metricServers() {
		swapsRefused.WithLabelValues(server, reason).Inc()
	}
	if se := (*engine.SwapError)(nil); errors.As(err, &se) {
		err = se.Err // its reason is in the line already
	}
	log.Errorf("wasm %s: refused (%s): %v; still serving module %s", path, reason, err, short(serving))
}

// countCacheLookup counts what compiling the module now serving made of
// `wasm_cache`, if it was given.
func (k *Kubernetai) countCacheLookup() {
	result := k.real.Module().CacheResult()
	if result == "" {
		return
	}
	for _, server := range k.metricServers() {
		wasmCacheLookups.WithLabelValues(server, result).Inc()
	}
}

// short is a digest's first 12 hex digits, for logs.
func short(digest string) string { return digest[:min(12, len(digest))] }
