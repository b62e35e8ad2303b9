package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func openCache(t *testing.T) (*Cache, *logs) {
	t.Helper()
	var book logs
	c, err := OpenCache(filepath.Join(t.TempDir(), "made", "by", "OpenCache"), book.logf)
	if err != nil {
		t.Fatal(err)
	}
	return c, &book
}

// cachedCompile compiles component through c, checks the result and
// that the module answers, and closes it.
func cachedCompile(t *testing.T, c *Cache, component []byte, want string) {
	t.Helper()
	ctx := context.Background()
	mod, err := c.Compile(ctx, component)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer mod.Close(ctx)
	if got := mod.CacheResult(); got != want {
		t.Errorf("cache result %q, want %q", got, want)
	}
	in := newInstance(t, mod, []Stanza{{Zones: []string{"x."}}})
	q := query("www.x.")
	if out, err := in.Lookup(ctx, q, nil); err != nil || !bytes.Equal(out.Answer.Message, echo(q)) {
		t.Fatalf("Lookup = %v, %v; want the echo", out, err)
	}
}

// entryFiles lists the files of a component's entry, relative to it.
func entryFiles(t *testing.T, c *Cache, component []byte) []string {
	t.Helper()
	var files []string
	root := filepath.Join(c.Dir(), digestOf(component))
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

// The second compile of a module reads the cache, in this process or
// another (a new Cache on the same directory); each module has its own
// entry.
func TestCacheHit(t *testing.T) {
	c, book := openCache(t)
	guest := testGuest(t)
	cachedCompile(t, c, guest, CacheMiss)
	files := entryFiles(t, c, guest)
	if len(files) != 2 || !slices.Contains(files, sumsFile) {
		t.Fatalf("entry files %v, want wazero's file and %s", files, sumsFile)
	}
	cachedCompile(t, c, guest, CacheHit)
	again, err := OpenCache(c.Dir(), book.logf)
	if err != nil {
		t.Fatal(err)
	}
	cachedCompile(t, again, guest, CacheHit)
	if got := entryFiles(t, c, guest); !slices.Equal(got, files) {
		t.Errorf("entry files %v after hits, want %v", got, files)
	}
	// Another component (another digest), same core: its own entry.
	other := append(slices.Clone(guest), 0, 3, 2, 'x', 'y')
	cachedCompile(t, c, other, CacheMiss)
	cachedCompile(t, c, other, CacheHit)
	cachedCompile(t, c, guest, CacheHit)
	if lines := book.take(); len(lines) != 0 {
		t.Errorf("logged %q", lines)
	}
	// Without a cache, nothing is said of one.
	cachedCompile(t, nil, guest, "")
}

// An entry changed after it was written is found before wazero reads
// it: the module compiles as if there were none, the entry is written
// again, and a warning names the option.
func TestCacheCorruptEntry(t *testing.T) {
	guest := testGuest(t)
	damage := map[string]func(t *testing.T, files []string){
		"garbage in every file": func(t *testing.T, files []string) {
			for _, f := range files {
				write(t, f, bytes.Repeat([]byte("garbage "), 100))
			}
		},
		"machine code cut short": func(t *testing.T, files []string) {
			b := read(t, wazeroFile(t, files))
			write(t, wazeroFile(t, files), b[:len(b)/2])
		},
		"machine code emptied": func(t *testing.T, files []string) { write(t, wazeroFile(t, files), nil) },
		"one byte changed": func(t *testing.T, files []string) {
			// In the function offsets, which wazero's CRC does not cover.
			b := read(t, wazeroFile(t, files))
			b[20] ^= 0x40
			write(t, wazeroFile(t, files), b)
		},
		"list of files emptied":  func(t *testing.T, files []string) { write(t, sumsOf(files), nil) },
		"list of files cut":      func(t *testing.T, files []string) { b := read(t, sumsOf(files)); write(t, sumsOf(files), b[:len(b)-3]) },
		"list of files removed":  func(t *testing.T, files []string) { _ = os.Remove(sumsOf(files)) },
		"a stray file":           func(t *testing.T, files []string) { write(t, filepath.Join(filepath.Dir(sumsOf(files)), "stray"), nil) },
		"machine code a symlink": func(t *testing.T, files []string) { symlinkOver(t, wazeroFile(t, files), sumsOf(files)) },
	}
	// One entry written, kept, and put back before each case: a compile
	// less per case.
	c, book := openCache(t)
	cachedCompile(t, c, guest, CacheMiss)
	pristine := map[string][]byte{}
	for _, f := range entryFiles(t, c, guest) {
		path := filepath.Join(c.Dir(), digestOf(guest), f)
		pristine[path] = read(t, path)
	}
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			_ = os.RemoveAll(filepath.Join(c.Dir(), digestOf(guest)))
			var files []string
			for path, b := range pristine {
				write(t, path, b)
				files = append(files, path)
			}
			cachedCompile(t, c, guest, CacheHit) // the entry as written
			spoil(t, files)
			cachedCompile(t, c, guest, CacheMiss)
			lines := book.take()
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "wasm_cache "+c.Dir()+": module "+short(digestOf(guest))) {
				t.Errorf("logged %q, want one warning naming wasm_cache and the module", lines)
			}
			cachedCompile(t, c, guest, CacheHit) // written again
		})
	}
}

// When wazero itself cannot use the entry (here it meets a directory
// where it reads its file), or cannot write in the cache, the module is
// compiled without the cache and the entry removed.
func TestCacheWazeroFails(t *testing.T) {
	guest := testGuest(t)
	c, book := openCache(t)
	cachedCompile(t, c, guest, CacheMiss)
	dir := filepath.Join(c.Dir(), digestOf(guest))
	var files []string
	for _, f := range entryFiles(t, c, guest) {
		files = append(files, filepath.Join(dir, f))
	}
	machine := wazeroFile(t, files)
	_ = os.Remove(machine)
	write(t, filepath.Join(machine, "inside"), []byte("x"))
	if err := (entry{dir: dir}).writeSums(mustFiles(t, dir)); err != nil {
		t.Fatal(err)
	}
	cachedCompile(t, c, guest, CacheInvalid)
	if lines := book.take(); len(lines) != 1 || !strings.Contains(lines[0], "compiled without the cache") {
		t.Errorf("logged %q, want one warning", lines)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the entry wazero failed on is still there: %v", err)
	}
	cachedCompile(t, c, guest, CacheMiss)

	// The directory gone, a file in its place: compiled without it.
	if err := os.RemoveAll(c.Dir()); err != nil {
		t.Fatal(err)
	}
	write(t, c.Dir(), []byte("not a directory"))
	cachedCompile(t, c, guest, CacheInvalid)
	if lines := book.take(); len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "compiled without the cache") {
		t.Errorf("logged %q, want a warning", lines)
	}
}

// An entry of another wazero version (its own directory in the entry) is
// not read, and is removed when the module is compiled again.
func TestCacheStaleEntry(t *testing.T) {
	guest := testGuest(t)
	c, book := openCache(t)
	dir := filepath.Join(c.Dir(), digestOf(guest))
	stale := filepath.Join(dir, "wazero-v0.0.1-old", strings.Repeat("ab", 32))
	write(t, stale, []byte("WAZEVO\x06v0.0.1 and then some"))
	if err := (entry{dir: dir}).writeSums(mustFiles(t, dir)); err != nil {
		t.Fatal(err)
	}
	cachedCompile(t, c, guest, CacheMiss)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale entry is still there: %v", err)
	}
	cachedCompile(t, c, guest, CacheHit)
	if lines := book.take(); len(lines) != 0 {
		t.Errorf("logged %q", lines)
	}
}

// A directory that cannot be made or written is refused when opened.
func TestOpenCacheRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	write(t, file, []byte("x"))
	for _, path := range []string{file, filepath.Join(file, "below")} {
		if _, err := OpenCache(path, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("OpenCache(%s) = %v, want a refusal", path, err)
		}
	}
}

// The cache keeps the cacheKeep most recently used entries.
func TestCachePrune(t *testing.T) {
	c, _ := openCache(t)
	var names []string
	base := time.Now().Add(-time.Hour)
	for i := range cacheKeep + 3 {
		name := fmt.Sprintf("%064x", i)
		names = append(names, name)
		sums := filepath.Join(c.Dir(), name, sumsFile)
		write(t, sums, []byte(sumsHeader+"\n"))
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(sums, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(c.Dir(), "not-ours", "x"), nil)
	c.prune(names[0]) // the oldest, but the one just used
	left, _ := os.ReadDir(c.Dir())
	var got []string
	for _, d := range left {
		got = append(got, d.Name())
	}
	want := append([]string{names[0]}, names[len(names)-cacheKeep+1:]...)
	want = append(want, "not-ours")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlinkOver(t *testing.T, path, target string) {
	t.Helper()
	_ = os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// wazeroFile is the machine code among an entry's files.
func wazeroFile(t *testing.T, files []string) string {
	t.Helper()
	for _, f := range files {
		if filepath.Base(f) != sumsFile {
			return f
		}
	}
	t.Fatalf("no machine code in %v", files)
	return ""
}

func sumsOf(files []string) string {
	for _, f := range files {
		if filepath.Base(f) == sumsFile {
			return f
		}
	}
	return ""
}

// mustFiles lists an entry's files with their sums.
func mustFiles(t *testing.T, dir string) []fileSum {
	t.Helper()
	files, err := entry{dir: dir}.files(true)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
