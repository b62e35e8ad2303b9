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
)

func TestCheckBuildInfo(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		stock bool
		err   string
	}{
		{"kubernetai", versionM("0", depCore, depKai), false, ""},
		{"stock", versionM("0", depCore), true, ""},
		{"cgo on", versionM("1", depCore, depKai), false, `build settings lack CGO_ENABLED=0 (found "1")`},
		{"cgo unset", versionM("", depCore, depKai), false, `build settings lack CGO_ENABLED=0 (found "")`},
		{"kubernetai missing", versionM("0", depCore), false, "module github.com/kubernetai/kubernetai/host-go is not among the binary's dependencies"},
		{"stock with kubernetai", versionM("0", depCore, depKai), true, "stock build contains module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi, err := parseVersionM(tt.text)
			if err != nil {
				t.Fatalf("parseVersionM: %v", err)
			}
			err = checkBuildInfo(bi, tt.stock)
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
		stock     bool
		err       string
	}{
		{"current layout", current, false, ""},
		{"dns. prefix", older, false, ""},
		{"stock", stock, true, ""},
		{"not registered", stock, false, "plugin kubernetai (dns.kubernetai) is not listed"},
		{"prefix only counts whole names", "kubernetai-extra\nkubernetes\n", false, "is not listed"},
		{"stock with kubernetai", current, true, "stock build lists plugin kubernetai"},
		{"stock without kubernetes", "acl\n", true, "plugin kubernetes (dns.kubernetes) is not listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPlugins(tt.out, tt.stock)
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("checkPlugins() = %v, want error containing %q", err, tt.err)
			}
		})
	}
}
