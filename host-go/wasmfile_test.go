package kubernetai

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	golog "log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// testGuestFile is the test guest component, for tests that need a module
// other than the embedded one.
func testGuestFile(t *testing.T) []byte {
	t.Helper()
	path := os.Getenv("KUBERNETAI_TEST_GUEST")
	if path == "" {
		path = filepath.Join("..", "target", "components", "test-guest.wasm")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("test guest missing (%v): `make target/components/test-guest.wasm` or set KUBERNETAI_TEST_GUEST", err)
	}
	return b
}

// withCustomSection is the same component with one more custom section:
// another file, another digest, the same behaviour.
func withCustomSection(component []byte, payload string) []byte {
	out := append([]byte(nil), component...)
	body := append([]byte{byte(len("swap-test"))}, "swap-test"+payload...)
	return append(append(out, 0, byte(len(body))), body...)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replaceFile writes b next to path and renames it over path, as an
// operator deploys a module.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The `wasm` file is watched: new versions are swapped in, broken or
// half-written ones refused, and the module serving goes on serving.
func TestWatchModule(t *testing.T) {
	saved := modulePoll
	modulePoll = 10 * time.Millisecond
	t.Cleanup(func() { modulePoll = saved })

	guest := testGuestFile(t)
	dir := t.TempDir()
	wasm, snap := filepath.Join(dir, "core.wasm"), filepath.Join(dir, "cluster.yaml")
	if err := os.WriteFile(snap, []byte("apiVersion: v1\nkind: List\nitems: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wasm, guest, 0o644); err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", "kubernetai cluster.local {\n snapshot "+snap+"\n wasm "+wasm+"\n pool 2\n}")
	c.ServerBlockKeys = []string{"cluster.local.:53"}
	k, err := fromCorefile(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.stop() })
	serving := func() string { return k.real.Module().Digest() }
	info := func(digest string) float64 {
		return testutil.ToFloat64(moduleInfo.WithLabelValues("", digest, engine.WITInterface))
	}
	if serving() != digestOf(guest) || info(digestOf(guest)) != 1 {
		t.Fatalf("serving %s (module_info %v), want %s", serving(), info(digestOf(guest)), digestOf(guest))
	}

	// A file that is not a module is refused.
	refused := func(reason string) float64 { return testutil.ToFloat64(swapsRefused.WithLabelValues("", reason)) }
	before := refused("not_wasm")
	replaceFile(t, wasm, []byte("not a module\n"))
	waitUntil(t, "the refusal", func() bool { return refused("not_wasm") == before+1 })
	if serving() != digestOf(guest) {
		t.Fatal("a refused file serves")
	}

	// A new version swaps in.
	v2 := withCustomSection(guest, "2")
	swapsBefore := testutil.ToFloat64(swaps.WithLabelValues(""))
	replaceFile(t, wasm, v2)
	waitUntil(t, "the swap to v2", func() bool { return serving() == digestOf(v2) })
	// The counter follows the switch a moment later.
	waitUntil(t, "swaps_total", func() bool { return testutil.ToFloat64(swaps.WithLabelValues("")) >= swapsBefore+1 })
	if got := testutil.ToFloat64(swaps.WithLabelValues("")); got != swapsBefore+1 {
		t.Errorf("swaps_total moved by %v, want 1", got-swapsBefore)
	}
	waitUntil(t, "module_info", func() bool { return info(digestOf(v2)) == 1 })
	if n := testutil.CollectAndCount(moduleInfo); n != 1 {
		t.Errorf("module_info has %d series, want 1 (the serving module)", n)
	}

	// Written in place in two steps: the first half is refused as
	// malformed, never loaded; the whole file then swaps in.
	v3 := withCustomSection(guest, "3")
	before = refused("malformed")
	if err := os.WriteFile(wasm, v3[:len(v3)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the refusal of the half-written file", func() bool { return refused("malformed") == before+1 })
	if serving() != digestOf(v2) {
		t.Fatal("a half-written file serves")
	}
	f, err := os.OpenFile(wasm, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(v3[len(v3)/2:]); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	waitUntil(t, "the swap to v3", func() bool { return serving() == digestOf(v3) })
	waitUntil(t, "swaps_total after v3", func() bool { return testutil.ToFloat64(swaps.WithLabelValues("")) >= swapsBefore+2 })

	// The same bytes again (a touch, a copy) are no swap.
	swapsBefore = testutil.ToFloat64(swaps.WithLabelValues(""))
	replaceFile(t, wasm, v3)
	time.Sleep(20 * modulePoll)
	if got := testutil.ToFloat64(swaps.WithLabelValues("")); got != swapsBefore {
		t.Errorf("rewriting the serving module swapped %v times", got-swapsBefore)
	}
	if serving() != digestOf(v3) {
		t.Error("serving another module")
	}
}

// With `wasm_cache`, a restart and a swap back to a module served before
// read the module's machine code from the cache; an entry spoilt since
// is compiled again, with a warning, and never stops CoreDNS.
func TestWasmCache(t *testing.T) {
	saved := modulePoll
	modulePoll = 10 * time.Millisecond
	t.Cleanup(func() { modulePoll = saved })
	var logged bytes.Buffer
	golog.SetOutput(&logged)
	t.Cleanup(func() { golog.SetOutput(os.Stderr) })

	guest := testGuestFile(t)
	dir := t.TempDir()
	wasm, cache := filepath.Join(dir, "core.wasm"), filepath.Join(dir, "cache")
	if err := os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(emptyList), 0o644); err != nil {
		t.Fatal(err)
	}
	replaceFile(t, wasm, guest)
	lookups := func(result string) float64 { return testutil.ToFloat64(wasmCacheLookups.WithLabelValues("", result)) }
	start := func(want string) *Kubernetai {
		t.Helper()
		c := caddy.NewTestController("dns", "kubernetai cluster.local {\n snapshot cluster.yaml\n wasm core.wasm\n wasm_cache cache\n pool 1\n}")
		c.ServerBlockKeys = []string{"cluster.local.:53"}
		dnsserver.GetConfig(c).Root = dir
		before := lookups(want)
		k, err := fromCorefile(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.start(nil); err != nil {
			t.Fatal(err)
		}
		if got := k.real.Module().CacheResult(); got != want || lookups(want) != before+1 {
			t.Errorf("start: cache %s (counted %v), want %s counted once", got, lookups(want)-before, want)
		}
		return k
	}

	k := start(engine.CacheMiss)
	if _, err := os.Stat(filepath.Join(cache, digestOf(guest), "sha256sums")); err != nil {
		t.Errorf("no entry for the module: %v", err)
	}
	v2 := withCustomSection(guest, "2")
	for _, tt := range []struct {
		module []byte
		result string
	}{{v2, engine.CacheMiss}, {guest, engine.CacheHit}} {
		before := lookups(tt.result)
		replaceFile(t, wasm, tt.module)
		waitUntil(t, "the swap", func() bool { return lookups(tt.result) == before+1 })
		if k.real.Module().Digest() != digestOf(tt.module) {
			t.Fatal("another module serves")
		}
	}
	_ = k.stop()

	k = start(engine.CacheHit) // a restart
	_ = k.stop()
	entry := filepath.Join(cache, digestOf(guest))
	_ = filepath.WalkDir(entry, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.WriteFile(path, []byte("garbage"), 0o600)
		}
		return err
	})
	k = start(engine.CacheMiss)
	_ = k.stop()
	if want := "[WARNING] plugin/kubernetai: wasm_cache " + cache + ": module " + digestOf(guest)[:12] + ": "; !strings.Contains(logged.String(), want) {
		t.Errorf("log %q, want a warning %q", logged.String(), want)
	}
}
