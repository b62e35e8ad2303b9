package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseWith(t *testing.T) {
	const cwd = "/src/work"
	tests := []struct {
		spec string
		want Module
		err  string // substring of the error; "" means success
	}{
		{spec: "github.com/a/b", want: Module{Path: "github.com/a/b"}},
		{spec: "github.com/a/b@v1.2.3", want: Module{Path: "github.com/a/b", Version: "v1.2.3"}},
		{spec: "github.com/a/b@master", want: Module{Path: "github.com/a/b", Version: "master"}},
		{spec: "github.com/a/b@v0.0.0-20250101000000-abcdefabcdef", want: Module{Path: "github.com/a/b", Version: "v0.0.0-20250101000000-abcdefabcdef"}},
		{spec: "github.com/a/b=./b", want: Module{Path: "github.com/a/b", Dir: "/src/work/b"}},
		{spec: "github.com/a/b=../b/", want: Module{Path: "github.com/a/b", Dir: "/src/b"}},
		{spec: "github.com/a/b=/abs/b", want: Module{Path: "github.com/a/b", Dir: "/abs/b"}},
		{spec: "github.com/a/b@v1.2.3=./b", want: Module{Path: "github.com/a/b", Version: "v1.2.3", Dir: "/src/work/b"}},
		{spec: "github.com/a/b=./with=sign", want: Module{Path: "github.com/a/b", Dir: "/src/work/with=sign"}},

		{spec: "", err: `--with: "": empty module path`},
		{spec: "@v1.0.0", err: `--with: "@v1.0.0": empty module path`},
		{spec: "=./b", err: `--with: "=./b": empty module path`},
		{spec: "foo@", err: `--with: "foo@": empty version`},
		{spec: "foo@=./b", err: `--with: "foo@=./b": empty version`},
		{spec: "foo=", err: `--with: "foo=": empty path`},
		{spec: "foo@v1=", err: `--with: "foo@v1=": empty path`},
		{spec: "foo@v1@v2", err: "malformed version"},
		{spec: "foo bar", err: "malformed module path"},
		{spec: "github.com/a/b/", err: "malformed module path"},
		{spec: "github.com//b", err: "malformed module path"},
		{spec: "-x", err: "malformed module path"},
		{spec: "foo@master=./b", err: "a version next to a local path must look like v1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseWith(tt.spec, cwd)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseWith(%q) error = %v, want it to contain %q", tt.spec, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWith(%q): %v", tt.spec, err)
			}
			if got != tt.want {
				t.Errorf("ParseWith(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestModuleLine(t *testing.T) {
	tests := []struct{ gomod, want string }{
		{"module example.com/m\n\ngo 1.26.0\n", "example.com/m"},
		{"// comment\nmodule   example.com/m // trailing\n", "example.com/m"},
		{"module \"example.com/quoted\"\n", "example.com/quoted"},
		{"modulex example.com/m\n", ""},
		{"go 1.26.0\n", ""},
	}
	for _, tt := range tests {
		if got := moduleLine([]byte(tt.gomod)); got != tt.want {
			t.Errorf("moduleLine(%q) = %q, want %q", tt.gomod, got, tt.want)
		}
	}
}

func TestCheckLocal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		m   Module
		err string
	}{
		{Module{Path: "example.com/other", Dir: dir}, ""},
		{Module{Path: "example.com/m", Dir: dir}, `declares module "example.com/other"`},
		{Module{Path: "example.com/m", Dir: filepath.Join(dir, "missing")}, "is not a Go module"},
	}
	for _, tt := range tests {
		err := checkLocal(tt.m)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("checkLocal(%+v) = %v, want error containing %q", tt.m, err, tt.err)
		}
	}
}
