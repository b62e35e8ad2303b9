package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Every guest call has a deadline: its caller's, if any, but no later
// than a time limit that depends on the call (defaultLookupTimeout for
// the calls that serve a query: lookup, transfer, autopath, metadata;
// defaultCallTimeout for the rest; or the Engine's Config). The calling
// goroutine only writes the deadline into the instance before the call
// and clears it after (RATIONALE.md says why no more). One watchdog
// goroutine per Module looks at the instances at the deadlines and, for a
// call past its deadline or whose caller's context has ended, sets the
// instance's interrupt global (wasm.Instrument):
// the guest traps when it next yields, and the call returns a *CallError
// wrapping ErrCutOff. Calls whose context can be cancelled are looked at
// every watchdogTick, to notice a cancellation.
//
// The interrupt global is written by the watchdog (Go) and read by the
// guest (machine code the race detector does not see); no Go code reads
// it. wazero's interpreter, used where it has no compiler, would read it
// from Go: there the read races with the watchdog's write, benignly (a
// word-sized store of 0 or 1).

// ErrCutOff is wrapped by the *CallError of a guest call that the host cut
// off because it ran past its deadline or its caller's context ended. The
// error also wraps the context's error when that is why.
var ErrCutOff = errors.New("cut off")

// errTimeLimit says a call ran past the host's limit rather than past a
// deadline of its caller.
var errTimeLimit = errors.New("ran past the host's time limit")

const (
	// defaultLookupTimeout bounds each lookup, transfer, autopath and
	// metadata call whose context has no earlier deadline (CoreDNS's have
	// none).
	defaultLookupTimeout = time.Second
	// defaultCallTimeout bounds every other call (configure, apply, set-*).
	defaultCallTimeout = 30 * time.Second

	// watchdogTick is how late the watchdog may look at a call, and how
	// often at most it looks at calls with short deadlines.
	watchdogTick = 10 * time.Millisecond

	// cutOff replaces the deadline of a call the watchdog has cut off.
	cutOff = -1
)

// epoch anchors deadlines, kept as nanoseconds since epoch on the
// monotonic clock so they fit an atomic int64. time.Since(epoch) reads the
// monotonic clock only, which is cheaper than time.Now.
var epoch = time.Now()

func sinceEpoch() int64 { return int64(time.Since(epoch)) }

// limits bound an instance: the time of its calls and its memory.
type limits struct {
	query  time.Duration // lookup, transfer, autopath and metadata: they serve a query
	other  time.Duration
	memory uint64 // bytes of linear memory; 0 means defaultMemoryLimit
}

var defaultLimits = limits{query: defaultLookupTimeout, other: defaultCallTimeout}

func (l limits) of(f fn) time.Duration {
	switch f {
	case fnLookup, fnTransfer, fnAutopath, fnMetadata:
		return l.query
	}
	return l.other
}

// begin publishes the deadline of the call f is about to make, for the
// watchdog. ctx is kept too if it can be cancelled (Done is not nil),
// for the watchdog to look at every tick: under ctxMu, with the deadline,
// so the watchdog always sees a context together with the deadline of the
// same call. Contexts that cannot be cancelled (CoreDNS's) take no lock.
//
// begin also marks the instance's memory as in use, so that it is not
// unmapped under the call (linearMemory); a closed instance's memory
// refuses, and the call fails without running.
func (in *instance) begin(ctx context.Context, f fn) {
	if in.entered = in.memory.enter(); !in.entered {
		in.fail(coreFuncs[f].wit, errInstanceClosed)
	}
	now := sinceEpoch()
	d := now + int64(in.limits.of(f))
	if t, ok := ctx.Deadline(); ok {
		d = min(d, max(int64(t.Sub(epoch)), 1)) // 0 means no call: an expired deadline is 1
	}
	if ctx.Done() == nil {
		in.deadline.Store(d)
		in.watch.callBegan(d)
		return
	}
	in.ctxMu.Lock()
	in.ctx = ctx
	in.deadline.Store(d)
	in.ctxMu.Unlock()
	in.watch.callBegan(min(d, now+int64(watchdogTick)))
}

// end clears what begin published. If the watchdog cut the call off, the
// instance is dead (its interrupt global stays set), even if the call
// happened to return first: *err becomes the cut-off.
func (in *instance) end(ctx context.Context, f fn, err *error) {
	var d int64
	if in.ctx != nil { // only this goroutine writes in.ctx: reading it is safe
		in.ctxMu.Lock()
		in.ctx = nil
		d = in.deadline.Swap(0)
		in.ctxMu.Unlock()
	} else {
		d = in.deadline.Swap(0)
	}
	if d == cutOff {
		*err = in.cutOff(ctx, f)
	}
	if in.entered {
		in.entered = false
		if in.memory.exit() && *err != nil { // cut off by Module.Close
			in.err = &CallError{Func: coreFuncs[f].wit, Err: errInstanceClosed}
			*err = in.err
		}
	}
}

// cutOff records that the call was cut off, replacing the trap it caused.
func (in *instance) cutOff(ctx context.Context, f fn) error {
	what := coreFuncs[f].wit
	var ce *CallError
	if errors.As(in.err, &ce) {
		what = ce.Func // the guest call that trapped
	}
	cause := ctx.Err()
	if t, ok := ctx.Deadline(); ok && cause == nil && !time.Now().Before(t) {
		cause = context.DeadlineExceeded // passed, though the context's timer has not fired yet
	}
	if cause == nil {
		cause = fmt.Errorf("%w of %v", errTimeLimit, in.limits.of(f))
	}
	in.err = &CallError{Func: what, Err: fmt.Errorf("%w: %w", ErrCutOff, cause)}
	return in.err
}

// interruptIfOverdue is the watchdog's look at one instance at time now:
// it cuts off the call in progress if it is past its deadline or its
// caller's context has ended. It returns when to look at the call again,
// or 0 if there is no call to watch.
func (in *instance) interruptIfOverdue(now int64) int64 {
	if d := in.deadline.Load(); d <= 0 {
		return 0 // no call in progress, or already cut off
	}
	in.ctxMu.Lock()
	defer in.ctxMu.Unlock()
	d := in.deadline.Load()
	if d <= 0 {
		return 0
	}
	if in.ctx == nil && now < d {
		return d
	}
	if in.ctx != nil && now < d && in.ctx.Err() == nil {
		return min(d, now+int64(watchdogTick))
	}
	// The calling goroutine may meanwhile have ended this call and begun
	// another (without a context to lock): the swap fails then, unless the
	// new call has the same deadline, which is past too.
	if in.deadline.CompareAndSwap(d, cutOff) {
		in.interrupt.Set(1)
	}
	return 0
}

// watchdog watches the instances of a Module. Its goroutine lives as long
// as the Module and sleeps until the earliest deadline of the calls in
// flight, but no longer than the shortest time limit of the instances: a
// call that begins meanwhile without a deadline of its own is then due no
// sooner than the watchdog looks. A call due sooner (its context has a
// nearer deadline) pokes it. So the goroutine wakes about once per time
// limit (a second by default) whatever the traffic, not every tick.
type watchdog struct {
	mu        sync.Mutex
	instances []*instance // under mu
	// next is when the goroutine looks next, in nanoseconds since epoch.
	next   atomic.Int64
	poke   chan struct{} // capacity 1
	stop   chan struct{} // closed by close
	closed bool          // under mu
}

func (w *watchdog) start() {
	w.next.Store(math.MaxInt64)
	w.poke = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	go w.run()
}

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.instances = append(w.instances, in)
}

// remove stops watching in. Once it returns the watchdog no longer
// touches in, which may then be closed.
func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.instances, in); i >= 0 {
		w.instances = slices.Delete(w.instances, i, i+1)
	}
}

// close stops the watchdog, and returns the instances it watched: the
// Module is closing them.
func (w *watchdog) close() []*instance {
	w.mu.Lock()
	defer w.mu.Unlock()
	ins := w.instances
	w.instances = nil
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	return ins
}

// callBegan pokes the goroutine if it would look at a call due at deadline
// more than a tick late. On the hot path this is one load of a word that
// changes about once a second. The caller has published its deadline
// before, and the goroutine publishes next before looking at deadlines
// (again): one of the two sees the other's write.
func (w *watchdog) callBegan(deadline int64) {
	if deadline+int64(watchdogTick) < w.next.Load() {
		select {
		case w.poke <- struct{}{}:
		default: // already poked
		}
	}
}

func (w *watchdog) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		looked := sinceEpoch()
		next := w.schedule(looked)
		poke := w.poke
		for waiting := true; waiting; {
			if next == math.MaxInt64 {
				timer.Stop()
			} else {
				timer.Reset(time.Duration(next - sinceEpoch()))
			}
			select {
			case <-timer.C:
				waiting = false
			case <-poke:
				// Look sooner, but not sooner than a tick after the last
				// look: calls with short deadlines must not wake the
				// goroutine one by one.
				next, poke = max(looked+int64(watchdogTick), sinceEpoch()), nil
				w.next.Store(next)
			case <-w.stop:
				return
			}
		}
	}
}

// schedule cuts off the overdue calls and returns, and publishes in next,
// when to look again.
func (w *watchdog) schedule(now int64) int64 {
	next := w.sweep(now)
	w.next.Store(next)
	// A call that began during the sweep may have compared its deadline
	// with the former next, and not poked: look again.
	if again := w.sweep(now); again < next {
		next = again
		w.next.Store(next)
	}
	return next
}

// sweep cuts off the overdue calls and returns when to look again: at the
// earliest deadline of the calls in flight, no later than the shortest
// time limit from now, or never if there is nothing to watch.
func (w *watchdog) sweep(now int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := int64(math.MaxInt64)
	for _, in := range w.instances {
		next = min(next, now+int64(min(in.limits.query, in.limits.other)))
		if d := in.interruptIfOverdue(now); d > 0 {
			next = min(next, d)
		}
	}
	return next
}
