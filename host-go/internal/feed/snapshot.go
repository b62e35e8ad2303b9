package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kubernetai/kubernetai/host-go/internal/engine"
)

// Snapshot serves cluster state exported to a file: a Kubernetes List in
// YAML or JSON, as `kubectl get namespaces,services,endpointslices -A -o
// yaml` prints it (several documents, or plain objects, are fine too).
// It delivers every object of the kinds watched: with no API server to
// apply the watches' selectors, the core applies them.
type Snapshot struct {
	path    string
	watches []engine.Watch
	objects []Object
	// Skipped lists objects left out, each with the reason.
	Skipped []string
	// Poll is how often Run looks for a new version of the file; 0 means
	// never.
	Poll time.Duration
	// Logf reports reloads and files that could not be reloaded.
	Logf func(format string, args ...any)
}

// LoadSnapshot reads a snapshot file, keeping the objects of the kinds
// watches name. A file that cannot be read or parsed is an error; single
// objects that make no sense are skipped and listed in Skipped.
func LoadSnapshot(path string, watches []engine.Watch) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	items, err := splitItems(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &Snapshot{path: path, watches: watches, Logf: func(string, ...any) {}}
	watched := watchedKinds(watches)
	for i, raw := range items {
		o, err := decode(raw)
		if err != nil {
			s.Skipped = append(s.Skipped, fmt.Sprintf("item %d: %v", i+1, err))
			continue
		}
		if watched[o.Kind] {
			s.objects = append(s.objects, o)
		}
	}
	// In kind order, namespaces first (see resources).
	slices.SortStableFunc(s.objects, func(a, b Object) int { return int(a.Kind) - int(b.Kind) })
	return s, nil
}

func (s *Snapshot) String() string { return "snapshot " + s.path }

// Run delivers the snapshot and reports it synced; then, until ctx ends,
// it watches the file and delivers what changed in each new version
// (written in place or renamed over). A version that cannot be read is
// logged and the last good one kept.
func (s *Snapshot) Run(ctx context.Context, sink Sink) error {
	batch := make([]Change, len(s.objects))
	for i, o := range s.objects {
		batch[i] = Change{Object: o}
	}
	sink.Apply(batch)
	sink.Synced()
	if s.Poll <= 0 {
		<-ctx.Done()
		return nil
	}
	seen := stamp(s.path)
	tick := time.NewTicker(s.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := stamp(s.path)
		if now == seen {
			continue
		}
		seen = now
		next, err := LoadSnapshot(s.path, s.watches)
		if err != nil {
			s.Logf("%s: keeping the last version: %v", s, err)
			continue
		}
		if changes := diff(s.objects, next.objects); len(changes) > 0 {
			s.Logf("%s: new version, %d changes", s, len(changes))
			sink.Apply(changes)
		}
		s.objects = next.objects
	}
}

// fileStamp tells versions of a file apart without reading it.
type fileStamp struct {
	size    int64
	modTime time.Time
	inode   uint64
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{size: fi.Size(), modTime: fi.ModTime(), inode: inodeOf(fi)}
}

// diff turns two versions into changes: upserts of new and changed
// objects, then deletes of vanished ones.
func diff(old, next []Object) []Change {
	type key struct {
		kind engine.Kind
		key  string
	}
	keyOf := func(o *Object) key { return key{o.Kind, o.Key()} }
	before := make(map[key]*Object, len(old))
	for i := range old {
		before[keyOf(&old[i])] = &old[i]
	}
	var changes []Change
	for i := range next {
		k := keyOf(&next[i])
		if o, ok := before[k]; !ok || !bytes.Equal(o.JSON, next[i].JSON) {
			changes = append(changes, Change{Object: next[i]})
		}
		delete(before, k)
	}
	for i := range old {
		if _, gone := before[keyOf(&old[i])]; gone {
			changes = append(changes, Change{Object: old[i], Deleted: true})
		}
	}
	return changes
}

// splitItems returns every object in a stream of YAML or JSON documents,
// unpacking Lists.
func splitItems(data []byte) ([]json.RawMessage, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 64*1024)
	var items []json.RawMessage
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		var head struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("document %d: not an object: %w", doc, err)
		}
		if strings.HasSuffix(head.Kind, "List") {
			items = append(items, head.Items...)
			continue
		}
		items = append(items, raw)
	}
}
