package image

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Module paths read from the binary's build information.
const (
	coreDNSModule    = "github.com/coredns/coredns"
	kubernetaiModule = "github.com/kubernetai/kubernetai/host-go"
)

// Platform is the os/architecture pair an image runs on, as OCI image
// configs and index descriptors spell it.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PlatformOf reads the platform a Go binary was built for from its build
// information, and refuses a binary that cannot run alone in an image with
// no C library: one built with cgo, or for another system than Linux.
func PlatformOf(bi *debug.BuildInfo) (Platform, error) {
	s := settings(bi)
	if cgo, ok := s["CGO_ENABLED"]; !ok {
		return Platform{}, fmt.Errorf("its build settings do not say CGO_ENABLED: cannot tell it is static")
	} else if cgo != "0" {
		return Platform{}, fmt.Errorf("built with CGO_ENABLED=%s: the image has no C library, build it with CGO_ENABLED=0", cgo)
	}
	p := Platform{OS: s["GOOS"], Architecture: s["GOARCH"]}
	if p.OS == "" || p.Architecture == "" {
		return Platform{}, fmt.Errorf("its build settings lack GOOS or GOARCH")
	}
	if p.OS != "linux" {
		return Platform{}, fmt.Errorf("built for %s: the image is for Linux", p.OS)
	}
	if p.Architecture == "arm" {
		// GOARM is "7", or "7,softfloat" and the like; default 7 for
		// cross-compiles (the go command's own default).
		arm, _, _ := strings.Cut(s["GOARM"], ",")
		if arm == "" {
			arm = "7"
		}
		p.Variant = "v" + arm
	}
	return p, nil
}

func settings(bi *debug.BuildInfo) map[string]string {
	m := map[string]string{}
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}

// versions reports the CoreDNS release in a binary and the kubernetai
// plugin's version: "" when it has no kubernetai (a stock build), "local"
// when the plugin came from a directory (a replace by a path).
func versions(bi *debug.BuildInfo) (coredns, kubernetai string) {
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		v := m.Version
		if r := m.Replace; r != nil {
			v = r.Version
			if v == "" || v == "(devel)" {
				v = "local"
			}
		}
		switch m.Path {
		case coreDNSModule:
			coredns = v
		case kubernetaiModule:
			kubernetai = v
		}
	}
	return coredns, kubernetai
}
