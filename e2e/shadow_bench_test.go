package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkShadowCost measures what a `wasm_shadow` module costs the
// server: the real core serves 10,000 services from a snapshot, alone and
// with a shadow (the real core with a custom section: another digest, the
// same answers, so every comparison agrees and is fully done), asked every
// query without a rate cap, every query at the default max_rate (1000 a
// second), and 1% of the queries. The servers run side by side and take
// the same dnsperf load in turns, round after round; each variant's q/s,
// CPU per query and how many queries its shadow compared are logged and
// reported as ratios to the server without a shadow, with each server's
// RSS after 10 s idle. Run by make bench-shadow.
func BenchmarkShadowCost(b *testing.B) {
	perf, err := exec.LookPath("dnsperf")
	if err != nil {
		b.Skip("dnsperf not installed (make bench-shadow installs it)")
	}
	const services = 10_000
	dir := b.TempDir()
	var queries strings.Builder
	for i := range 20_000 {
		if i%10 == 9 {
			fmt.Fprintf(&queries, "missing-%d.load.svc.cluster.local A\n", i)
		} else {
			fmt.Fprintf(&queries, "svc-%d.load.svc.cluster.local A\n", (i*7919)%services)
		}
	}
	queryFile := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(queryFile, []byte(queries.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	shadow := appendCustomSection(realCore(b), "bench")
	load := versusLoad{dnsperf: perf, queries: queryFile, seconds: envInt(b, "KUBERNETAI_BENCH_SECONDS", 10),
		rounds: envInt(b, "KUBERNETAI_BENCH_ROUNDS", 3)}
	variants := []struct{ name, option string }{
		{"none", ""},
		{"share 1, no cap", "wasm_shadow shadow.wasm max_rate 4294967295"},
		{"share 1, max_rate 1000", "wasm_shadow shadow.wasm"},
		{"share 0.01", "wasm_shadow shadow.wasm share 0.01 max_rate 4294967295"},
	}
	type variant struct {
		name     string
		s        *liveServer
		qps      []float64
		answered int
		cpu      time.Duration
		compared float64
	}
	var runs []*variant
	for _, v := range variants {
		s := startBinary(b, corednsBinary(b), map[string]string{
			"services.json": servicesSnapshot(services),
			"shadow.wasm":   string(shadow),
			"Corefile": `.:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{metrics}
    kubernetai cluster.local {
        snapshot services.json
        ` + v.option + `
    }
}`,
		})
		runs = append(runs, &variant{name: v.name, s: s})
	}
	b.ResetTimer()
	for round := range load.rounds {
		for _, v := range runs {
			pid := v.s.cmd.Process.Pid
			cpu, compared := cpuTime(b, pid), shadowCompared(b, v.s)
			r := load.dnsperf1(b, v.s.addr)
			v.cpu += cpuTime(b, pid) - cpu
			v.compared += shadowCompared(b, v.s) - compared
			v.qps = append(v.qps, r.qps)
			v.answered += len(r.latencies)
			b.Logf("round %d %-24s %9.0f q/s, %d lost", round+1, v.name, r.qps, r.lost)
		}
	}
	base := runs[0]
	cpuPerQuery := func(v *variant) float64 { return v.cpu.Seconds() / float64(v.answered) }
	time.Sleep(10 * time.Second) // settle, as BenchmarkVersusStock does, before reading RSS
	for _, v := range runs {
		v.s.checkAlive(b)
		rss, _ := memory(b, v.s.cmd.Process.Pid)
		b.Logf("| %s | %.0f | %.2f | %.1f µs | %.2f | %.0f%% | %d MiB |", v.name, median(v.qps), median(v.qps)/median(base.qps),
			cpuPerQuery(v)*1e6, cpuPerQuery(v)/cpuPerQuery(base), 100*v.compared/float64(v.answered), rss>>20)
		tag := strings.NewReplacer(" ", "", ",", "-").Replace(v.name)
		b.ReportMetric(median(v.qps)/median(base.qps), "qps-ratio-"+tag)
		b.ReportMetric(cpuPerQuery(v)/cpuPerQuery(base), "cpu-per-query-ratio-"+tag)
	}
}

// shadowCompared is the server's coredns_kubernetai_shadow_queries_total.
func shadowCompared(b *testing.B, s *liveServer) float64 {
	v, _ := metric(s.scrape(b), `coredns_kubernetai_shadow_queries_total{server="dns://`+s.addr+`"}`)
	return v
}
