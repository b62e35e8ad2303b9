package main

import (
	"bytes"
	"context"
	"errors"
	"runtime/debug"
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
		{[]string{"--plugin", "alternate"}, `--plugin: "alternate": want NAME:after=DIRECTIVE or NAME:before=DIRECTIVE`},
		{[]string{"--plugin", "alternate:after=forward", "--plugin", "alternate:before=forward"}, "plugin alternate is placed twice"},
		{[]string{"--after", "log", "--plugin", "kubernetai:before=forward"}, "kubernetai is already placed by --after log"},
		{[]string{"version", "extra"}, `version: unexpected argument "extra"`},
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

func TestHelpHasExamples(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 {
		t.Errorf("--help: exit code %d (err %v)", code, err)
	}
	for _, want := range []string{"-plugin NAME:after=DIRECTIVE", "Examples", "--plugin alternate:before=forward", "kubernetai-build version"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// A test binary is a development build.
	if got := stdout.String(); !strings.HasPrefix(got, "kubernetai-build (devel) go1.") {
		t.Errorf("version printed %q", got)
	}
	tests := []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "kubernetai-build (unknown version: no build information)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}}, "kubernetai-build v0.4.0 go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "c9faa53"}, {Key: "vcs.modified", Value: "true"}}},
			"kubernetai-build (devel) commit c9faa53 (modified) go1.26.8"},
	}
	for _, tt := range tests {
		if got := versionLine(tt.info); got != tt.want {
			t.Errorf("versionLine() = %q, want %q", got, tt.want)
		}
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
