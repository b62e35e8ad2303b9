package kubernetai

import (
	"bytes"
	"context"
	"fmt"
	golog "log"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
	"github.com/kubernetai/kubernetai/host-go/internal/feed"
)

// captureLog collects what the plugin logs during the test.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var logged bytes.Buffer
	golog.SetOutput(&logged)
	t.Cleanup(func() { golog.SetOutput(os.Stderr) })
	return &logged
}

// Changes refused for lack of memory are logged (stanza from 1, how
// many, the limit, what would hold them) and counted, and the objects
// held back are shown until they are applied.
func TestStanzaLogsAndCountsRefusals(t *testing.T) {
	logged := captureLog(t)
	k, err := guestSetup(t, "kubernetai cluster.local {\n    wasm guest.wasm\n    snapshot a.yaml\n    wasm_memory 16Mi\n}",
		map[string]string{"a.yaml": emptyList})
	if err != nil {
		t.Fatal(err)
	}
	st := k.stanzas[0]
	st.servers = []string{"dns://:53"}
	refused := objectsRefused.WithLabelValues("dns://:53", "1")
	held := objectsHeld.WithLabelValues("dns://:53", "1")
	before := testutil.ToFloat64(refused)

	pad := strings.Repeat("x", 64<<10)
	var batch []feed.Change
	for i := range 300 { // about 19 MiB
		batch = append(batch, feed.Change{Object: feed.Object{
			Kind: engine.KindService, Namespace: "big", Name: fmt.Sprintf("b%03d", i),
			JSON: fmt.Appendf(nil, `{"metadata":{"namespace":"big","name":"b%03d"},"pad":%q}`, i, pad),
		}})
	}
	st.Apply(batch)
	line := regexp.MustCompile(`stanza 1: (\d+) of 300 changes refused \(service big/b\d+, service big/b\d+, service big/b\d+\.\.\.\): ` +
		`with them the DNS core would not keep 1/8 of wasm_memory \(16Mi\) free; about (\d+)Mi would hold them\. ` +
		`Until they fit, names the stanza does not know answer SERVFAIL \((\d+) objects held back\)`)
	m := line.FindStringSubmatch(logged.String())
	if m == nil {
		t.Fatalf("log lacks the refusal:\n%s", logged.String())
	}
	n := 0
	fmt.Sscan(m[1], &n)
	if n == 0 || n == 300 || m[3] != m[1] {
		t.Errorf("refusal %q: want some of the batch refused, all of them held", m[0])
	}
	if got := testutil.ToFloat64(refused) - before; got != float64(n) {
		t.Errorf("objects_refused_total grew by %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(held); got != float64(n) {
		t.Errorf("objects_held_back = %v, want %d", got, n)
	}

	var gone []feed.Change
	for _, c := range batch {
		c.Deleted, c.Object.JSON = true, fmt.Appendf(nil, `{"metadata":{"namespace":"big","name":%q}}`, c.Object.Name)
		gone = append(gone, c)
	}
	st.Apply(gone)
	if !strings.Contains(logged.String(), "stanza 1: every object held back for lack of memory is applied") {
		t.Errorf("log lacks the end of the refusal:\n%s", logged.String())
	}
	if got := testutil.ToFloat64(held); got != 0 {
		t.Errorf("objects_held_back = %v after the deletes, want 0", got)
	}
}

// Items of a snapshot that cannot be read are logged (stanza from 1) and
// counted with the objects skipped, for every version that has them.
func TestStanzaLogsAndCountsUnreadableItems(t *testing.T) {
	logged := captureLog(t)
	list := "kind: List\nitems:\n- {kind: Service, metadata: {namespace: shop}, spec: {clusterIP: 10.0.0.1}}\n"
	k, err := guestSetup(t, "kubernetai cluster.local {\n    wasm guest.wasm\n    snapshot a.yaml\n}", map[string]string{"a.yaml": list})
	if err != nil {
		t.Fatal(err)
	}
	st := k.stanzas[0]
	st.servers = []string{"dns://:53"}
	skipped := objectsSkipped.WithLabelValues("dns://:53", "1")
	before := testutil.ToFloat64(skipped)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- st.source.Run(ctx, st) }()
	waitUntil(t, "the snapshot to sync", st.synced.Load)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`stanza 1: snapshot \S+/a\.yaml: item 1: Service without a name: skipped`).MatchString(logged.String()) {
		t.Errorf("log lacks the unreadable item:\n%s", logged.String())
	}
	if got := testutil.ToFloat64(skipped) - before; got != 1 {
		t.Errorf("objects_skipped_total grew by %v, want 1", got)
	}
}

// TestClusterNames: a stanza's `cluster` name is its metrics label and
// shows in its logs; a stanza without one keeps its position. The core
// refuses a name given twice, naming the stanza and the option.
func TestClusterNames(t *testing.T) {
	dir := t.TempDir()
	snap := dir + "/cluster.yaml"
	if err := os.WriteFile(snap, []byte(testSnapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	corefile := func(second string) string {
		return "kubernetai a.local {\n    snapshot " + snap + "\n}\n" +
			"kubernetai b.local {\n    cluster " + second + "\n    snapshot " + snap + "\n}"
	}
	t.Run("labels", func(t *testing.T) {
		logged := captureLog(t)
		c := caddy.NewTestController("dns", corefile("east"))
		k, err := fromCorefile(c)
		if err != nil {
			t.Fatal(err)
		}
		const server = "dns://names.test:53"
		k.servers = []string{server}
		startWithin(t, k)
		defer func() { _ = k.stop() }()
		for i, want := range []string{"1", "east"} {
			if got := k.stanzas[i].label; got != want {
				t.Errorf("stanza %d: label %q, want %q", i+1, got, want)
			}
			if v, ok := syncedGauge(t, server, want); !ok || v != 1 {
				t.Errorf("synced{stanza=%q} = %v (exists %v), want 1", want, v, ok)
			}
		}
		if !strings.Contains(logged.String(), "stanza 2 (cluster east): snapshot "+snap+" synced") {
			t.Errorf("log does not name the cluster:\n%s", logged.String())
		}
	})
	for _, tt := range []struct{ name, err string }{
		{"1", `stanza 2: cluster: "1" is not a cluster name: digits alone read as a stanza's position`},
		{"East", `stanza 2: cluster: "East" is not a cluster name`},
	} {
		c := caddy.NewTestController("dns", corefile(tt.name))
		if _, err := fromCorefile(c); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("cluster %s: error %v, want %q", tt.name, err, tt.err)
		}
	}
	c := caddy.NewTestController("dns", strings.Replace(corefile("east"), "snapshot", "cluster east\n    snapshot", 1))
	want := `Testfile:6 - Error during parsing: stanza 2: cluster: "east" is already the name of stanza 1 (line 2)`
	if _, err := fromCorefile(c); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a name given twice: error %v, want %q", err, want)
	}
}
