package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// Only command-line mistakes are tested here: each must stop before any
// build starts, exit 2 and say which flag is wrong.
func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		msg  string // in stderr
	}{
		{[]string{"--after", "kubernetes", "--before", "forward"}, "--after and --before: give at most one of them"},
		{[]string{"--with", "foo@"}, `--with: "foo@": empty version`},
		{[]string{"--with", "foo="}, `--with: "foo=": empty path`},
		{[]string{"--coredns", "latest"}, `--coredns: "latest": not a release version`},
		{[]string{"--stock", "--before", "forward"}, "--stock builds without kubernetai"},
		{[]string{"--output", "bin/"}, `--output: "bin/": give a file name, not a directory`},
		// A test binary, like go run, is a development build: no version.
		{[]string{"--after", "cache"}, "pass --with github.com/kubernetai/kubernetai/host-go=PATH"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exit code %d (err %v), want 2", code, err)
			}
			if !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.msg)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	var stderr bytes.Buffer
	if c := exitCode(nil, &stderr); c != 0 {
		t.Errorf("nil: %d", c)
	}
	if c := exitCode(errors.New("go build: exit status 1"), &stderr); c != 1 {
		t.Errorf("build failure: %d", c)
	}
	if !strings.Contains(stderr.String(), "kubernetai-build: go build: exit status 1") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
