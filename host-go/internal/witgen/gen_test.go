package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The generated code itself is checked where it runs: it is compiled into
// internal/engine, whose tests cross every function and type of the
// contract against the test guest, byte for byte.

func TestGenerateContract(t *testing.T) {
	f := parseContract(t)
	opts := Options{Package: "engine", Receiver: "instance"}
	first, err := Generate(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(parseContract(t), opts)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("a second run differs (%v)", err)
	}
	header, _, _ := strings.Cut(string(first), "\n")
	if !regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`).MatchString(header) ||
		!strings.Contains(header, "wit/kubernetai.wit") || !strings.Contains(header, "internal/witgen") {
		t.Errorf("header %q does not mark the file as generated, by witgen, from the WIT", header)
	}
	for _, want := range []string{
		`const WITInterface = "coredns:kubernetai/core@0.3.0"`,
		"func (in *instance) Lookup(ctx context.Context, query []byte, replies []UpstreamReply) (_ Outcome, err error) {",
		"func (in *instance) Transfer(ctx context.Context, zone string, serial uint32, cursor []byte) (_ TransferPage, _ bool, err error) {",
		"// Canonical ABI: 96 bytes aligned to 8; zones @0, watches @8, source @16, source-line @80, startup-timeout-ns @88.",
	} {
		if !bytes.Contains(first, []byte(want)) {
			t.Errorf("generated code lacks %q", want)
		}
	}
}

func TestGenerateRefusals(t *testing.T) {
	tests := []struct {
		name, items, want string
	}{
		{"variant parameter", "variant v { a(u8), b }\nf: func(x: v);", "function f, parameter x: lowering variant v is not supported"},
		{"option parameter", "f: func(x: option<u8>);", "function f, parameter x: lowering option<u8> is not supported"},
		{"option in a lowered record", "record r { a: option<u8> }\nf: func(x: list<r>);", "parameter x, field a: lowering option<u8> is not supported"},
		{"nested result", "record r { a: result<u8, u8> }\nf: func() -> r;", "function f, result (r): result<u8, u8> inside another type is not supported"},
		{"error of another type", "f: func() -> result<string, u32>;", "an error of type u32 is not supported"},
		{"case named kind", "variant v { kind(u8), b }\nf: func() -> v;", "variant v: a case named kind would clash"},
		{"flat result", "f: func() -> bool;", "a result of 1 flat value (bool) is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x.wit", "package a:b@1.0.0;\ninterface i {\n"+tt.items+"\n}\nworld w { export i; }\n")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Generate(f, Options{Package: "p", Receiver: "r"}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Generate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for wit, want := range map[string][2]string{
		"local-ips":          {"LocalIPs", "localIPs"},
		"api-server":         {"APIServer", "apiServer"},
		"hash-seed":          {"HashSeed", "hashSeed"},
		"qps":                {"QPS", "qps"},
		"fell-through":       {"FellThrough", "fellThrough"},
		"startup-timeout-ns": {"StartupTimeoutNs", "startupTimeoutNs"},
		"type":               {"Type", "typeArg"},
	} {
		if got := [2]string{goName(wit), goParam(wit)}; got != want {
			t.Errorf("%s: %q, want %q", wit, got, want)
		}
	}
}
