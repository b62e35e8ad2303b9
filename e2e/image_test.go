package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/miekg/dns"
)

// imageTarball is the image written by `make image`.
func imageTarball(t *testing.T) string {
	t.Helper()
	path := os.Getenv("KUBERNETAI_IMAGE")
	if path == "" {
		path = "../bin/kubernetai-image.tar"
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("no image at %s (build it with `make image`): %v", abs, err)
	}
	return abs
}

// TestImage reads the image tarball with go-containerregistry, an
// implementation independent of the writer (host-go/builder/image), once as
// a docker-archive (what `docker load` and `crane push` read) and once as an
// OCI image layout (what `skopeo copy oci-archive:` reads); both must
// verify (every digest, size and diff ID) and be the same image. Then it
// takes /coredns out of the layer and runs it as the image's config says,
// on examples/, and asks it a question.
func TestImage(t *testing.T) {
	path := imageTarball(t)

	tag, err := name.NewTag("kubernetai:latest")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("as a docker-archive tagged %s: %v", tag, err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("docker-archive image does not verify: %v", err)
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil || len(manifest) != 1 || !slices.Equal(manifest[0].RepoTags, []string{"kubernetai:latest"}) {
		t.Errorf("manifest.json: %v, %+v; want one image tagged kubernetai:latest", err, manifest)
	}

	ociImg := ociImage(t, path)
	if err := validate.Image(ociImg); err != nil {
		t.Fatalf("OCI layout image does not verify: %v", err)
	}
	for what, get := range map[string]func(v1.Image) (v1.Hash, error){"config": v1.Image.ConfigName, "layer": layerDigest} {
		a, errA := get(img)
		b, errB := get(ociImg)
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s: docker-archive %v (%v), OCI layout %v (%v): want the same", what, a, errA, b, errB)
		}
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
	}
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/coredns"}) ||
		!slices.Equal(c.Cmd, []string{"-conf", "/etc/coredns/Corefile"}) || c.WorkingDir != "/etc/coredns" {
		t.Errorf("config: User %q, Entrypoint %q, Cmd %q, WorkingDir %q", c.User, c.Entrypoint, c.Cmd, c.WorkingDir)
	}
	wantPorts := map[string]struct{}{"53/udp": {}, "53/tcp": {}, "9153/tcp": {}, "8080/tcp": {}, "8181/tcp": {}}
	if !reflect.DeepEqual(c.ExposedPorts, wantPorts) {
		t.Errorf("exposed ports %v, want %v", c.ExposedPorts, wantPorts)
	}
	for _, l := range []string{"title", "description", "source", "licenses"} {
		if c.Labels["org.opencontainers.image."+l] == "" {
			t.Errorf("no label org.opencontainers.image.%s: %v", l, c.Labels)
		}
	}

	files := layerFiles(t, img)
	bin := files["coredns"]
	if bin == nil || bin.hdr.Mode != 0o755 || bin.hdr.Uid != 0 {
		t.Fatalf("/coredns: %+v", bin)
	}
	if want, err := os.ReadFile(corednsBinary(t)); err != nil || !bytes.Equal(bin.data, want) {
		t.Errorf("/coredns in the image is not %s (%v)", corednsBinary(t), err)
	}
	// setcap cap_net_bind_service=+ep, as CoreDNS's own image has it.
	if got := hex.EncodeToString([]byte(bin.hdr.PAXRecords["SCHILY.xattr.security.capability"])); got != "0100000200040000000000000000000000000000" {
		t.Errorf("/coredns security.capability = %q", got)
	}
	for file, line := range map[string]string{"etc/passwd": "nonroot:x:65532:65532:", "etc/group": "nonroot:x:65532:"} {
		if f := files[file]; f == nil || !strings.Contains(string(f.data), "\n"+line) {
			t.Errorf("/%s has no line %q", file, line)
		}
	}
	if f := files["etc/ssl/certs/ca-certificates.crt"]; f == nil || !x509.NewCertPool().AppendCertsFromPEM(f.data) {
		t.Error("/etc/ssl/certs/ca-certificates.crt holds no CA certificate")
	}

	// Run it as the config says: Cmd's -conf /etc/coredns/Corefile, in
	// WorkingDir /etc/coredns (both checked above); here the directory is
	// a temporary one holding examples/.
	exe := filepath.Join(t.TempDir(), "coredns")
	if err := os.WriteFile(exe, bin.data, os.FileMode(bin.hdr.Mode)); err != nil {
		t.Fatal(err)
	}
	s := startBinary(t, exe, exampleFiles(t))
	r := s.ask(t, "udp", "web.shop.svc.cluster.local.", dns.TypeA)
	if got := records(r.Answer); r.Rcode != dns.RcodeSuccess || got != "web.shop.svc.cluster.local. 5 IN A 10.96.0.10" {
		t.Errorf("web.shop.svc.cluster.local A: %s, answer:\n%s", dns.RcodeToString[r.Rcode], got)
	}
}

// ociImage reads the tarball's OCI layout part (oci-layout, index.json,
// blobs/) from a directory it is unpacked into, and returns the one image
// its index names, after checking the index itself.
func ociImage(t *testing.T, path string) v1.Image {
	t.Helper()
	dir := t.TempDir()
	untar(t, path, dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("as an OCI layout: %v", err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("OCI index does not verify: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json names %d manifests, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if ref := d.Annotations["org.opencontainers.image.ref.name"]; ref != "latest" {
		t.Errorf("index.json ref.name %q, want latest", ref)
	}
	if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != runtime.GOARCH {
		t.Errorf("index.json platform %+v", d.Platform)
	}
	img, err := lp.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigest(img v1.Image) (v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(layers) != 1 {
		return v1.Hash{}, errors.New("want one layer")
	}
	return layers[0].DiffID()
}

// untar unpacks the regular files and directories of a tarball into dir.
func untar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("tarball entry %q leaves its directory", h.Name)
		}
		target := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, data, 0o644)
			}
		default:
			t.Fatalf("tarball entry %q: unexpected type %q", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

type layerFile struct {
	hdr  *tar.Header
	data []byte
}

// layerFiles reads the image's only layer, file by file.
func layerFiles(t *testing.T, img v1.Image) map[string]*layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*layerFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = &layerFile{h, data}
	}
}
