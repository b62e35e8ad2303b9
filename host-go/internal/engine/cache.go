package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// What a compile made of the cache (Module.CacheResult).
const (
	CacheHit     = "hit"     // the machine code was read from the cache
	CacheMiss    = "miss"    // compiled, and the machine code written to the cache
	CacheInvalid = "invalid" // the cache could not be used (a bad entry, a failed write): compiled without it
)

const (
	// cacheKeep is how many modules' entries the cache keeps, the most
	// recently used: enough to swap back and forth between releases.
	cacheKeep = 8
	// sumsFile lists every file of an entry with its size and SHA-256.
	sumsFile   = "sha256sums"
	sumsHeader = "kubernetai wasm_cache 1"
)

// cacheMu serialises compiles that use a cache, so that no two write or
// check one entry at once (two server blocks with the same directory, a
// reload beside a swap).
var cacheMu sync.Mutex

// Cache keeps the machine code of compiled core modules in a directory
// (`wasm_cache DIR`), one entry per component digest, so that compiling a
// module compiled before by this build on this machine reads its code
// instead (RATIONALE.md, "The compilation cache"). A nil *Cache is no
// cache. An entry that cannot be used is never a failed compile: it is
// removed, logged, and the module compiled without it.
type Cache struct {
	dir  string
	logf func(format string, args ...any)
}

// OpenCache makes dir (and its parents) if needed and checks that files
// can be written in it; logf reports entries that cannot be used.
func OpenCache(dir string, logf func(format string, args ...any)) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	probe, err := os.CreateTemp(abs, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write in %s: %w", abs, err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Cache{dir: abs, logf: logf}, nil
}

// Dir is the cache's directory, absolute.
func (c *Cache) Dir() string { return c.dir }

// Compile is the package's Compile, reading the module's machine code
// from the cache when it holds it and writing it there when not.
func (c *Cache) Compile(ctx context.Context, component []byte) (*Module, error) {
	core, err := prepare(component)
	if err != nil {
		return nil, err
	}
	digest := digestOf(component)
	if c == nil {
		return compileCore(ctx, core, digest, nil)
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	e := entry{dir: filepath.Join(c.dir, digest)}
	before, err := e.check()
	if err != nil {
		c.logf("wasm_cache %s: module %s: %v; compiling it again", c.dir, short(digest), err)
		_ = os.RemoveAll(e.dir)
		before = nil
	}
	m, err := c.compileInto(ctx, core, digest, e)
	if err != nil {
		// Not the cache's fault if the module does not compile without it.
		m, err2 := compileCore(ctx, core, digest, nil)
		_ = os.RemoveAll(e.dir)
		if err2 != nil {
			return nil, err2
		}
		c.logf("wasm_cache %s: module %s: %v; compiled without the cache", c.dir, short(digest), err)
		m.cacheResult = CacheInvalid
		return m, nil
	}
	m.cacheResult = CacheMiss
	if hit, err := e.record(before); err != nil {
		c.logf("wasm_cache %s: module %s: %v; its next compile will not find it", c.dir, short(digest), err)
		_ = os.RemoveAll(e.dir)
	} else if hit {
		m.cacheResult = CacheHit
	}
	c.prune(digest)
	return m, nil
}

// compileInto compiles core with wazero's file cache at the entry's
// directory, which the Module then owns.
func (c *Cache) compileInto(ctx context.Context, core []byte, digest string, e entry) (*Module, error) {
	cc, err := wazero.NewCompilationCacheWithDir(e.dir)
	if err != nil {
		return nil, err
	}
	m, err := compileCore(ctx, core, digest, cc)
	if err != nil {
		_ = cc.Close(ctx)
		return nil, err
	}
	return m, nil
}

// prune removes the entries of modules other than keep beyond the
// cacheKeep most recently used (by the time their sums were last
// written or touched).
func (c *Cache) prune(keep string) {
	dirents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type used struct {
		name string
		at   time.Time
	}
	var entries []used
	for _, d := range dirents {
		if !d.IsDir() || !isDigest(d.Name()) || d.Name() == keep {
			continue
		}
		fi, err := os.Stat(filepath.Join(c.dir, d.Name(), sumsFile))
		if err != nil {
			entries = append(entries, used{d.Name(), time.Time{}}) // unfinished or broken: oldest
			continue
		}
		entries = append(entries, used{d.Name(), fi.ModTime()})
	}
	slices.SortFunc(entries, func(a, b used) int { return b.at.Compare(a.at) })
	for _, u := range entries[min(len(entries), cacheKeep-1):] {
		_ = os.RemoveAll(filepath.Join(c.dir, u.name))
	}
}

func isDigest(name string) bool {
	_, err := hex.DecodeString(name)
	return err == nil && len(name) == 2*sha256.Size
}

// entry is one module's directory in the cache: wazero's files (under a
// directory named for wazero's version, the CPU and the OS) and sumsFile,
// which lists them so that a file changed, cut short or replaced since it
// was written is found before wazero reads it. wazero checks only part of
// what it reads (the machine code's CRC, not the function offsets), and
// fails the compile on an entry it cannot read rather than compiling.
type entry struct{ dir string }

// fileSum is one file of an entry: its path in the entry, size and
// SHA-256 (hex).
type fileSum struct {
	path string
	size int64
	sum  string
	info os.FileInfo
}

// check verifies the entry against its sums and returns its files; none
// when there is no entry. An entry that does not match is an error.
func (e entry) check() ([]fileSum, error) {
	listed, err := e.readSums()
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(e.dir); errors.Is(serr, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, errors.New("its entry has no list of files (an interrupted write)")
	}
	if err != nil {
		return nil, err
	}
	found, err := e.files(true)
	if err != nil {
		return nil, err
	}
	if len(found) != len(listed) {
		return nil, fmt.Errorf("its entry has %d files, its list %d", len(found), len(listed))
	}
	for i, f := range found {
		l := listed[i]
		if f.path != l.path || f.size != l.size || f.sum != l.sum {
			return nil, fmt.Errorf("%s in its entry is not the file written there (size %d, listed %d)", f.path, f.size, l.size)
		}
	}
	return found, nil
}

// record writes the entry's sums after a compile and says whether the
// compile read the entry (a hit: wazero wrote nothing). On a miss, files
// wazero did not write now (entries of another wazero version, CPU or
// instrumentation) are removed.
func (e entry) record(before []fileSum) (hit bool, err error) {
	after, err := e.files(false)
	if err != nil {
		return false, err
	}
	if len(before) > 0 && sameFiles(before, after) {
		now := time.Now()
		return true, os.Chtimes(filepath.Join(e.dir, sumsFile), now, now)
	}
	var kept []fileSum
	for _, f := range after {
		if slices.ContainsFunc(before, func(b fileSum) bool { return b.path == f.path && os.SameFile(b.info, f.info) }) {
			_ = os.Remove(filepath.Join(e.dir, f.path))
			continue
		}
		kept = append(kept, f)
	}
	if len(kept) == 0 {
		return false, errors.New("wazero wrote no file in its entry")
	}
	for i := range kept {
		if kept[i].sum, err = fileSHA256(filepath.Join(e.dir, kept[i].path)); err != nil {
			return false, err
		}
	}
	return false, e.writeSums(kept)
}

func sameFiles(a, b []fileSum) bool {
	return slices.EqualFunc(a, b, func(x, y fileSum) bool {
		return x.path == y.path && x.size == y.size && os.SameFile(x.info, y.info) && x.info.ModTime().Equal(y.info.ModTime())
	})
}

// files lists the entry's regular files but sumsFile, by path, hashing
// them when hash is set. Anything else in it (a link, a device) is an
// error.
func (e entry) files(hash bool) ([]fileSum, error) {
	var out []fileSum
	err := filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(e.dir, path)
		if rel == sumsFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s in its entry is not a regular file", rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := fileSum{path: filepath.ToSlash(rel), size: info.Size(), info: info}
		if hash {
			if f.sum, err = fileSHA256(path); err != nil {
				return err
			}
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readSums reads sumsFile: its header, then one line per file, "SUM SIZE
// PATH", by path. Anything else is an error.
func (e entry) readSums() ([]fileSum, error) {
	b, err := os.ReadFile(filepath.Join(e.dir, sumsFile))
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	if !sc.Scan() || sc.Text() != sumsHeader {
		return nil, errors.New("its list of files is not one")
	}
	var out []fileSum
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 3)
		if len(fields) != 3 {
			return nil, errors.New("its list of files is not one")
		}
		size, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || !isDigest(fields[0]) || (len(out) > 0 && out[len(out)-1].path >= fields[2]) {
			return nil, errors.New("its list of files is not one")
		}
		out = append(out, fileSum{sum: fields[0], size: size, path: fields[2]})
	}
	if len(out) == 0 || !strings.HasSuffix(string(b), "\n") {
		return nil, errors.New("its list of files is cut short")
	}
	return out, nil
}

// writeSums replaces sumsFile with files' sums, atomically.
func (e entry) writeSums(files []fileSum) error {
	var b strings.Builder
	b.WriteString(sumsHeader + "\n")
	for _, f := range files {
		fmt.Fprintf(&b, "%s %d %s\n", f.sum, f.size, f.path)
	}
	tmp, err := os.CreateTemp(e.dir, sumsFile+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(e.dir, sumsFile))
}

// short is a digest's first 12 hex digits, for logs.
func short(digest string) string { return digest[:min(12, len(digest))] }
