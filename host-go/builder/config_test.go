package builder

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
)

// released is the build info of a builder installed at a release.
var released = &debug.BuildInfo{Main: debug.Module{Path: KubernetaiModule, Version: "v0.3.0"}}

func TestResolve(t *testing.T) {
	// Relative paths resolve against the test's directory, where testdata is.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(wd, "testdata/fakekubernetai")
	localCore := filepath.Join(wd, "testdata/fakecoredns")
	out := filepath.Join(wd, "coredns")
	devel := &debug.BuildInfo{Main: debug.Module{Path: KubernetaiModule, Version: "(devel)"}}
	core := Module{Path: CoreDNSModule, Version: DefaultCoreDNS}
	self := Module{Path: KubernetaiModule, Version: "v0.3.0"}
	withLocal := KubernetaiModule + "=testdata/fakekubernetai"
	kaiAfter := func(anchor, flag string) Placement {
		return Placement{Name: Directive, Anchor: anchor, After: true, Flag: flag}
	}
	dflt := []Placement{kaiAfter("kubernetes", "--after kubernetes (the default)")}
	hello := Placement{Name: "hello", Anchor: "forward", Flag: "--plugin hello:before=forward"}

	tests := []struct {
		name string
		c    Config
		self *debug.BuildInfo
		want *Plan
		err  string
	}{
		{name: "defaults", c: Config{}, self: released,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core, self}, Placements: dflt, Output: out}},
		{name: "local kubernetai", c: Config{With: []string{withLocal}}, self: devel,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core, {Path: KubernetaiModule, Dir: local}}, Placements: dflt, Output: out}},
		{name: "before, version without v, relative output", c: Config{CoreDNS: "1.14.2", Before: "forward", Output: "bin/dns"}, self: released,
			want: &Plan{CoreDNS: "v1.14.2", Modules: []Module{{Path: CoreDNSModule, Version: "v1.14.2"}, self}, Placements: []Placement{{Name: Directive, Anchor: "forward", Flag: "--before forward"}}, Output: filepath.Join(wd, "bin/dns")}},
		{name: "after, absolute output", c: Config{After: "cache", Output: "/tmp/x/coredns"}, self: released,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core, self}, Placements: []Placement{kaiAfter("cache", "--after cache")}, Output: "/tmp/x/coredns"}},
		{name: "stock with a pin needs no kubernetai version", c: Config{Stock: true, With: []string{"github.com/miekg/dns@v1.1.80"}}, self: nil,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core, {Path: "github.com/miekg/dns", Version: "v1.1.80"}}, Stock: true, Output: out}},
		{name: "local coredns keeps the --coredns version", c: Config{With: []string{CoreDNSModule + "=testdata/fakecoredns"}}, self: released,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{{Path: CoreDNSModule, Version: "v1.15.0", Dir: localCore}, self}, Placements: dflt, Output: out}},
		{name: "coredns pinned by --with", c: Config{With: []string{CoreDNSModule + "@v1.14.0"}}, self: released,
			want: &Plan{CoreDNS: "v1.14.0", Modules: []Module{{Path: CoreDNSModule, Version: "v1.14.0"}, self}, Placements: dflt, Output: out}},
		{name: "an external plugin", c: Config{Plugins: []string{"hello:before=forward"}}, self: released,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core, self}, Placements: append(dflt, hello), Output: out}},
		{name: "kubernetai placed by --plugin, after a plugin placed later", c: Config{Plugins: []string{"kubernetai:after=hello", "hello:before=forward"}}, self: released,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core, self}, Placements: []Placement{kaiAfter("hello", "--plugin kubernetai:after=hello"), hello}, Output: out}},
		{name: "stock with an external plugin", c: Config{Stock: true, Plugins: []string{"hello:before=forward"}}, self: nil,
			want: &Plan{CoreDNS: "v1.15.0", Modules: []Module{core}, Placements: []Placement{hello}, Stock: true, Output: out}},

		{name: "after and before", c: Config{After: "a", Before: "b"}, self: released, err: "--after and --before: give at most one of them"},
		{name: "stock and after", c: Config{Stock: true, After: "a"}, self: released, err: "--stock builds without kubernetai"},
		{name: "after itself", c: Config{After: "kubernetai"}, self: released, err: `--after: "kubernetai": kubernetai cannot be placed next to itself`},
		{name: "bad before", c: Config{Before: "for ward"}, self: released, err: `--before: "for ward": not a directive name`},
		{name: "plugin without placement", c: Config{Plugins: []string{"hello"}}, self: released, err: `--plugin: "hello": want NAME:after=DIRECTIVE`},
		{name: "plugin placed twice", c: Config{Plugins: []string{"hello:after=log", "hello:before=forward"}}, self: released, err: "--plugin hello:before=forward: plugin hello is placed twice (also by --plugin hello:after=log)"},
		{name: "kubernetai placed twice", c: Config{After: "log", Plugins: []string{"kubernetai:before=forward"}}, self: released, err: "--plugin kubernetai:before=forward: kubernetai is already placed by --after log"},
		{name: "kubernetai placed twice by --plugin", c: Config{Plugins: []string{"kubernetai:after=log", "kubernetai:before=forward"}}, self: released, err: "plugin kubernetai is placed twice (also by --plugin kubernetai:after=log)"},
		{name: "stock and --plugin kubernetai", c: Config{Stock: true, Plugins: []string{"kubernetai:after=log"}}, self: released, err: "--plugin kubernetai:after=log: --stock builds without kubernetai"},
		{name: "bad coredns", c: Config{CoreDNS: "master"}, self: released, err: `--coredns: "master": not a release version`},
		{name: "output directory", c: Config{Output: "bin/"}, self: released, err: `--output: "bin/": give a file name`},
		{name: "output is a directory", c: Config{Output: "testdata"}, self: released, err: "testdata is a directory; give a file name"},
		{name: "positional argument", c: Config{Args: []string{"build"}}, self: released, err: `unexpected argument "build"`},
		{name: "bad with", c: Config{With: []string{"foo@"}}, self: released, err: `--with: "foo@": empty version`},
		{name: "with twice", c: Config{With: []string{"a.com/m@v1.0.0", "a.com/m@v1.1.0"}}, self: released, err: "module a.com/m is given more than once"},
		{name: "wrong local module", c: Config{With: []string{"example.com/m=testdata/fakekubernetai"}}, self: released, err: `declares module "` + KubernetaiModule + `"`},
		{name: "coredns conflict", c: Config{CoreDNS: "v1.15.0", With: []string{CoreDNSModule + "@v1.14.0"}}, self: released, err: "conflicts with --coredns v1.15.0"},
		{name: "devel builder", c: Config{}, self: devel, err: "pass --with " + KubernetaiModule + "=PATH"},
		{name: "no build info", c: Config{}, self: nil, err: "pass --with " + KubernetaiModule + "=PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Resolve(wd, tt.self)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Resolve() error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(): %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestSelfModule(t *testing.T) {
	tests := []struct {
		path, version string
		ok            bool
	}{
		{KubernetaiModule, "v0.3.0", true},
		{KubernetaiModule, "v0.3.1-0.20260101000000-abcdefabcdef", true},
		{KubernetaiModule, "(devel)", false},
		{KubernetaiModule, "", false},
		{KubernetaiModule, "v0.3.1-0.20260101000000-abcdefabcdef+dirty", false},
		{"example.com/other", "v1.0.0", false},
	}
	for _, tt := range tests {
		m, err := SelfModule(&debug.BuildInfo{Main: debug.Module{Path: tt.path, Version: tt.version}})
		if tt.ok != (err == nil) {
			t.Errorf("SelfModule(%s@%s) error = %v, want ok=%v", tt.path, tt.version, err, tt.ok)
			continue
		}
		if tt.ok && (m.Path != KubernetaiModule || m.Version != tt.version || m.Dir != "") {
			t.Errorf("SelfModule(%s@%s) = %+v", tt.path, tt.version, m)
		}
	}
}
