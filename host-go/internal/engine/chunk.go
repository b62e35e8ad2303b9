package engine

import "context"

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

// applyChunks applies events to one stanza of one instance, chunk by
// chunk, and returns the reports merged: counts summed, problems in
// order, the serials after the last chunk. An empty batch is still one
// call, for its report. It stops at the first failure, which kills the
// instance.
func applyChunks(ctx context.Context, in *instance, stanza uint32, now int64, events []Event) (ApplyReport, error) {
	var report ApplyReport
	for start := 0; ; {
		end := start + chunkLen(len(events)-start, applyChunkEvents, func(i int) []byte { return events[start+i].Object })
		r, err := in.Apply(ctx, stanza, now, events[start:end])
		if err != nil {
			return ApplyReport{}, err
		}
		if start == 0 {
			report = r
		} else {
			report.merge(&r)
		}
		if start = end; start >= len(events) {
			return report, nil
		}
	}
}

// merge adds the report of the next chunk of the same batch.
func (r *ApplyReport) merge(next *ApplyReport) {
	r.Applied += next.Applied
	r.Skipped += next.Skipped
	r.Problems = append(r.Problems, next.Problems...)
	r.Serials = next.Serials
}
