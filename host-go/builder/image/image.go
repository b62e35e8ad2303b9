// Package image writes a container image of a CoreDNS binary, without a
// container engine: one layer holding the static binary, CA certificates
// and a non-root user, in a single tarball that is at once a docker-archive
// (manifest.json, for `docker load`) and an OCI image layout (oci-layout,
// index.json, blobs/sha256/..., for `podman load`, `skopeo copy
// oci-archive:` and the like). The same binary and inputs always give the
// same bytes, hence the same digests.
//
// It uses only Go's standard library, like the builder.
package image

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for Options.
const (
	DefaultTag     = "kubernetai:latest"
	DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt" // Debian's ca-certificates
)

// Ports the image exposes: DNS, and the metrics (prometheus), health and
// ready plugins' default ports.
var Ports = []string{"53/udp", "53/tcp", "9153/tcp", "8080/tcp", "8181/tcp"}

// Options says what goes into the image besides the binary.
type Options struct {
	Binary string // the CoreDNS binary (static, Linux); required
	// CACerts is a PEM bundle of CA certificates (DefaultCACerts if empty).
	CACerts string
	// Tag names the image for `docker load` and in the OCI index
	// (DefaultTag if empty).
	Tag string
	// Created dates the image and is every file's modification time. The
	// zero value means the Unix epoch, and no created label.
	Created time.Time
	// Labels are added to the config's labels (org.opencontainers.image.*
	// derived from the binary), replacing any of the same name.
	Labels map[string]string
	// NoBindCapability leaves out the file capability that lets the
	// non-root user bind port 53 (see netBindServiceCapability).
	NoBindCapability bool
}

// Result describes a written image.
type Result struct {
	Tag      string
	Platform Platform
	ID       string // the config's digest: the image ID docker (classic store) and podman show
	Manifest string // the OCI manifest's digest, as a registry knows it
	Layer    string // the layer's digest (gzip-compressed, as pushed)
	DiffID   string // the digest of the layer's uncompressed tar
	Size     int64  // bytes of the tarball
}

// Check validates the options without reading the binary, so that a caller
// can refuse bad ones before it spends minutes building the binary: the tag,
// the CA bundle (it must hold at least one certificate) and the output path.
func (o Options) Check(output string) error {
	if _, _, err := parseTag(o.tag()); err != nil {
		return err
	}
	if _, err := readCACerts(o.caCerts()); err != nil {
		return err
	}
	if output == "" || strings.HasSuffix(output, "/") {
		return fmt.Errorf("image output %q: give a file name", output)
	}
	if fi, err := os.Stat(output); err == nil && fi.IsDir() {
		return fmt.Errorf("image output %q is a directory: give a file name", output)
	}
	return nil
}

func (o Options) tag() string {
	if o.Tag == "" {
		return DefaultTag
	}
	return o.Tag
}

func (o Options) caCerts() string {
	if o.CACerts == "" {
		return DefaultCACerts
	}
	return o.CACerts
}

func readCACerts(path string) ([]byte, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (on Debian: apt-get install ca-certificates)", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", path)
	}
	return pem, nil
}

// Write writes the image of o.Binary to the tarball at output. It writes a
// temporary file beside output and renames it into place, so output is
// never left half written.
func Write(output string, o Options) (*Result, error) {
	if err := o.Check(output); err != nil {
		return nil, err
	}
	blob, res, err := Build(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(blob)
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), output)
	}
	if err != nil {
		return nil, fmt.Errorf("image output: %w", err)
	}
	return res, nil
}

// Build makes the image tarball in memory.
func Build(o Options) ([]byte, *Result, error) {
	if o.Binary == "" {
		return nil, nil, errors.New("image: no binary given")
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, nil, err
	}
	bi, err := buildinfo.ReadFile(o.Binary)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading Go build information: %w", o.Binary, err)
	}
	platform, err := PlatformOf(bi)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.Binary, err)
	}
	certs, err := readCACerts(o.caCerts())
	if err != nil {
		return nil, nil, err
	}
	coredns, kubernetai := versions(bi)
	return assemble(bin, certs, platform, Labels(coredns, kubernetai, o.Created), o)
}

// Labels are the config's org.opencontainers.image.* labels for a binary
// with the given CoreDNS and kubernetai versions (kubernetai "" for stock
// CoreDNS, "local" for a plugin built from a directory).
func Labels(coredns, kubernetai string, created time.Time) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.licenses": "Apache-2.0", // CoreDNS's and kubernetai's
	}
	if coredns == "" {
		coredns = "(unknown version)"
	}
	switch kubernetai {
	case "":
		l["org.opencontainers.image.title"] = "coredns"
		l["org.opencontainers.image.description"] = "CoreDNS " + coredns
		l["org.opencontainers.image.source"] = "https://github.com/coredns/coredns"
	default:
		l["org.opencontainers.image.title"] = "kubernetai"
		l["org.opencontainers.image.description"] = fmt.Sprintf("CoreDNS %s with the kubernetai plugin (%s)", coredns, kubernetai)
		l["org.opencontainers.image.source"] = "https://github.com/kubernetai/kubernetai"
		if kubernetai != "local" {
			l["org.opencontainers.image.version"] = kubernetai
		}
	}
	if !created.IsZero() {
		l["org.opencontainers.image.created"] = created.UTC().Format(time.RFC3339)
	}
	return l
}

// Media types of the OCI image spec.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type runConfig struct {
	User         string              `json:"User"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	Env          []string            `json:"Env"`
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
	Comment   string `json:"comment,omitempty"`
}

type imageConfig struct {
	Created string `json:"created"`
	Platform
	Config runConfig `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []history `json:"history"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

type blob struct {
	digest string // sha256:hex
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{"sha256:" + hex.EncodeToString(sum[:]), data}
}

func (b blob) path() string { return "blobs/sha256/" + strings.TrimPrefix(b.digest, "sha256:") }

func (b blob) descriptor(mediaType string) descriptor {
	return descriptor{MediaType: mediaType, Digest: b.digest, Size: int64(len(b.data))}
}

// assemble builds the layer, config, manifest and index, and packs them with
// the docker-archive manifest into one tarball. o.Labels are added to labels.
func assemble(bin, certs []byte, platform Platform, labels map[string]string, o Options) ([]byte, *Result, error) {
	maps.Copy(labels, o.Labels)
	name, tag, err := parseTag(o.tag())
	if err != nil {
		return nil, nil, err
	}
	mtime := o.Created
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	mtime = mtime.UTC().Truncate(time.Second)

	layerTar, err := writeTar(rootfs(bin, certs, !o.NoBindCapability), mtime)
	if err != nil {
		return nil, nil, fmt.Errorf("layer: %w", err)
	}
	diffID := newBlob(layerTar).digest
	gz, err := gzipped(layerTar)
	if err != nil {
		return nil, nil, fmt.Errorf("layer: %w", err)
	}
	layer := newBlob(gz)

	ports := map[string]struct{}{}
	for _, p := range Ports {
		ports[p] = struct{}{}
	}
	cfg := imageConfig{
		Created:  mtime.Format(time.RFC3339),
		Platform: platform,
		Config: runConfig{
			User:         strconv.Itoa(UID) + ":" + strconv.Itoa(GID),
			ExposedPorts: ports,
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"SSL_CERT_FILE=" + CACertsPath,
			},
			Entrypoint: []string{BinaryPath},
			Cmd:        []string{"-conf", CorefilePath},
			WorkingDir: ConfigDir,
			Labels:     labels,
		},
		History: []history{{
			Created:   mtime.Format(time.RFC3339),
			CreatedBy: "kubernetai image writer",
			Comment:   "/coredns, CA certificates, user " + UserName,
		}},
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{diffID}
	config, err := jsonBlob(cfg)
	if err != nil {
		return nil, nil, err
	}
	man, err := jsonBlob(manifest{
		SchemaVersion: 2,
		MediaType:     mediaManifest,
		Config:        config.descriptor(mediaConfig),
		Layers:        []descriptor{layer.descriptor(mediaLayer)},
	})
	if err != nil {
		return nil, nil, err
	}
	md := man.descriptor(mediaManifest)
	md.Platform = &platform
	md.Annotations = map[string]string{
		"org.opencontainers.image.ref.name": tag,
		"io.containerd.image.name":          fullName(name) + ":" + tag,
	}
	idx, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []descriptor{md}})
	if err != nil {
		return nil, nil, err
	}
	docker, err := json.Marshal([]dockerManifest{{
		Config:   config.path(),
		RepoTags: []string{o.tag()},
		Layers:   []string{layer.path()},
	}})
	if err != nil {
		return nil, nil, err
	}

	entries := []entry{
		dir("blobs/", 0o755, 0),
		dir("blobs/sha256/", 0o755, 0),
		{name: "index.json", mode: 0o644, data: idx},
		{name: "manifest.json", mode: 0o644, data: docker},
		{name: "oci-layout", mode: 0o644, data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	}
	for _, b := range []blob{layer, config, man} {
		entries = append(entries, entry{name: b.path(), mode: 0o644, data: b.data})
	}
	sortByName(entries)
	out, err := writeTar(entries, mtime)
	if err != nil {
		return nil, nil, err
	}
	return out, &Result{
		Tag:      o.tag(),
		Platform: platform,
		ID:       config.digest,
		Manifest: man.digest,
		Layer:    layer.digest,
		DiffID:   diffID,
		Size:     int64(len(out)),
	}, nil
}

// gzipped compresses a layer (to about a third, for CoreDNS). The gzip
// header carries no name and no time, and compress/flate is deterministic,
// so the same tar always gives the same bytes with a given Go release.
func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func jsonBlob(v any) (blob, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return blob{}, err
	}
	return newBlob(data), nil
}

// parseTag splits NAME[:TAG] (TAG "latest" when absent) and checks it
// against the reference grammar closely enough that docker, podman and
// containerd accept it: lower-case path components separated by ".", "_",
// "__" or "-", an optional registry host[:port] first, no digest.
func parseTag(ref string) (name, tag string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("image tag %q: %s", ref, why)
	}
	if strings.Contains(ref, "@") {
		return bad("a digest cannot be given, only NAME[:TAG]")
	}
	name, tag = ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
		if !validTag(tag) {
			return bad("the tag must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if !validHost(parts[0]) {
			return bad("bad registry host " + strconv.Quote(parts[0]))
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !validComponent(p) {
			return bad("each name component must be lower-case letters and digits, separated by '.', '_', '__' or '-'")
		}
	}
	return name, tag, nil
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for _, c := range t {
		if !isLowerAlnum(c) && !strings.ContainsRune("_.-", c) && !(c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func validComponent(p string) bool {
	if p == "" || !isLowerAlnum(rune(p[0])) || !isLowerAlnum(rune(p[len(p)-1])) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if isLowerAlnum(rune(p[i])) {
			continue
		}
		// A run of separators: ".", "_", "__" or any number of "-".
		j := i
		for j < len(p) && !isLowerAlnum(rune(p[j])) {
			j++
		}
		sep := p[i:j]
		if sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = j - 1
	}
	return true
}

func validHost(h string) bool {
	host, port, hasPort := strings.Cut(h, ":")
	if hasPort {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !isLowerAlnum(c) && c != '-' && !(c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

func isLowerAlnum(c rune) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// fullName is name as docker and containerd spell it in full: on
// docker.io when no registry host is given, in library/ when it is a single
// component.
func fullName(name string) string {
	first, _, _ := strings.Cut(name, "/")
	if strings.Contains(name, "/") && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return name
	}
	if !strings.Contains(name, "/") {
		name = "library/" + name
	}
	return "docker.io/" + name
}

// SourceDateEpoch reads the SOURCE_DATE_EPOCH environment variable
// (reproducible-builds.org): the image's date in seconds since the Unix
// epoch. Unset, it is the zero time (Options.Created's default).
func SourceDateEpoch() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want whole seconds since 1970", v)
	}
	return time.Unix(s, 0).UTC(), nil
}

// Describe is a line that reports a written image.
func Describe(output string, r *Result) string {
	return fmt.Sprintf("%s: %s, %s, %.1f MB, image ID %s, manifest %s",
		output, r.Tag, r.Platform, float64(r.Size)/1e6, r.ID, r.Manifest)
}
