package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// Snapshot serves cluster state exported to a file: a Kubernetes List in
// YAML or JSON, as `kubectl get namespaces,services,endpointslices -A -o
// yaml` prints it (several documents, or plain objects, are fine too).
// It delivers every object of the kinds watched: with no API server to
// apply the watches' selectors, the core applies them.
//
// Run follows the file, and a new version is trusted only so far (see
// follow): it is read once it is stable; items that cannot be read are
// reported with every version that has them, and do not turn into
// deletes; and a version that would delete most objects is held back
// until it has stayed unchanged for a while.
type Snapshot struct {
	path    string
	watches []engine.Watch
	// objects is the version delivered: what the sink holds. While deletes
	// are held back, it keeps the objects of an older version.
	objects []Object
	// unreadable are the items of the version last read that could not be
	// read.
	unreadable []unreadable
	// Poll is how often Run looks for a new version of the file; 0 means
	// never.
	Poll time.Duration
	// Logf reports new versions and what becomes of versions held back;
	// Warnf versions that cannot be read and versions or deletes held
	// back.
	Logf, Warnf func(format string, args ...any)
	// hold is how long a suspect version must stay unchanged
	// (suspectHold; tests shorten it).
	hold time.Duration
}

// unreadable is an item of a snapshot that could not be read.
type unreadable struct {
	problem string // "item 3: Service without a name"
	kind    engine.Kind
	// anyKind: what kind of object it is cannot be told (not an object,
	// no kind field), so it may be an object of any kind.
	anyKind bool
}

// suspectHold is how long a version that would delete most objects must
// stay unchanged before it is applied. A writer caught in the middle of
// rewriting the file (truncated, then written) changes it again within
// seconds; an operator who empties a cluster on purpose can wait this
// long for the names to go, and sees the version held back in the log.
const suspectHold = 30 * time.Second

// LoadSnapshot reads a snapshot file, keeping the objects of the kinds
// watches name. A file that cannot be read or parsed is an error; items
// that cannot be read are listed (Unreadable) and reported to the sink by
// Run. The file is read again if it changed while it was read.
func LoadSnapshot(path string, watches []engine.Watch) (*Snapshot, error) {
	objects, bad, err := readVersion(path, watches)
	for try := 1; errors.Is(err, errChanged) && try < 3; try++ {
		objects, bad, err = readVersion(path, watches)
	}
	if pe := (*fs.PathError)(nil); err != nil && !errors.As(err, &pe) && !errors.Is(err, errChanged) {
		return nil, fmt.Errorf("%s: %w", path, err) // a parse error, which does not name the file
	}
	if err != nil {
		return nil, err
	}
	discard := func(string, ...any) {}
	return &Snapshot{path: path, watches: watches, objects: objects, unreadable: bad, Logf: discard, Warnf: discard, hold: suspectHold}, nil
}

// errChanged: the file changed while it was read.
var errChanged = errors.New("changed while it was read")

// readVersion reads the objects of the kinds watched from a snapshot
// file, and the items that cannot be read (see parseSnapshot), or returns
// errChanged if the file changed while it was read. The file is parsed as
// it is read, never held whole (see items.go).
func readVersion(path string, watches []engine.Watch) ([]Object, []unreadable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	objects, bad, err := parseSnapshotFrom(f, watches)
	if after, serr := statStamp(path); serr != nil || after != stampOf(fi) {
		return nil, nil, fmt.Errorf("%s: %w", path, errChanged)
	}
	return objects, bad, err
}

// parseSnapshot is parseSnapshotFrom of a file's contents.
func parseSnapshot(data []byte, watches []engine.Watch) ([]Object, []unreadable, error) {
	return parseSnapshotFrom(bytes.NewReader(data), watches)
}

// parseSnapshotFrom reads the objects of the kinds watched from a
// snapshot, in kind order (namespaces first, see resources), and lists the
// items that cannot be read. Items of kinds the core does not read are
// left out quietly: a `kubectl get all` dump holds many.
func parseSnapshotFrom(r snapshotReader, watches []engine.Watch) ([]Object, []unreadable, error) {
	watched := watchedKinds(watches)
	items, err := readItems(r, func(raw []byte) itemResult {
		o, err := decode(raw)
		if err == nil && !watched[o.Kind] {
			// Dropped at once, not kept while its document is read; as
			// quiet as a kind the core does not read.
			return itemResult{err: &decodeError{kind: o.Kind, notServed: true, err: fmt.Errorf("%s: not watched", o.Kind)}}
		}
		return itemResult{o, err}
	})
	if err != nil {
		return nil, nil, err
	}
	var objects []Object
	var bad []unreadable
	for i, it := range items {
		var de *decodeError
		switch {
		case errors.As(it.err, &de) && de.notServed:
		case errors.As(it.err, &de) && (de.anyKind || watched[de.kind]):
			bad = append(bad, unreadable{problem: fmt.Sprintf("item %d: %v", i+1, it.err), kind: de.kind, anyKind: de.anyKind})
		case it.err == nil:
			objects = append(objects, it.obj)
		}
	}
	slices.SortStableFunc(objects, func(a, b Object) int { return int(a.Kind) - int(b.Kind) })
	return objects, bad, nil
}

// Unreadable lists the items of the file that could not be read, each
// with the reason.
func (s *Snapshot) Unreadable() []string {
	out := make([]string, len(s.unreadable))
	for i, u := range s.unreadable {
		out[i] = u.problem
	}
	return out
}

func (s *Snapshot) String() string { return "snapshot " + s.path }

// Run delivers the snapshot and reports it synced; then, until ctx ends,
// it follows the file and delivers what changed in each new version
// (written in place or renamed over).
func (s *Snapshot) Run(ctx context.Context, sink Sink) error {
	batch := make([]Change, len(s.objects))
	for i, o := range s.objects {
		batch[i] = Change{Object: o}
	}
	if len(s.unreadable) > 0 {
		sink.Skipped(s.Unreadable())
	}
	sink.Apply(batch)
	sink.Synced()
	if s.Poll <= 0 {
		<-ctx.Done()
		return nil
	}
	s.follow(ctx, sink)
	return nil
}

// follow checks the file every Poll until ctx ends.
func (s *Snapshot) follow(ctx context.Context, sink Sink) {
	f := s.follower()
	tick := time.NewTicker(s.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.check(sink, f)
		}
	}
}

// follower is what follow knows of the file between checks.
type follower struct {
	seen    fileStamp    // at the last check
	handled fileStamp    // the version last read (or refused)
	held    *heldVersion // a suspect version waiting, or nil
}

// follower starts following from the version loaded.
func (s *Snapshot) follower() *follower {
	now, _ := statStamp(s.path)
	return &follower{seen: now, handled: now}
}

// check is one look at the file. A version is read once it has looked
// the same (size, modification time, file) on two checks in a row, and
// did not change while it was read: a file being written is not. A
// version that cannot be read is logged once and the last good one kept.
// A suspect version (see apply) is applied once it has stayed unchanged
// for hold, and forgotten if the file changes first.
func (s *Snapshot) check(sink Sink, f *follower) {
	now, _ := statStamp(s.path)
	stable := now == f.seen
	f.seen = now
	if f.held != nil && now != f.held.stamp {
		s.Logf("%s: the version held back changed before it was applied", s)
		f.held = nil
	}
	switch {
	case !stable:
	case f.held != nil:
		if time.Since(f.held.since) >= s.hold {
			s.Logf("%s: applying the version held back, unchanged for %v: %s", s, s.hold, f.held.summary)
			s.deliver(sink, f.held.changes, f.held.objects)
			f.held = nil
		}
	case now != f.handled:
		objects, bad, err := readVersion(s.path, s.watches)
		if errors.Is(err, errChanged) {
			f.seen = fileStamp{} // not stable after all: two checks again
			return
		}
		f.handled = now
		if err == nil {
			f.held = s.apply(sink, objects, bad, now)
		}
		if err != nil {
			s.Warnf("%s: keeping the last version: %v", s, err)
		}
	}
}

// heldVersion is a suspect version waiting to be applied.
type heldVersion struct {
	stamp   fileStamp
	since   time.Time
	changes []Change
	objects []Object
	summary string
}

// apply reads a new version and delivers what changed, reporting the
// items that cannot be read. Deletes of objects of a kind some of whose
// items cannot be read are held back until a version reads cleanly: the
// object may be one of those items. A version that would delete more than
// half the objects delivered is suspect (a file truncated, or caught
// while rewritten): it is returned, held back, for follow to apply once
// it has stayed unchanged for hold.
func (s *Snapshot) apply(sink Sink, objects []Object, bad []unreadable, stamp fileStamp) *heldVersion {
	s.unreadable = bad
	if len(bad) > 0 {
		sink.Skipped(s.Unreadable())
	}
	changes, kept := diff(s.objects, objects, bad)
	if n := len(kept) - len(objects); n > 0 {
		s.Warnf("%s: %d deletes held back: the new version has items that cannot be read (%s), which may be "+
			"those objects; they apply once a version reads cleanly", s, n, bad[0].problem)
	}
	deletes := 0
	for _, c := range changes {
		if c.Deleted {
			deletes++
		}
	}
	summary := fmt.Sprintf("%d changes, %d of them deletes", len(changes), deletes)
	if deletes > len(s.objects)/2 {
		s.Warnf("%s: held back: the new version would delete %d of the %d objects; it is applied if the file "+
			"stays unchanged for %v", s, deletes, len(s.objects), s.hold)
		return &heldVersion{stamp: stamp, since: time.Now(), changes: changes, objects: kept, summary: summary}
	}
	if len(changes) > 0 {
		s.Logf("%s: new version, %s", s, summary)
	}
	s.deliver(sink, changes, kept)
	return nil
}

// deliver hands the changes of a version to the sink; objects is then
// what the sink holds.
func (s *Snapshot) deliver(sink Sink, changes []Change, objects []Object) {
	if len(changes) > 0 {
		sink.Apply(changes)
	}
	s.objects = objects
}

// fileStamp tells versions of a file apart without reading it.
type fileStamp struct {
	size    int64
	modTime time.Time
	inode   uint64
}

// statStamp is the stamp of path; the zero stamp when it cannot be
// statted (a missing file is a version of its own).
func statStamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return stampOf(fi), nil
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), modTime: fi.ModTime(), inode: inodeOf(fi)}
}

// diff turns two versions into changes: upserts of new and changed
// objects, then deletes of vanished ones, except for kinds some items of
// which the new version could not read (bad): those objects are kept.
// kept is what the sink holds once it has the changes.
func diff(old, next []Object, bad []unreadable) (changes []Change, kept []Object) {
	type key struct {
		kind engine.Kind
		key  string
	}
	keyOf := func(o *Object) key { return key{o.Kind, o.Key()} }
	before := make(map[key]*Object, len(old))
	for i := range old {
		before[keyOf(&old[i])] = &old[i]
	}
	kept = slices.Clone(next)
	for i := range next {
		k := keyOf(&next[i])
		if o, ok := before[k]; !ok || !bytes.Equal(o.JSON, next[i].JSON) {
			changes = append(changes, Change{Object: next[i]})
		}
		delete(before, k)
	}
	unsure := func(kind engine.Kind) bool {
		return slices.ContainsFunc(bad, func(u unreadable) bool { return u.anyKind || u.kind == kind })
	}
	for i := range old {
		if _, gone := before[keyOf(&old[i])]; !gone {
			continue
		}
		if unsure(old[i].Kind) {
			kept = append(kept, old[i])
		} else {
			changes = append(changes, Change{Object: old[i], Deleted: true})
		}
	}
	return changes, kept
}
