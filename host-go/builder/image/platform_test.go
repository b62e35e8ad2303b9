package image

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func buildInfo(kv ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{}
	for i := 0; i+1 < len(kv); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return bi
}

func TestPlatformOf(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string // Platform.String(), or the error's text
		err  bool
	}{
		{"amd64", buildInfo("CGO_ENABLED", "0", "GOOS", "linux", "GOARCH", "amd64", "GOAMD64", "v3"), "linux/amd64", false},
		{"arm64", buildInfo("CGO_ENABLED", "0", "GOOS", "linux", "GOARCH", "arm64"), "linux/arm64", false},
		{"arm v6", buildInfo("CGO_ENABLED", "0", "GOOS", "linux", "GOARCH", "arm", "GOARM", "6"), "linux/arm/v6", false},
		{"arm softfloat", buildInfo("CGO_ENABLED", "0", "GOOS", "linux", "GOARCH", "arm", "GOARM", "7,softfloat"), "linux/arm/v7", false},
		{"arm default", buildInfo("CGO_ENABLED", "0", "GOOS", "linux", "GOARCH", "arm"), "linux/arm/v7", false},
		{"cgo", buildInfo("CGO_ENABLED", "1", "GOOS", "linux", "GOARCH", "amd64"), "built with CGO_ENABLED=1", true},
		{"cgo unknown", buildInfo("GOOS", "linux", "GOARCH", "amd64"), "cannot tell it is static", true},
		{"darwin", buildInfo("CGO_ENABLED", "0", "GOOS", "darwin", "GOARCH", "arm64"), "built for darwin", true},
		{"no arch", buildInfo("CGO_ENABLED", "0", "GOOS", "linux"), "lack GOOS or GOARCH", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlatformOf(tt.bi)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("PlatformOf = %v, %v; want error %q", p, err, tt.want)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Fatalf("PlatformOf = %v, %v; want %s", p, err, tt.want)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	core := &debug.Module{Path: coreDNSModule, Version: "v1.15.0"}
	tests := []struct {
		name             string
		main             debug.Module
		deps             []*debug.Module
		coredns, kubernm string
	}{
		{"plugin from a directory", debug.Module{Path: "kubernetai-build/coredns", Version: "(devel)"},
			[]*debug.Module{core, {Path: kubernetaiModule, Version: "v0.0.0", Replace: &debug.Module{Path: "/src/host-go", Version: "(devel)"}}},
			"v1.15.0", "local"},
		{"released plugin", debug.Module{Path: "kubernetai-build/coredns"},
			[]*debug.Module{core, {Path: kubernetaiModule, Version: "v0.3.0"}}, "v1.15.0", "v0.3.0"},
		{"plugin replaced by a fork", debug.Module{Path: "kubernetai-build/coredns"},
			[]*debug.Module{core, {Path: kubernetaiModule, Version: "v0.3.0", Replace: &debug.Module{Path: "example.org/fork", Version: "v0.3.1"}}},
			"v1.15.0", "v0.3.1"},
		{"stock", debug.Module{Path: "kubernetai-build/coredns"}, []*debug.Module{core}, "v1.15.0", ""},
		{"CoreDNS checkout as main module", debug.Module{Path: coreDNSModule, Version: "(devel)"}, nil, "(devel)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k := versions(&debug.BuildInfo{Main: tt.main, Deps: tt.deps})
			if c != tt.coredns || k != tt.kubernm {
				t.Errorf("versions = %q, %q; want %q, %q", c, k, tt.coredns, tt.kubernm)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	const (
		title   = "org.opencontainers.image.title"
		desc    = "org.opencontainers.image.description"
		version = "org.opencontainers.image.version"
		created = "org.opencontainers.image.created"
	)
	when := time.Date(2026, 12, 4, 13, 0, 0, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name             string
		coredns, kubernm string
		created          time.Time
		want             map[string]string // "" value: the label must be absent
	}{
		{"local", "v1.15.0", "local", time.Time{}, map[string]string{
			title: "kubernetai", desc: "CoreDNS v1.15.0 with the kubernetai plugin (local)", version: "", created: ""}},
		{"release", "v1.15.0", "v0.3.0", when, map[string]string{
			title: "kubernetai", version: "v0.3.0", created: "2026-12-04T12:00:00Z"}},
		{"stock", "v1.15.0", "", time.Time{}, map[string]string{
			title: "coredns", desc: "CoreDNS v1.15.0", version: ""}},
		{"no CoreDNS version", "", "local", time.Time{}, map[string]string{
			desc: "CoreDNS (unknown version) with the kubernetai plugin (local)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Labels(tt.coredns, tt.kubernm, tt.created)
			if got["org.opencontainers.image.licenses"] != "Apache-2.0" || got["org.opencontainers.image.source"] == "" {
				t.Errorf("licenses or source missing: %v", got)
			}
			for k, v := range tt.want {
				if have, ok := got[k]; v == "" && ok || v != "" && have != v {
					t.Errorf("%s = %q (present %v), want %q", k, have, ok, v)
				}
			}
		})
	}
}
