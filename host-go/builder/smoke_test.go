package builder

import (
	"strings"
	"testing"
)

// versionM builds `go version -m` output with the given dep lines and
// CGO_ENABLED setting, in the exact layout the go command prints.
func versionM(cgo string, deps ...string) string {
	var b strings.Builder
	b.WriteString("/tmp/coredns: go1.26.8\n")
	b.WriteString("\tpath\tkubernetai-build/coredns\n")
	b.WriteString("\tmod\tkubernetai-build/coredns\t(devel)\t\n")
	for _, d := range deps {
		b.WriteString(d + "\n")
	}
	b.WriteString("\tbuild\t-buildmode=exe\n")
	b.WriteString("\tbuild\t-ldflags=\"-s -w -X github.com/coredns/coredns/coremain.GitCommit=stock\"\n")
	b.WriteString("\tbuild\t-trimpath=true\n")
	if cgo != "" {
		b.WriteString("\tbuild\tCGO_ENABLED=" + cgo + "\n")
	}
	b.WriteString("\tbuild\tGOARCH=arm64\n\tbuild\tGOOS=linux\n")
	return b.String()
}

const (
	depCore = "\tdep\tgithub.com/coredns/coredns\tv1.15.0\th1:AAAA="
	depKai  = "\tdep\tgithub.com/kubernetai/kubernetai/host-go\tv0.0.0\n\t=>\t/src/host-go\t(devel)\t"
	depHi   = "\tdep\texample.com/hello\tv0.1.0\th1:BBBB="
)

// Plans as Arrange leaves them.
var (
	planKai   = &Plan{Placements: []Placement{kaiPlaced("kubernetes", true)}}
	planStock = &Plan{Stock: true}
	hiPlaced  = Placement{Name: "hello", Anchor: "log", Module: "example.com/hello", Package: "example.com/hello"}
	planBoth  = &Plan{Placements: []Placement{kaiPlaced("kubernetes", true), hiPlaced}}
	planStHi  = &Plan{Stock: true, Placements: []Placement{hiPlaced}}
)

func TestCheckBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		text string
		p    *Plan
		err  string
	}{
		{"kubernetai", versionM("0", depCore, depKai), planKai, ""},
		{"stock", versionM("0", depCore), planStock, ""},
		{"kubernetai and hello", versionM("0", depCore, depKai, depHi), planBoth, ""},
		{"stock and hello", versionM("0", depCore, depHi), planStHi, ""},
		{"cgo on", versionM("1", depCore, depKai), planKai, `build settings lack CGO_ENABLED=0 (found "1")`},
		{"cgo unset", versionM("", depCore, depKai), planKai, `build settings lack CGO_ENABLED=0 (found "")`},
		{"kubernetai missing", versionM("0", depCore), planKai, "module github.com/kubernetai/kubernetai/host-go (plugin kubernetai) is not among the binary's dependencies"},
		{"hello missing", versionM("0", depCore, depKai), planBoth, "module example.com/hello (plugin hello) is not among"},
		{"stock with kubernetai", versionM("0", depCore, depKai), planStock, "stock build contains module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi, err := parseVersionM(tt.text)
			if err != nil {
				t.Fatalf("parseVersionM: %v", err)
			}
			err = checkBuildInfo(bi, tt.p)
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("checkBuildInfo() = %v, want error containing %q", err, tt.err)
			}
		})
	}
}

func TestParseVersionM(t *testing.T) {
	bi, err := parseVersionM(versionM("0", depCore, depKai))
	if err != nil {
		t.Fatal(err)
	}
	if setting(bi, "GOOS") != "linux" || setting(bi, "GOARCH") != "arm64" {
		t.Errorf("GOOS/GOARCH = %q/%q", setting(bi, "GOOS"), setting(bi, "GOARCH"))
	}
	if len(bi.Deps) != 2 || bi.Deps[1].Replace == nil || bi.Deps[1].Replace.Path != "/src/host-go" {
		t.Errorf("deps = %+v", bi.Deps)
	}
	for _, bad := range []string{"", "/tmp/x: not a Go binary", "/tmp/x: go1.26.8\n\tdep\tno-version\n"} {
		if _, err := parseVersionM(bad); err == nil {
			t.Errorf("parseVersionM(%q) succeeded", bad)
		}
	}
}

func TestCheckPlugins(t *testing.T) {
	const current = "acl\nany\nkubernetes\nkubernetai\nwhoami\n"
	const older = "Server types:\n  dns\n\nOther plugins:\n  dns.kubernetes\n  dns.kubernetai\n"
	const stock = "acl\nkubernetes\nwhoami\n"
	tests := []struct {
		name, out string
		p         *Plan
		err       string
	}{
		{"current layout", current, planKai, ""},
		{"dns. prefix", older, planKai, ""},
		{"stock", stock, planStock, ""},
		{"kubernetai and hello", current + "hello\n", planBoth, ""},
		{"stock and hello", stock + "hello\n", planStHi, ""},
		{"not registered", stock, planKai, "plugin kubernetai (dns.kubernetai) is not listed"},
		{"hello not registered", current, planBoth, "plugin hello (dns.hello) is not listed: the package example.com/hello does not register it"},
		{"prefix only counts whole names", "kubernetai-extra\nkubernetes\n", planKai, "is not listed"},
		{"stock with kubernetai", current, planStock, "stock build lists plugin kubernetai"},
		{"stock without kubernetes", "acl\n", planStock, "plugin kubernetes (dns.kubernetes) is not listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPlugins(tt.out, tt.p)
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("checkPlugins() = %v, want error containing %q", err, tt.err)
			}
		})
	}
}
