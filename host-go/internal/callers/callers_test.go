package callers

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// goroutineID is a cheap identity of the running goroutine: the address
// of a local escaping to the heap differs per call, so use the stack
// instead, which runtime.Stack prints as "goroutine N [".
func goroutineID() string {
	b := make([]byte, 32)
	n := runtime.Stack(b, false)
	for i := len("goroutine "); i < n; i++ {
		if b[i] == ' ' {
			return string(b[:i])
		}
	}
	return string(b[:n])
}

// Work runs on a caller, not on the asking goroutine, once the caller
// waits for work (a caller just started may not wait yet), and its
// results are there when Do returns.
func TestCallersRunElsewhere(t *testing.T) {
	c := Start(1)
	defer c.Stop()
	here := goroutineID()
	eventually(t, "work to run on a caller", func() bool {
		var there string
		c.Do(func() { there = goroutineID() })
		return there != "" && there != here
	})
}

// With every caller busy, a call runs on the asking goroutine at once
// rather than waiting for one.
func TestCallersBusyRunsHere(t *testing.T) {
	c := Start(1)
	defer c.Stop()
	hold, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		asker := goroutineID()
		for busy := false; !busy; {
			c.Do(func() {
				if busy = goroutineID() != asker; busy {
					close(held)
					<-hold
				}
			})
		}
	})
	<-held
	here := goroutineID()
	var there string
	c.Do(func() { there = goroutineID() })
	close(hold)
	wg.Wait()
	if there != here {
		t.Errorf("with the only caller busy the call ran on %s, want the asking goroutine %s", there, here)
	}
}

// A panic in a call reaches the asking goroutine, and the caller lives on.
func TestCallersPanic(t *testing.T) {
	c := Start(1)
	defer c.Stop()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		c.Do(func() { panic("boom") })
		t.Error("do returned after a panic")
	}()
	ran := false
	c.Do(func() { ran = true })
	if !ran {
		t.Error("the call after a panic did not run")
	}
}

// After close, calls still run (on the asking goroutine) and the callers
// are gone.
func TestCallersClose(t *testing.T) {
	before := runtime.NumGoroutine()
	c := Start(4)
	c.Stop()
	c.Stop()
	eventually(t, "the callers to stop", func() bool { return runtime.NumGoroutine() <= before })
	ran := false
	c.Do(func() { ran = true })
	if !ran {
		t.Error("a call after close did not run")
	}
}

// eventually fails t unless cond holds within a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
