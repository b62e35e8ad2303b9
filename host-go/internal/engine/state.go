package engine

import (
	"cmp"
	"slices"
	"sync"
)

// state is what every instance must hold, kept on the Go side so that a
// replacement instance can be brought up to date: the latest JSON of every
// object per stanza, kind and key (the bytes the feeds hold, not a copy:
// RATIONALE.md, "One copy of each object"), the synced flags and the host
// info; and
// beside it what the instances do not hold because it did not fit in
// their memory (held).
//
// seq numbers the changes. An instance that has seen change n holds
// exactly the state at n, so the Engine knows which instances still need
// a change and a replay knows where it stands.
type state struct {
	mu      sync.Mutex
	seq     uint64
	host    HostInfo // its slices are replaced, never modified: snapshots share them
	stanzas []stanzaState
}

type stanzaState struct {
	// synced is the source's word that it has delivered its initial
	// state (SetSynced); the instances hear coreSynced.
	synced bool
	// serial is the largest SOA serial the core reported after the
	// stanza's last batch, 0 when it reported none. Replays pass it as
	// now: the WIT defines a serial as the time of the last change DNS can
	// see, so a replica rebuilt "at" that time reports the serial the
	// others have. Two cases fall short: the core keeps one serial for a
	// stanza's multicluster zones and one for the rest, and a replay gives
	// both the larger; and a stanza with reverse zones only reports no
	// serial, so its replay runs at 0 although its reverse zones' SOA
	// (in negative answers) carries the time of the last change.
	serial  uint32
	objects map[objectKey]object
	// held are the latest events of objects refused for lack of memory
	// (Engine.Apply): in no instance, and not in objects, which keep the
	// version before. A later event of the object replaces its entry, or
	// removes it when that event is applied.
	held map[objectKey]KeyedEvent
}

// coreSynced is what the instances hear of the stanza: synced, and
// holding everything its source delivered. Until then the core answers a
// name it does not know with SERVFAIL, not a NXDOMAIN that may be wrong.
func (s *stanzaState) coreSynced() bool { return s.synced && len(s.held) == 0 }

type objectKey struct {
	kind Kind
	key  string
}

type object struct {
	json    []byte
	version uint64 // seq of the change that stored it
	// quarantined objects are left out of replays: the core failed on
	// them alone. A new version of the object lifts the quarantine.
	quarantined bool
}

func newState(stanzas int) *state {
	st := &state{stanzas: make([]stanzaState, stanzas)}
	for i := range st.stanzas {
		st.stanzas[i].objects = make(map[objectKey]object)
		st.stanzas[i].held = make(map[objectKey]KeyedEvent)
	}
	return st
}

// recorded is what a change did to a stanza's state.
type recorded struct {
	seq uint64
	// synced is the stanza's coreSynced after the change; syncedChanged
	// says that the instances must hear it.
	synced, syncedChanged bool
	held                  int // objects held back after the change
}

// recordEvents stores a batch in the mirror as the next change: applied
// are the events the instances apply, refused those held back instead.
// Events hold their Object by reference: callers must not modify it
// afterwards. ok says whether an instance applied the batch and reported
// serial.
func (st *state) recordEvents(stanza int, applied, refused []KeyedEvent, serial uint32, ok bool) recorded {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	s := &st.stanzas[stanza]
	was := s.coreSynced()
	for i := range applied {
		e := &applied[i]
		k := objectKey{e.Kind, e.Key}
		delete(s.held, k)
		if e.Change == ChangeDelete {
			delete(s.objects, k)
		} else {
			s.objects[k] = object{json: e.Object, version: st.seq}
		}
	}
	for i := range refused {
		s.held[objectKey{refused[i].Kind, refused[i].Key}] = refused[i]
	}
	if ok {
		s.serial = serial
	}
	return recorded{seq: st.seq, synced: s.coreSynced(), syncedChanged: s.coreSynced() != was, held: len(s.held)}
}

// objectCount is how many objects the instances hold, every stanza's.
func (st *state) objectCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for i := range st.stanzas {
		n += len(st.stanzas[i].objects)
	}
	return n
}

// nextSeq is the number the next change will get. Only the holder of
// Engine.changeMu records changes, so it stays right until it records.
func (st *state) nextSeq() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.seq + 1
}

// recordSynced stores the source's word and returns the change's number
// and what the instances must hear (coreSynced).
func (st *state) recordSynced(stanza int, synced bool) (uint64, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	st.stanzas[stanza].synced = synced
	return st.seq, st.stanzas[stanza].coreSynced()
}

// recordHost stores host info, which the caller no longer modifies.
func (st *state) recordHost(info HostInfo) uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	st.host = info
	return st.seq
}

// quarantine leaves an object out of later replays, unless it has changed
// since the snapshot that failed on it. It reports whether it did.
func (st *state) quarantine(stanza int, e *replayEvent) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	objects := st.stanzas[stanza].objects
	k := objectKey{e.Kind, e.Key}
	o, ok := objects[k]
	if !ok || o.version != e.version || o.quarantined {
		return false
	}
	o.quarantined = true
	objects[k] = o
	return true
}

// snapshot is the state at one change, ready to replay.
type snapshot struct {
	seq     uint64
	host    HostInfo
	stanzas []stanzaSnapshot
}

type stanzaSnapshot struct {
	synced bool // coreSynced
	serial uint32
	events []replayEvent // upserts, namespaces first, then by kind and key
}

type replayEvent struct {
	KeyedEvent
	version uint64
}

// snapshot copies the state under the lock (references to the JSON, not
// the JSON) and sorts outside it, so Apply is held up as little as possible.
func (st *state) snapshot() *snapshot {
	st.mu.Lock()
	snap := &snapshot{seq: st.seq, host: st.host, stanzas: make([]stanzaSnapshot, len(st.stanzas))}
	for i := range st.stanzas {
		s := &st.stanzas[i]
		events := make([]replayEvent, 0, len(s.objects))
		for k, o := range s.objects {
			if !o.quarantined {
				ev := KeyedEvent{Event{Change: ChangeUpsert, Kind: k.kind, Object: o.json}, k.key}
				events = append(events, replayEvent{ev, o.version})
			}
		}
		snap.stanzas[i] = stanzaSnapshot{synced: s.coreSynced(), serial: s.serial, events: events}
	}
	st.mu.Unlock()
	for i := range snap.stanzas {
		// Namespaces first (Kind's order puts them first): the core may
		// need a namespace to place the objects in it.
		slices.SortFunc(snap.stanzas[i].events, func(a, b replayEvent) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key))
		})
	}
	return snap
}
