package builder

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Module is one --with spec: a module to require, at an optional version,
// optionally replaced by a local directory.
type Module struct {
	Path    string // module path, e.g. github.com/kubernetai/kubernetai/host-go
	Version string // "" (latest), a semantic version, or any other go get query
	Dir     string // absolute directory of a local replacement, or ""
}

var (
	// modulePathRE is deliberately loose: it catches typos and shell
	// accidents (spaces, a stray '@' or '='); the go command judges the rest.
	modulePathRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~+/-]*$`)
	// semverRE matches canonical versions, pseudo-versions included.
	semverRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// isSemver reports whether v can be written into go.mod as is. Anything else
// (latest, a branch, a commit) has to be resolved by go get first.
func isSemver(v string) bool { return semverRE.MatchString(v) }

// ParseWith parses module[@version][=path]. A relative path is resolved
// against cwd, because the build runs in a temporary directory where it
// would mean nothing.
func ParseWith(spec, cwd string) (Module, error) {
	bad := func(reason string) (Module, error) {
		return Module{}, fmt.Errorf("--with: %q: %s", spec, reason)
	}
	left, dir, hasDir := strings.Cut(spec, "=")
	path, version, hasVersion := strings.Cut(left, "@")
	switch {
	case path == "":
		return bad("empty module path")
	case !modulePathRE.MatchString(path) || strings.HasSuffix(path, "/") || strings.Contains(path, "//"):
		return bad("malformed module path")
	case hasVersion && version == "":
		return bad("empty version")
	case strings.ContainsAny(version, " \t@="):
		return bad("malformed version")
	case hasDir && dir == "":
		return bad("empty path")
	case hasDir && version != "" && !isSemver(version):
		// go get cannot resolve a query for a module that a replace
		// points at a directory, so only a plain version makes sense here.
		return bad("a version next to a local path must look like v1.2.3")
	}
	m := Module{Path: path, Version: version}
	if hasDir {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		m.Dir = filepath.Clean(dir)
	}
	return m, nil
}

// checkLocal verifies that a replacement directory holds the module it
// claims to. Pointing at the repository root instead of host-go is an easy
// mistake, and go's own message for it arrives only after a slow tidy.
func checkLocal(m Module) error {
	data, err := os.ReadFile(filepath.Join(m.Dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("--with %s: %s is not a Go module: %v", m.Path, m.Dir, err)
	}
	declared := moduleLine(data)
	if declared != m.Path {
		return fmt.Errorf("--with %s: %s/go.mod declares module %q", m.Path, m.Dir, declared)
	}
	return nil
}

// moduleLine returns the path from a go.mod's module directive, or "".
func moduleLine(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if unq, err := strconv.Unquote(rest); err == nil {
			return unq
		}
		return rest
	}
	return ""
}
