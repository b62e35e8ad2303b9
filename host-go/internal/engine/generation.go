package engine

import (
	"context"
	"sync"
)

// generation is one module and the pool of its instances. The Engine
// serves from one generation at a time; swap builds the next one beside
// it, switches, then retires and drains the old one.
type generation struct {
	mod  *Module
	pool pool
	// done is closed by retire: replacements in this generation stop
	// retrying.
	done     chan struct{}
	retiring sync.Once
}

func newGeneration(mod *Module) *generation {
	return &generation{mod: mod, done: make(chan struct{})}
}

// retire closes the pool: borrowers get ErrClosed (and, when the Engine
// has switched to another generation, borrow from it), no replacement
// starts, retries stop. Calls holding an instance finish undisturbed.
func (g *generation) retire() {
	g.retiring.Do(func() {
		close(g.done)
		g.pool.close()
	})
}

// drain waits, after retire, until the replacements in flight and the
// calls holding an instance are done (or ctx is), then closes every
// instance. The Module stays open.
func (g *generation) drain(ctx context.Context) error {
	waited := make(chan struct{})
	go func() {
		g.pool.rebuilds.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		return ctx.Err()
	}
	ins, err := g.pool.quiesce(ctx)
	for _, in := range ins {
		_ = in.Close(ctx)
	}
	return err
}

// closeInstances closes the instances of a generation that never served.
func (g *generation) closeInstances(ctx context.Context) {
	for _, s := range g.pool.slots {
		_ = s.in.Close(ctx)
	}
}
