package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testCACerts writes a PEM bundle with one self-signed CA certificate.
func testCACerts(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// file is one tar entry as read back.
type file struct {
	hdr  *tar.Header
	data []byte
}

// readTar reads a whole tar stream, in order.
func readTar(t *testing.T, data []byte) []file {
	t.Helper()
	var files []file
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{h, b})
	}
}

// gunzip decompresses a layer.
func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func byName(files []file) map[string]file {
	m := map[string]file{}
	for _, f := range files {
		m[f.hdr.Name] = f
	}
	return m
}

func names(files []file) []string {
	var n []string
	for _, f := range files {
		n = append(n, f.hdr.Name)
	}
	return n
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func unmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
}

// assembleTest assembles an image of a fake binary.
func assembleTest(t *testing.T, bin []byte, o Options) ([]byte, *Result) {
	t.Helper()
	certs, err := readCACerts(testCACerts(t))
	if err != nil {
		t.Fatal(err)
	}
	labels := Labels("v1.15.0", "local", o.Created)
	out, res, err := assemble(bin, certs, Platform{OS: "linux", Architecture: "arm64"}, labels, o)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

// TestLayout reads the tarball back as both formats and follows every
// reference: docker's manifest.json to the config and layer, the OCI index
// to the manifest to the config and layer, each blob named by its digest.
func TestLayout(t *testing.T) {
	bin := []byte("\x7fELF not really a binary")
	out, res := assembleTest(t, bin, Options{Tag: "registry.example:5000/dns/kubernetai:v1"})
	files := readTar(t, out)
	blobs := map[string][]byte{}
	for _, f := range files {
		if strings.HasPrefix(f.hdr.Name, "blobs/sha256/") && f.hdr.Typeflag == tar.TypeReg {
			if d := digestOf(f.data); "blobs/sha256/"+strings.TrimPrefix(d, "sha256:") != f.hdr.Name {
				t.Errorf("%s holds a blob of digest %s", f.hdr.Name, d)
			}
			blobs[f.hdr.Name] = f.data
		}
	}
	if len(blobs) != 3 {
		t.Fatalf("%d blobs, want 3 (layer, config, manifest): %v", len(blobs), names(files))
	}
	blob := func(d descriptor, mediaType string) []byte {
		t.Helper()
		b, ok := blobs["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok || int64(len(b)) != d.Size || d.MediaType != mediaType {
			t.Fatalf("descriptor %+v: blob present %v, size %d, want media type %s", d, ok, len(b), mediaType)
		}
		return b
	}
	m := byName(files)

	if got := string(m["oci-layout"].data); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", got)
	}
	var idx index
	unmarshal(t, m["index.json"].data, &idx)
	if idx.SchemaVersion != 2 || idx.MediaType != mediaIndex || len(idx.Manifests) != 1 {
		t.Fatalf("index.json = %+v", idx)
	}
	md := idx.Manifests[0]
	wantAnn := map[string]string{
		"org.opencontainers.image.ref.name": "v1",
		"io.containerd.image.name":          "registry.example:5000/dns/kubernetai:v1",
	}
	if !reflect.DeepEqual(md.Annotations, wantAnn) || md.Platform == nil || md.Platform.String() != "linux/arm64" {
		t.Errorf("index descriptor = %+v, want annotations %v and platform linux/arm64", md, wantAnn)
	}
	if md.Digest != res.Manifest {
		t.Errorf("index names manifest %s, Result says %s", md.Digest, res.Manifest)
	}
	var man manifest
	unmarshal(t, blob(md, mediaManifest), &man)
	if man.SchemaVersion != 2 || man.MediaType != mediaManifest || len(man.Layers) != 1 {
		t.Fatalf("manifest = %+v", man)
	}
	configData := blob(man.Config, mediaConfig)
	layerData := blob(man.Layers[0], mediaLayer)
	if man.Config.Digest != res.ID || man.Layers[0].Digest != res.Layer || int64(len(out)) != res.Size {
		t.Errorf("Result %+v does not match the manifest %+v (tarball %d bytes)", res, man, len(out))
	}

	var docker []dockerManifest
	unmarshal(t, m["manifest.json"].data, &docker)
	want := []dockerManifest{{
		Config:   "blobs/sha256/" + strings.TrimPrefix(res.ID, "sha256:"),
		RepoTags: []string{"registry.example:5000/dns/kubernetai:v1"},
		Layers:   []string{"blobs/sha256/" + strings.TrimPrefix(res.Layer, "sha256:")},
	}}
	if !reflect.DeepEqual(docker, want) {
		t.Errorf("manifest.json = %+v, want %+v", docker, want)
	}

	var cfg imageConfig
	unmarshal(t, configData, &cfg)
	if cfg.OS != "linux" || cfg.Architecture != "arm64" {
		t.Errorf("config platform %s", cfg.Platform)
	}
	diffID := digestOf(gunzip(t, layerData))
	if !reflect.DeepEqual(cfg.RootFS.DiffIDs, []string{diffID}) || cfg.RootFS.Type != "layers" || res.DiffID != diffID {
		t.Errorf("rootfs = %+v, Result's diff ID %s; want the uncompressed layer's digest %s", cfg.RootFS, res.DiffID, diffID)
	}
	c := cfg.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/coredns"}) ||
		!slices.Equal(c.Cmd, []string{"-conf", "/etc/coredns/Corefile"}) || c.WorkingDir != "/etc/coredns" {
		t.Errorf("config = %+v", c)
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	if want := []string{"53/tcp", "53/udp", "8080/tcp", "8181/tcp", "9153/tcp"}; !slices.Equal(ports, want) {
		t.Errorf("exposed ports %v, want %v", ports, want)
	}
	if c.Labels["org.opencontainers.image.title"] != "kubernetai" {
		t.Errorf("labels %v", c.Labels)
	}
	if len(cfg.History) != 1 {
		t.Errorf("history %+v: want one entry, for the one layer", cfg.History)
	}
}

// TestLayer checks the root file system: every path, its type, mode and
// owner, and what the files hold.
func TestLayer(t *testing.T) {
	bin := []byte("\x7fELF the binary")
	tests := []struct {
		name       string
		noCap      bool
		capability string // the binary's security.capability xattr, hex
	}{
		{"with capability", false, "0100000200040000000000000000000000000000"},
		{"without", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, res := assembleTest(t, bin, Options{NoBindCapability: tt.noCap})
			layer := byName(readTar(t, out))["blobs/sha256/"+strings.TrimPrefix(res.Layer, "sha256:")]
			files := readTar(t, gunzip(t, layer.data))
			type meta struct {
				typ      byte
				mode     int64
				uid, gid int
			}
			want := map[string]meta{
				"coredns":                           {tar.TypeReg, 0o755, 0, 0},
				"etc/":                              {tar.TypeDir, 0o755, 0, 0},
				"etc/coredns/":                      {tar.TypeDir, 0o755, 0, 0},
				"etc/group":                         {tar.TypeReg, 0o644, 0, 0},
				"etc/passwd":                        {tar.TypeReg, 0o644, 0, 0},
				"etc/ssl/":                          {tar.TypeDir, 0o755, 0, 0},
				"etc/ssl/certs/":                    {tar.TypeDir, 0o755, 0, 0},
				"etc/ssl/certs/ca-certificates.crt": {tar.TypeReg, 0o644, 0, 0},
				"home/":                             {tar.TypeDir, 0o755, 0, 0},
				"home/nonroot/":                     {tar.TypeDir, 0o700, 65532, 65532},
				"root/":                             {tar.TypeDir, 0o700, 0, 0},
				"tmp/":                              {tar.TypeDir, 0o1777, 0, 0},
			}
			got := map[string]meta{}
			for _, f := range files {
				got[f.hdr.Name] = meta{f.hdr.Typeflag, f.hdr.Mode, f.hdr.Uid, f.hdr.Gid}
				if !f.hdr.ModTime.Equal(time.Unix(0, 0)) {
					t.Errorf("%s: mtime %v, want the epoch", f.hdr.Name, f.hdr.ModTime)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("layer entries:\n got %v\nwant %v", got, want)
			}
			if n := names(files); !slices.IsSorted(n) {
				t.Errorf("entries not in order: %v", n)
			}
			m := byName(files)
			if !bytes.Equal(m["coredns"].data, bin) {
				t.Errorf("/coredns holds %q", m["coredns"].data)
			}
			if xattr := hex.EncodeToString([]byte(m["coredns"].hdr.PAXRecords["SCHILY.xattr.security.capability"])); xattr != tt.capability {
				t.Errorf("/coredns security.capability = %s, want %q", xattr, tt.capability)
			}
			if !strings.Contains(string(m["etc/passwd"].data), "\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n") ||
				!strings.HasPrefix(string(m["etc/passwd"].data), "root:x:0:0:") {
				t.Errorf("/etc/passwd:\n%s", m["etc/passwd"].data)
			}
			if string(m["etc/group"].data) != "root:x:0:\nnonroot:x:65532:\n" {
				t.Errorf("/etc/group:\n%s", m["etc/group"].data)
			}
			if !x509.NewCertPool().AppendCertsFromPEM(m["etc/ssl/certs/ca-certificates.crt"].data) {
				t.Errorf("the CA bundle in the image holds no certificate")
			}
		})
	}
}

// TestReproducible: the same inputs give the same bytes; what changes the
// image changes its digests, and the date is every file's mtime.
func TestReproducible(t *testing.T) {
	certs, err := readCACerts(testCACerts(t))
	if err != nil {
		t.Fatal(err)
	}
	platform := Platform{OS: "linux", Architecture: "amd64"}
	build := func(bin string, o Options) ([]byte, *Result) {
		out, res, err := assemble([]byte(bin), certs, platform, Labels("v1.15.0", "local", o.Created), o)
		if err != nil {
			t.Fatal(err)
		}
		return out, res
	}
	base, baseRes := build("one", Options{})
	again, _ := build("one", Options{})
	if !bytes.Equal(base, again) {
		t.Fatal("two builds of the same inputs differ")
	}
	when := time.Date(2026, 12, 4, 12, 30, 15, 500, time.UTC)
	tests := []struct {
		name     string
		bin      string
		o        Options
		sameBase bool // the layer is unchanged (only the config differs)
	}{
		{"other binary", "two", Options{}, false},
		{"other tag", "one", Options{Tag: "kubernetai:v2"}, true},
		{"dated", "one", Options{Created: when}, false},
		{"label", "one", Options{Labels: map[string]string{"a": "b"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, res := build(tt.bin, tt.o)
			if bytes.Equal(out, base) {
				t.Fatal("same tarball as the base image")
			}
			if (res.Layer == baseRes.Layer) != tt.sameBase {
				t.Errorf("layer %s, base %s: want same %v", res.Layer, baseRes.Layer, tt.sameBase)
			}
			if tt.name == "other tag" && (res.ID != baseRes.ID || res.Manifest != baseRes.Manifest) {
				t.Errorf("a tag changed the image's digests: %+v vs %+v", res, baseRes)
			}
			if tt.name == "label" && res.ID == baseRes.ID {
				t.Errorf("a label left the config digest as it was")
			}
			if !tt.o.Created.IsZero() {
				for _, f := range readTar(t, out) {
					if want := when.Truncate(time.Second); !f.hdr.ModTime.Equal(want) {
						t.Errorf("%s: mtime %v, want %v", f.hdr.Name, f.hdr.ModTime, want)
					}
				}
			}
		})
	}
}

func TestParseTag(t *testing.T) {
	tests := []struct {
		ref, name, tag string
		err            string
	}{
		{"kubernetai", "kubernetai", "latest", ""},
		{"kubernetai:v0.1.0", "kubernetai", "v0.1.0", ""},
		{"ghcr.io/acme/kubernetai:Main_1", "ghcr.io/acme/kubernetai", "Main_1", ""},
		{"localhost:5000/kubernetai", "localhost:5000/kubernetai", "latest", ""},
		{"localhost/dns/core-dns__x:1", "localhost/dns/core-dns__x", "1", ""},
		{"a.b-c/x", "a.b-c/x", "latest", ""},
		{"Kubernetai", "", "", "lower-case"},
		{"kubernetai:", "", "", "the tag must be"},
		{"kubernetai:-x", "", "", "the tag must be"},
		{"kubernetai@sha256:abcd", "", "", "a digest cannot be given"},
		{"acme//kubernetai", "", "", "lower-case"},
		{"acme/kube..rnetai", "", "", "lower-case"},
		{"acme/kube___rnetai", "", "", "lower-case"},
		{"host:99999/kubernetai", "", "", "bad registry host"},
		{"-host.io/kubernetai", "", "", "bad registry host"},
		{"", "", "", "lower-case"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			name, tag, err := parseTag(tt.ref)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseTag = %q, %q, %v; want error %q", name, tag, err, tt.err)
				}
				return
			}
			if err != nil || name != tt.name || tag != tt.tag {
				t.Fatalf("parseTag = %q, %q, %v; want %q, %q", name, tag, err, tt.name, tt.tag)
			}
		})
	}
}

func TestFullName(t *testing.T) {
	tests := map[string]string{
		"kubernetai":                   "docker.io/library/kubernetai",
		"acme/kubernetai":              "docker.io/acme/kubernetai",
		"ghcr.io/acme/kubernetai":      "ghcr.io/acme/kubernetai",
		"localhost/kubernetai":         "localhost/kubernetai",
		"registry:5000/dns/kubernetai": "registry:5000/dns/kubernetai",
	}
	for in, want := range tests {
		if got := fullName(in); got != want {
			t.Errorf("fullName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceDateEpoch(t *testing.T) {
	tests := []struct {
		value string
		want  time.Time
		err   bool
	}{
		{"", time.Time{}, false},
		{"0", time.Unix(0, 0).UTC(), false},
		{"1764849600", time.Unix(1764849600, 0).UTC(), false},
		{"yesterday", time.Time{}, true},
		{"-5", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Setenv("SOURCE_DATE_EPOCH", tt.value)
		got, err := SourceDateEpoch()
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("SOURCE_DATE_EPOCH=%q: %v, %v; want %v, error %v", tt.value, got, err, tt.want, tt.err)
		}
	}
}

// goBinary builds a small Go program with the given environment, for
// Write's tests, which read a real binary's build information.
func goBinary(t *testing.T, env ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	src := map[string]string{
		"go.mod":  "module example.org/hello\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() { println(\"hello\") }\n",
	}
	for name, body := range src {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "hello")
}

// TestWrite writes a real static binary's image to a file, and refuses
// what cannot make an image without touching an existing file.
func TestWrite(t *testing.T) {
	static := goBinary(t, "CGO_ENABLED=0")
	cgo := goBinary(t, "CGO_ENABLED=1")
	certs := testCACerts(t)
	noCerts := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(noCerts, []byte("no certificates here\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	output := filepath.Join(dir, "out", "image.tar")
	res, err := Write(output, Options{Binary: static, CACerts: certs})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(output); fi.Mode().Perm() != 0o644 || res.Size != int64(len(data)) {
		t.Errorf("output mode %v, %d bytes; Result says %d", fi.Mode(), len(data), res.Size)
	}
	if want := "linux/" + goarch(t); res.Platform.String() != want {
		t.Errorf("platform %s, want %s", res.Platform, want)
	}
	layer := byName(readTar(t, data))["blobs/sha256/"+strings.TrimPrefix(res.Layer, "sha256:")]
	bin, _ := os.ReadFile(static)
	if !bytes.Equal(byName(readTar(t, gunzip(t, layer.data)))["coredns"].data, bin) {
		t.Error("/coredns in the image is not the binary")
	}
	var cfg imageConfig
	unmarshal(t, byName(readTar(t, data))["blobs/sha256/"+strings.TrimPrefix(res.ID, "sha256:")].data, &cfg)
	if cfg.Config.Labels["org.opencontainers.image.title"] != "coredns" {
		t.Errorf("a binary without kubernetai is labelled %v", cfg.Config.Labels)
	}
	if entries, _ := os.ReadDir(filepath.Dir(output)); len(entries) != 1 {
		t.Errorf("temporary files left beside the output: %v", entries)
	}

	tests := []struct {
		name   string
		output string
		o      Options
		err    string
	}{
		{"cgo binary", output, Options{Binary: cgo, CACerts: certs}, "built with CGO_ENABLED=1"},
		{"not a Go binary", output, Options{Binary: certs, CACerts: certs}, "reading Go build information"},
		{"no binary", output, Options{CACerts: certs}, "no binary given"},
		{"missing binary", output, Options{Binary: filepath.Join(dir, "nope"), CACerts: certs}, "no such file"},
		{"missing CA bundle", output, Options{Binary: static, CACerts: filepath.Join(dir, "nope.pem")}, "apt-get install ca-certificates"},
		{"CA bundle without certificates", output, Options{Binary: static, CACerts: noCerts}, "holds no PEM certificate"},
		{"bad tag", output, Options{Binary: static, CACerts: certs, Tag: "UPPER"}, "image tag"},
		{"output is a directory", dir, Options{Binary: static, CACerts: certs}, "is a directory"},
		{"output ends in a slash", dir + "/x/", Options{Binary: static, CACerts: certs}, "give a file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Write(tt.output, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Write = %v, want an error with %q", err, tt.err)
			}
			if now, _ := os.ReadFile(output); !bytes.Equal(now, data) {
				t.Error("a failed Write changed the existing image")
			}
		})
	}
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
