package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrClosed is returned by calls on a closed Engine.
var ErrClosed = errors.New("kubernetai engine closed")

// ErrNoInstance is returned by a query when no instance can answer it:
// every one is being replaced after its replacement failed. The query is
// answered SERVFAIL at once rather than queued behind a replacement that
// may keep failing.
var ErrNoInstance = errors.New("no core instance is up")

// slot is a place in the pool. Its instance changes when it is replaced.
type slot struct {
	in *instance // read and written only by the slot's current holder
	// fresh says the instance holds a replay of the state and no live
	// change since: its memory holds the state compactly (Apply trusts it
	// to judge whether a batch fits). Read and written by the holder.
	fresh bool
	// seq is the last state change the instance has seen. Written under
	// pool.mu by the holder; read under pool.mu by Apply.
	seq   uint64
	state slotState // under pool.mu
	// failing: a replacement of the slot's instance has failed and is
	// being retried. Under pool.mu.
	failing bool
}

type slotState uint8

const (
	slotIdle       slotState = iota
	slotBusy                 // held by a query or by a state change
	slotRebuilding           // held by a replacement in progress
	slotDown                 // replacement failed; retrying later, no instance
)

// pool hands out instances. Queries take any idle one; a state change
// takes, one at a time, the instances that have not seen it yet, as they
// become idle. A plain channel cannot do the second, hence a mutex, an
// idle list and a broadcast channel for waiters.
type pool struct {
	mu    sync.Mutex
	slots []*slot
	idle  []*slot // LIFO: the most recently used instance is warmest in cache
	// wake is closed (and cleared) when a slot changes state, to wake
	// waiters. Made only when someone waits, so the fast path allocates
	// nothing.
	wake chan struct{}
	// While a state change waits for an instance that has not seen it
	// (want is that change), the next such instance released is handed to
	// it rather than put back: queries, being many, would take it first
	// every time and starve the change.
	want   uint64
	handed *slot
	closed bool
	// rebuilds counts replacements in flight. Added to under mu, only
	// while the pool is open, so that Close can wait for them.
	rebuilds sync.WaitGroup
}

func (p *pool) add(s *slot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slots = append(p.slots, s)
	p.idle = append(p.idle, s)
}

// borrow takes an idle slot, waiting until one is returned or ctx is done.
func (p *pool) borrow(ctx context.Context) (*slot, error) {
	// A call under a context that is already done would close the
	// instance (and cost a replacement): refuse it here.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed {
			return nil, ErrClosed
		}
		if n := len(p.idle); n > 0 {
			s := p.idle[n-1]
			p.idle = p.idle[:n-1]
			s.state = slotBusy
			return s, nil
		}
		if !slices.ContainsFunc(p.slots, (*slot).upSoon) {
			return nil, ErrNoInstance
		}
		if err := p.waitLocked(ctx); err != nil {
			return nil, err
		}
	}
}

// upSoon says a slot that is not idle will be soon: it is held by a call
// (bounded by its time limit) or rebuilt for the first time. Under
// pool.mu.
func (s *slot) upSoon() bool {
	return s.state == slotBusy || s.state == slotRebuilding && !s.failing
}

// takeStale takes an idle slot that has not seen change target, waiting
// for one while some busy or rebuilding slot still needs it. It returns
// nil once no slot needs it: slots that are down will replay a newer state
// when they come back.
//
// With probe, it takes the first slot for a batch (Engine.Apply): it
// waits for slots that are down too, since the batch must be tried on an
// instance before it is recorded, and prefers the instance with the least
// memory, where the batch is likeliest to fit. It returns nil only when
// the pool closes.
func (p *pool) takeStale(target uint64, probe bool) *slot {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() { p.want = 0 }()
	for !p.closed {
		if s := p.handed; s != nil {
			p.handed = nil
			return s
		}
		if i := p.staleIdle(target, probe); i >= 0 {
			s := p.idle[i]
			p.idle = slices.Delete(p.idle, i, i+1)
			s.state = slotBusy
			return s
		}
		pending := slices.ContainsFunc(p.slots, func(s *slot) bool { return s.seq < target && (probe || s.state != slotDown) })
		if !pending {
			return nil
		}
		p.want = target
		_ = p.waitLocked(context.Background())
	}
	if s := p.handed; s != nil { // closed meanwhile: let Close have it
		p.handed = nil
		p.putLocked(s)
	}
	return nil
}

// staleIdle is the index in idle of a slot that has not seen change
// target (with least, the one with the least memory), or -1.
func (p *pool) staleIdle(target uint64, least bool) int {
	found := -1
	for i, s := range p.idle {
		if s.seq >= target {
			continue
		}
		if !least {
			return i
		}
		if found < 0 || s.in.memorySize() < p.idle[found].in.memorySize() {
			found = i
		}
	}
	return found
}

// release returns a held slot, which has seen change seq, to the pool or
// to the state change waiting for it.
func (p *pool) release(s *slot, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.seq, s.failing = seq, false
	if p.want != 0 && seq < p.want && p.handed == nil && !p.closed {
		p.handed, p.want = s, 0
		p.broadcastLocked()
		return
	}
	p.putLocked(s)
}

func (p *pool) putLocked(s *slot) {
	s.state = slotIdle
	p.idle = append(p.idle, s)
	p.broadcastLocked()
}

// startRebuild marks a held slot as being rebuilt, or as down (false)
// when the pool is closed and nothing should be started.
func (p *pool) startRebuild(s *slot) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.broadcastLocked()
	if p.closed {
		s.state = slotDown
		return false
	}
	s.state = slotRebuilding
	p.rebuilds.Add(1)
	return true
}

// setState moves a held slot between busy, rebuilding and down; down
// marks it failing until it is released.
func (p *pool) setState(s *slot, st slotState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.state = st
	s.failing = s.failing || st == slotDown
	p.broadcastLocked()
}

func (p *pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.broadcastLocked()
}

// quiesce waits until no slot is held, then returns the idle instances.
func (p *pool) quiesce(ctx context.Context) ([]*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for slices.ContainsFunc(p.slots, func(s *slot) bool { return s.state == slotBusy || s.state == slotRebuilding }) {
		if err := p.waitLocked(ctx); err != nil {
			return nil, err
		}
	}
	var out []*instance
	for _, s := range p.idle {
		out = append(out, s.in)
	}
	p.idle = nil
	return out, nil
}

// waitLocked releases p.mu until the next broadcast or until ctx is done.
func (p *pool) waitLocked(ctx context.Context) error {
	if p.wake == nil {
		p.wake = make(chan struct{})
	}
	wake := p.wake
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pool) broadcastLocked() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}
