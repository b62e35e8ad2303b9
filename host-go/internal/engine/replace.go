package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const (
	// maxQuarantine bounds how many objects one replacement may leave out
	// before it gives up and retries later.
	maxQuarantine = 8

	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
	// retryCost: a failed replacement waits at least this many times as
	// long as the attempt took, so that one that keeps failing uses at
	// most a fifth of a CPU, however big the state it replays.
	retryCost = 4
)

// replace takes a held slot whose instance died and rebuilds it in the
// background: the caller (a query that is answering SERVFAIL) does not
// wait. Apply waits for it like for any busy instance.
func (e *Engine) replace(g *generation, s *slot, cause error) {
	e.count(cause)
	e.renew(g, s, fmt.Errorf("it failed: %w", cause))
}

// renew rebuilds the instance of a held slot from the state, in the
// background, for the reason why.
func (e *Engine) renew(g *generation, s *slot, why error) {
	if !g.pool.startRebuild(s) {
		_ = s.in.Close(context.Background()) // closing or retired: no replacement
		return
	}
	go e.rebuild(g, s, why)
}

// rebuild gives the slot a fresh instance holding the current state,
// retrying with backoff until it succeeds or the generation is retired
// (the Engine closes or swaps modules).
func (e *Engine) rebuild(g *generation, s *slot, why error) {
	defer g.pool.rebuilds.Done()
	_ = s.in.Close(context.Background())
	wait := retryMin
	for {
		began := time.Now()
		in, seq, err := e.replica(g.mod)
		if err == nil {
			s.in, s.fresh = in, true
			e.replacements.Add(1)
			e.cfg.Logf("kubernetai engine: replaced a core instance (%v); state replayed up to change %d", why, seq)
			g.pool.release(s, seq)
			return
		}
		e.replaceFailures.Add(1)
		wait = max(wait, retryCost*time.Since(began))
		e.cfg.Logf("kubernetai engine: replacing a core instance failed, retrying in %v: %v", wait.Round(time.Millisecond), err)
		g.pool.setState(s, slotDown)
		select {
		case <-g.done:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
		g.pool.setState(s, slotRebuilding)
	}
}

// replica builds a fresh instance of mod holding the state at the latest change
// and returns it with that change's number. When the core fails during
// the replay, the replay is run again one object per call to find an
// object the core fails on by itself; that object is quarantined (left
// out of replays until it changes) and the replica is built again. A
// replay that runs out of memory is no object's fault, and fails.
func (e *Engine) replica(mod *Module) (*instance, uint64, error) {
	for range maxQuarantine + 1 {
		snap := e.state.snapshot()
		in, _, err := e.replay(mod, snap, applyChunkEvents)
		if err == nil {
			return in, snap.seq, nil
		}
		if errors.Is(err, ErrOutOfMemory) {
			return nil, 0, err
		}
		in, culprit, err := e.replay(mod, snap, 1)
		if err == nil {
			return in, snap.seq, nil // not an object's fault: a one-off cut-off, say
		}
		if culprit == nil {
			return nil, 0, err
		}
		if e.state.quarantine(culprit.stanza, &culprit.replayEvent) {
			e.quarantined.Add(1)
			e.cfg.Logf("kubernetai engine: stanza %d: leaving %s %q out of the core, which fails on it: %v",
				culprit.stanza+1, culprit.Kind, culprit.Key, err)
		}
	}
	return nil, 0, fmt.Errorf("the core fails on more than %d objects", maxQuarantine)
}

// failedEvent locates the first event of a replay batch that failed.
type failedEvent struct {
	stanza int
	replayEvent
}

// replay makes an instance of mod and feeds it a snapshot: configure, host info,
// every stanza's objects in chunks of at most batch events (see
// chunk.go), then the synced flags. On failure the instance is closed
// and, if an apply call failed, the first event of its chunk is returned. Each call is bounded
// by the Engine's CallTimeout, which the instance enforces.
func (e *Engine) replay(mod *Module, snap *snapshot, batch int) (*instance, *failedEvent, error) {
	in, _, err := e.instantiate(context.Background(), mod)
	if err != nil {
		return nil, nil, err
	}
	failed, err := e.feed(in, snap, batch)
	if err != nil {
		_ = in.Close(context.Background())
		return nil, failed, err
	}
	return in, nil, nil
}

func (e *Engine) feed(in *instance, snap *snapshot, batch int) (*failedEvent, error) {
	ctx := context.Background()
	if len(snap.host.LocalIPs) > 0 || len(snap.host.Search) > 0 {
		if err := in.SetHost(ctx, snap.host); err != nil {
			return nil, err
		}
	}
	chunk := make([]Event, 0, min(batch, applyChunkEvents))
	for i := range snap.stanzas {
		s := &snap.stanzas[i]
		for start := 0; start < len(s.events); {
			rest := s.events[start:]
			n := chunkLen(len(rest), batch, func(j int) []byte { return rest[j].Object })
			chunk = chunk[:0]
			for j := range n {
				chunk = append(chunk, rest[j].Event)
			}
			// The serial as now: see stanzaState.serial.
			if _, err := in.Apply(ctx, uint32(i), int64(s.serial), chunk); err != nil {
				return &failedEvent{i, s.events[start]}, err
			}
			start += n
		}
	}
	for i := range snap.stanzas {
		if snap.stanzas[i].synced {
			if err := in.SetSynced(ctx, uint32(i), true); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}
