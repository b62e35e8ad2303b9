package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each mistake must stop with its exit status and a message saying what
// is wrong, and leave no image behind.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	notGo := filepath.Join(dir, "not-go")
	if err := os.WriteFile(notGo, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	tests := []struct {
		name  string
		args  []string
		epoch string
		code  int
		msg   string // in stderr
	}{
		{"help", []string{"-h"}, "", 0, "kubernetai-image --binary bin/coredns --output bin/kubernetai-image.tar"},
		{"no binary", []string{"--output", out}, "", 2, "--binary is required"},
		{"argument", []string{"--binary", notGo, "--output", out, "extra"}, "", 2, `unexpected argument "extra"`},
		{"label", []string{"--binary", notGo, "--label", "novalue"}, "", 2, "want KEY=VALUE"},
		{"unknown flag", []string{"--push"}, "", 2, "flag provided but not defined: -push"},
		{"epoch", []string{"--binary", notGo, "--output", out}, "soon", 2, `SOURCE_DATE_EPOCH="soon"`},
		{"not a Go binary", []string{"--binary", notGo, "--output", out}, "", 1, "reading Go build information"},
		{"bad tag", []string{"--binary", notGo, "--output", out, "--tag", "Kubernetai"}, "", 1, `image tag "Kubernetai"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.epoch)
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an image was written")
			}
		})
	}
}
