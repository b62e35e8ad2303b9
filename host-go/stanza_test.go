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
