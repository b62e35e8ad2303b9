package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ApplyResult is what Apply did with a batch.
type ApplyResult struct {
	// ApplyReport is the core's report of the events the instances
	// applied: the whole batch, or the part of it that fit.
	ApplyReport
	// Refused is how many events, at the end of the batch, were refused
	// because with them an instance's memory would not keep its margin
	// free; 0 when the batch fit.
	Refused int
	// RefusedObjects names the first few of them ("service ns/name").
	RefusedObjects []string
	// Wanted estimates, when events were refused, a memory limit with
	// which they would fit, margin included.
	Wanted uint64
	// Held is how many of the stanza's objects are held back after the
	// batch: refused by it or an earlier one, and not applied since.
	// While any is, the instances are told the stanza is not synced, so
	// that the names they do not know answer SERVFAIL.
	Held int
}

// errHeldPart is why an instance that tried a batch that did not fit is
// replaced: it holds part of it.
var errHeldPart = errors.New("it holds part of a batch refused for lack of memory")

// Apply applies a batch of events to one stanza in every instance, at the
// current time, and returns the report of one of them (replicas agree).
// Every event needs a Key; Objects are kept by reference for replays, so
// do not modify them afterwards. Apply calls are serialised; queries keep
// flowing on the instances Apply is not using.
//
// Each instance gets the batch in chunks of at most applyChunkEvents
// events (see applyChunks), so that no instance's memory grows to hold a
// whole initial list at once; the report sums the chunks'.
//
// The batch is tried on one instance first, which waits for one if every
// instance is being replaced. If it does not fit there (the instance is
// refused memory, or keeps less than 1/memoryMargin of its limit free),
// it is tried again on a fresh replica of the state, since an instance
// that has seen many changes may lack room that a replica has. When it
// does not fit a fresh replica either, the chunks that fit are applied
// everywhere and the rest of the batch is refused: the other instances
// never see it, the instance that tried it is rebuilt from the state
// without it, and its objects are held back (ApplyResult.Held) until a
// later event of each is applied.
//
// An error means the core failed on the batch in every instance that
// tried it; those are replaced, leaving out any object the core fails on
// by itself (counted in stats.Quarantined).
func (e *Engine) Apply(stanza int, events []KeyedEvent) (ApplyResult, error) {
	if err := e.checkStanza(stanza); err != nil {
		return ApplyResult{}, err
	}
	for i := range events {
		if err := events[i].check(); err != nil {
			return ApplyResult{}, fmt.Errorf("event %d: %w", i, err)
		}
		if events[i].Key == "" {
			return ApplyResult{}, fmt.Errorf("event %d: %v %v without a key", i, events[i].Change, events[i].Kind)
		}
	}
	e.changeMu.Lock()
	defer e.changeMu.Unlock()
	g := e.gen.Load()
	probe := g.pool.takeStale(e.state.nextSeq(), true)
	if probe == nil {
		return ApplyResult{}, ErrClosed
	}
	now := e.now().Unix()
	plain := make([]Event, len(events)) // what crosses, shared by the instances
	for i := range events {
		plain[i] = events[i].Event
	}
	c, err := e.try(g, probe, uint32(stanza), now, plain)
	fit := len(events)
	var res ApplyResult
	if err == nil && c.full {
		fit = c.n
		res = refusal(events[fit:], c.size, e.state.objectCount()+fit, probe.in.memoryLimit())
	}
	reported := err == nil && (fit > 0 || len(events) == 0)
	// The events that fit enter the mirror now, with the serial the
	// instance reported: a replacement snapshots the state with all of
	// them or none, never a part.
	rec := e.state.recordEvents(stanza, events[:fit], events[fit:], c.report.maxSerial(), reported)
	told := func(ctx context.Context, in *instance) {
		if rec.syncedChanged {
			_ = in.SetSynced(ctx, uint32(stanza), rec.synced)
		}
	}
	switch {
	case err != nil:
		e.replace(g, probe, err)
	case c.full:
		e.renew(g, probe, errHeldPart)
	default:
		probe.fresh = false
		told(context.Background(), probe.in)
		if err := probe.in.Err(); err != nil {
			e.replace(g, probe, err)
		} else {
			g.pool.release(probe, rec.seq)
		}
	}
	report, lastErr := c.report, err
	e.spread(rec.seq, func(ctx context.Context, in *instance) {
		if fit > 0 || len(events) == 0 {
			c, err := applyChunks(ctx, in, uint32(stanza), now, plain[:fit], false)
			if err != nil {
				lastErr = err
				return
			}
			if !reported {
				report, reported = c.report, true
			}
		}
		told(ctx, in)
	})
	if !reported && lastErr != nil {
		return ApplyResult{}, fmt.Errorf("applying %d events to stanza %d: %w", len(events), stanza+1, lastErr)
	}
	res.ApplyReport, res.Held = report, rec.held
	return res, nil
}

// try applies a batch to the instance of s, judging whether it fits (see
// applyChunks). A batch that does not fit an instance that has seen live
// changes is tried again on a fresh replica of the state, which takes the
// slot's place: memory only grows, so a worn instance may lack room that
// a replica of the same state has.
func (e *Engine) try(g *generation, s *slot, stanza uint32, now int64, events []Event) (chunked, error) {
	ctx := context.Background()
	c, err := applyChunks(ctx, s.in, stanza, now, events, true)
	if err != nil || !c.full || s.fresh {
		return c, err
	}
	in, _, err := e.replica(g.mod) // at the change s has seen: Apply holds changeMu
	if err != nil {
		e.cfg.Logf("kubernetai engine: a batch did not fit in an instance's memory; a fresh replica to try it again failed: %v", err)
		return c, nil
	}
	_ = s.in.Close(ctx)
	s.in, s.fresh = in, true
	return applyChunks(ctx, s.in, stanza, now, events, true)
}

// refusal describes the refused events: the first few objects, and a
// memory limit with which they would fit, from what the memory held when
// it held the events that fit (size bytes for held objects).
func refusal(refused []KeyedEvent, size uint64, held int, limit uint64) ApplyResult {
	res := ApplyResult{Refused: len(refused)}
	for i := range refused[:min(len(refused), 3)] {
		res.RefusedObjects = append(res.RefusedObjects, refused[i].Kind.String()+" "+refused[i].Key)
	}
	per := float64(limit) / float64(min(len(refused), applyChunkEvents)) // nothing held: the first chunk did not fit
	if held > 0 {
		per = float64(size) / float64(held)
	}
	need := per * float64(held+len(refused)) * memoryMargin / (memoryMargin - 1)
	mib := uint64(math.Ceil(need / (1 << 20)))
	res.Wanted = max(mib<<20, limit+1<<20)
	return res
}
