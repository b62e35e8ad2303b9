package engine

import (
	"context"
	"errors"
)

// A batch of events reaches the core in chunks, whether it is applied live
// (Engine.Apply) or replayed into a replacement (Engine.feed), so that no
// replica's memory grows to hold a whole initial list (RATIONALE.md).
//
// Chunking does not change what a change is. A live batch stays one
// change (one seq): spread hands the batch to an instance it holds, which
// gets every chunk before it is released, so no query and no other change
// sees the instance between chunks; the mirror records the batch whole,
// after the first instance tried every chunk, so a replacement's snapshot
// holds all of the batch or none of it, never a part. An instance that
// fails on a chunk gets none of the following ones: it is dead, and its
// replacement replays the mirror. Every chunk of a batch carries the same
// now, so the serials after the last chunk are those one call would have
// reported.
const (
	// applyChunkEvents and applyChunkBytes bound one apply call: big
	// enough to amortise the call, small enough to keep the guest's copy
	// of the arguments modest.
	applyChunkEvents = 512
	applyChunkBytes  = 4 << 20
)

// chunkLen is how many of n events, from the first, go into one apply
// call: at most maxEvents (itself at most applyChunkEvents) and
// applyChunkBytes of objects, but always at least one event, however big.
// object(i) is the JSON of event i.
func chunkLen(n, maxEvents int, object func(i int) []byte) int {
	maxEvents = min(maxEvents, applyChunkEvents)
	size, i := 0, 0
	for ; i < n && i < maxEvents; i++ {
		size += len(object(i))
		if i > 0 && size > applyChunkBytes {
			break
		}
	}
	return i
}

// chunked is what applyChunks did.
type chunked struct {
	report ApplyReport // the chunks' reports, merged
	// n is how many events, from the first, the instance applied and
	// keeps: all of them, or with judge the chunks before the first that
	// did not fit. full says one did not fit.
	n    int
	full bool
	// size is the instance's memory when it held the n events.
	size uint64
}

// applyChunks applies events to one stanza of one instance, chunk by
// chunk, and returns the reports merged: counts summed, problems in
// order, the serials after the last chunk. An empty batch is still one
// call, for its report. It stops at the first failure, which kills the
// instance.
//
// With judge (the instance tries a batch first, Engine.Apply), it also
// stops after a chunk that does not fit: one for which the instance was
// refused memory, or after which its memory grew to less than
// memoryMargin free. The chunk's events are then left out of n, and the
// instance holds part of a batch it must not keep.
func applyChunks(ctx context.Context, in *instance, stanza uint32, now int64, events []Event, judge bool) (chunked, error) {
	c := chunked{size: in.memorySize()}
	for start := 0; ; {
		end := start + chunkLen(len(events)-start, applyChunkEvents, func(i int) []byte { return events[start+i].Object })
		r, err := in.Apply(ctx, stanza, now, events[start:end])
		if judge && (errors.Is(err, ErrOutOfMemory) || err == nil && !fits(in, c.size)) {
			c.full = true
			return c, nil
		}
		if err != nil {
			return c, err
		}
		if start == 0 {
			c.report = r
		} else {
			c.report.merge(&r)
		}
		c.n, c.size = end, in.memorySize()
		if start = end; start >= len(events) {
			return c, nil
		}
	}
}

// memoryMargin is the share of an instance's memory limit that must stay
// free after a batch, or the batch does not fit (1/8: 32 MiB of the
// default 256 MiB, 2 MiB of 16 MiB). Queries take memory beyond the
// state (answers, transfer pages, the arguments of each call), and a
// replacement replays the state in an order and in chunks of its own, so
// its memory ends up laid out otherwise than that of the instance that
// judged the batch: a state that fills its limit exactly would have
// instances run out of memory on a big answer, or in a replay. An eighth
// covers both with room for the next changes, and costs little: memory is
// committed only where the guest writes.
const memoryMargin = 8

// fits reports whether the memory of in keeps its margin after a call
// that began with a memory of before bytes. A call that did not grow the
// memory fits whatever the margin: the instance held it already.
func fits(in *instance, before uint64) bool {
	if in.outOfMemory() {
		return false
	}
	size, limit := in.memorySize(), in.memoryLimit()
	return size <= before || size <= limit-limit/memoryMargin
}

// merge adds the report of the next chunk of the same batch.
func (r *ApplyReport) merge(next *ApplyReport) {
	r.Applied += next.Applied
	r.Skipped += next.Skipped
	r.Problems = append(r.Problems, next.Problems...)
	r.Serials = next.Serials
}
