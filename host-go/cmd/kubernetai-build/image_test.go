package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad --image must stop the command before any build starts: exit 2 and
// a message naming the flag.
func TestImageFlagUsage(t *testing.T) {
	hostGo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name  string
		image string
		epoch string
		msg   string
	}{
		{"directory", dir, "", "--image: image output " + `"` + dir + `" is a directory`},
		{"trailing slash", "out/", "", `--image: image output "out/": give a file name`},
		{"bad SOURCE_DATE_EPOCH", filepath.Join(dir, "image.tar"), "tomorrow", `--image: SOURCE_DATE_EPOCH="tomorrow"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.epoch)
			args := []string{"--with", "github.com/kubernetai/kubernetai/host-go=" + hostGo,
				"--output", filepath.Join(dir, "coredns"), "--image", tt.image}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exit code %d (err %v), want 2", code, err)
			}
			if !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.msg)
			}
			if _, err := os.Stat(filepath.Join(dir, "coredns")); err == nil {
				t.Error("a binary was built")
			}
		})
	}
}

// TestImageFlag builds the fake CoreDNS of builder/testdata offline, with
// --image: the image must hold the binary that passed the smoke check.
func TestImageFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	testdata, err := filepath.Abs("../../builder/testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	binary, tarball := filepath.Join(dir, "coredns"), filepath.Join(dir, "img", "image.tar")
	args := []string{
		"--with", "github.com/coredns/coredns=" + filepath.Join(testdata, "fakecoredns"),
		"--with", "github.com/kubernetai/kubernetai/host-go=" + filepath.Join(testdata, "fakekubernetai"),
		"--output", binary, "--image", tarball,
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), tarball+": kubernetai:latest, linux/") {
		t.Errorf("stdout does not report the image:\n%s", stdout.String())
	}
	want, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if got := imageFile(t, tarball, "coredns"); !bytes.Equal(got, want) {
		t.Errorf("the image's /coredns (%d bytes) is not the built binary (%d bytes)", len(got), len(want))
	}
}

// imageFile reads one file from the single (gzip-compressed) layer of an
// image tarball, finding the layer through the docker-archive manifest.json.
func imageFile(t *testing.T, tarball, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(member(t, data, "manifest.json"), &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json: %v %+v", err, manifest)
	}
	zr, err := gzip.NewReader(bytes.NewReader(member(t, data, manifest[0].Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return member(t, layer, name)
}

// member returns a file from a tar stream.
func member(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not found: %v", name, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
