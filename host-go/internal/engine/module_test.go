package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

func TestCompile(t *testing.T) {
	guest := testGuest(t)
	core, err := wasm.CoreModule(guest)
	if err != nil {
		t.Fatal(err)
	}
	toVersion := func(v string) func(string) string {
		return func(name string) string { return strings.Replace(name, WITInterface+"#", witInterfacePrefix+v+"#", 1) }
	}
	dropLookup := func(name string) string {
		return strings.Replace(name, WITInterface+"#lookup", WITInterface+"#look-up", 1)
	}
	reserved := append(fakeFuncs(ourVersion), fakeFunc{name: wasm.InterruptExport})
	atomics := fakeCore([]fakeFunc{{name: "f", code: []byte{0xfe, 0x03, 0x00}}}, false) // atomic.fence
	wrongSig := fakeFuncs(ourVersion)
	wrongSig[1].params = []byte{0x7f, 0x7f, 0x7f} // configure's seed as i32

	tests := []struct {
		name      string
		component []byte
		is        error  // errors.Is target, nil for success
		contains  string // in the error message
	}{
		{name: "test guest", component: guest},
		{name: "fake with every export", component: wrapComponent(fakeCore(fakeFuncs(ourVersion), false))},
		{name: "empty", component: nil, is: wasm.ErrNotWasm},
		{name: "garbage", component: []byte("GET / HTTP/1.1\r\n\r\n"), is: wasm.ErrNotWasm},
		{name: "core module", component: core, is: wasm.ErrNotComponent},
		{name: "unknown layer", component: []byte{0, 'a', 's', 'm', 0x0a, 0, 1, 0}, is: wasm.ErrMalformed, contains: "version/layer"},
		{name: "truncated", component: guest[:len(guest)/2], is: wasm.ErrMalformed, contains: "truncated"},
		{name: "truncated size", component: append(wrapComponent(), 1, 0xff), is: wasm.ErrMalformed, contains: "truncated LEB128"},
		{name: "oversized size", component: append(wrapComponent(), 1, 0xff, 0xff, 0xff, 0xff, 0x7f), is: wasm.ErrMalformed, contains: "overflows"},
		{name: "no core module", component: wrapComponent(), is: wasm.ErrMalformed, contains: "holds 0 core modules"},
		{name: "two core modules", component: wrapComponent(core, core), is: wasm.ErrMalformed, contains: "holds 2 core modules"},
		{name: "section 1 not a module", component: wrapComponent([]byte("not wasm")), is: wasm.ErrMalformed, contains: "not a core"},
		{
			name:      "other version",
			component: renameCoreExports(t, guest, toVersion("0.1.0")),
			is:        ErrContract,
			contains:  "component implements coredns:kubernetai/core@0.1.0; this host understands " + WITInterface,
		},
		{
			name:      "other version, longer name",
			component: renameCoreExports(t, guest, toVersion("1.10.0")),
			is:        ErrContract,
			contains:  "implements coredns:kubernetai/core@1.10.0;",
		},
		{
			name:      "missing export",
			component: renameCoreExports(t, guest, dropLookup),
			is:        ErrContract,
			contains:  `missing "` + WITInterface + `#lookup"`,
		},
		{
			name:      "wrong signature",
			component: wrapComponent(fakeCore(wrongSig, false)),
			is:        ErrContract,
			contains:  `"` + WITInterface + `#configure" has type (i32, i32, i32) -> (i32), want (i32, i32, i64) -> (i32)`,
		},
		{
			name:      "imports",
			component: wrapComponent(fakeCore(fakeFuncs(ourVersion), true)),
			is:        ErrContract,
			contains:  "1 imports",
		},
		{
			name:      "reserved export",
			component: wrapComponent(fakeCore(reserved, false)),
			is:        ErrContract,
			contains:  `the core module exports "kubernetai-interrupt", a name this host reserves`,
		},
		{
			name:      "unsupported instruction",
			component: wrapComponent(atomics),
			is:        wasm.ErrUnsupported,
			contains:  "function 0: instruction at offset 44: core module uses a WebAssembly feature this host does not support: opcode 0xfe",
		},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod, err := Compile(ctx, tt.component)
			if tt.is == nil && tt.contains == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				defer mod.Close(ctx)
				sum := sha256.Sum256(tt.component)
				if got, want := mod.Digest(), hex.EncodeToString(sum[:]); got != want {
					t.Errorf("Digest() = %s, want %s", got, want)
				}
				return
			}
			if err == nil {
				mod.Close(ctx)
				t.Fatalf("Compile succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %q", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestVersionError(t *testing.T) {
	other := renameCoreExports(t, testGuest(t), func(name string) string {
		return strings.Replace(name, WITInterface+"#", witInterfacePrefix+"0.1.0#", 1)
	})
	_, err := Compile(context.Background(), other)
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *VersionError", err)
	}
	if len(ve.Found) != 1 || ve.Found[0] != "0.1.0" || ve.Want != ourVersion {
		t.Errorf("VersionError = %+v, want Found [0.1.0], Want %s", ve, ourVersion)
	}
}
