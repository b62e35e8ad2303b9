package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time the process has used.
func processCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A looping guest is cut off at its deadline, whichever ends it: the
// caller's context or the Engine's limit. The instance is replaced and
// the CPU released.
func TestWatchdogCutsOffLoop(t *testing.T) {
	mod := compileGuest(t)
	// The limit that must not end the call is an hour away, so the error
	// and the time taken tell which limit ended it on any machine; the
	// other bound is a guard against a watchdog that missed it, not a
	// measure of speed.
	tests := []struct {
		name    string
		limit   time.Duration // Config.LookupTimeout
		ctx     func() (context.Context, context.CancelFunc)
		is      error
		message string
		within  time.Duration // of the start
	}{
		{
			name:  "context deadline",
			limit: time.Hour,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			is: context.DeadlineExceeded, message: "cut off: context deadline exceeded", within: 50 * time.Millisecond,
		},
		{
			name:  "lookup timeout",
			limit: 100 * time.Millisecond,
			ctx:   func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			is:    errTimeLimit, message: "cut off: ran past the host's time limit of 100ms", within: 100 * time.Millisecond,
		},
		{
			name:  "context cancelled",
			limit: time.Hour,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			is: context.Canceled, message: "cut off: context canceled", within: 50 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, mod, Config{PoolSize: 1, Stanzas: []Stanza{{}}, LookupTimeout: tt.limit})
			// Timed from before the context, whose deadline counts from
			// its creation: the other way round a preemption in between
			// makes the cut-off look early.
			start := time.Now()
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := e.Lookup(ctx, query("loop.x."), nil)
			took := time.Since(start)
			var ce *CallError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCutOff) || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Lookup = %v, want a *CallError wrapping ErrCutOff and %v, saying %q", err, tt.is, tt.message)
			}
			// Never before the deadline; and long before the hour.
			if took < tt.within || took > tt.within+time.Minute {
				t.Errorf("cut off after %v, want after %v and long before an hour", took, tt.within)
			}
			t.Logf("cut off after %v: %v", took, err)
			waitFor(t, "the replacement", func() bool { return e.stats().Replacements == 1 })
			if got := e.stats(); got != (stats{CutOffs: 1, Replacements: 1}) {
				t.Errorf("Stats = %+v, want one cut-off and its replacement", got)
			}
			// Nothing spins any more: the process stays almost idle.
			before, wall := processCPU(t), time.Now()
			time.Sleep(300 * time.Millisecond)
			if used, elapsed := processCPU(t)-before, time.Since(wall); used > elapsed/3 {
				t.Errorf("the process used %v of CPU in %v after the cut-off", used, elapsed)
			}
			if _, err := e.Lookup(context.Background(), query("www.x."), nil); err != nil {
				t.Errorf("Lookup after the replacement: %v", err)
			}
		})
	}
}

// The watchdog does not cut off calls that end in time, however many are
// in flight and however often it looks at them. The limits are a minute,
// which no call of the test guest comes near on any machine; the watchdog
// still looks every tick while calls run, because half of them have a
// context that can be cancelled.
func TestWatchdogSparesCallsInTime(t *testing.T) {
	e := newEngine(t, compileGuest(t), Config{
		PoolSize: 3, Stanzas: []Stanza{{}}, LookupTimeout: time.Minute, CallTimeout: time.Minute,
	})
	stop := time.Now().Add(500 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				ctx, cancel := context.Background(), func() {}
				if i%2 == 1 { // a context that can be cancelled, with a deadline
					ctx, cancel = context.WithTimeout(ctx, time.Minute)
				}
				_, err := e.Lookup(ctx, query(fmt.Sprintf("q%d-%d.x.", g, i)), nil)
				cancel()
				if err != nil {
					t.Errorf("Lookup: %v", err)
					return
				}
				runtime.Gosched()
			}
		}()
	}
	for i := 0; time.Now().Before(stop); i++ {
		if _, err := e.Apply(0, []KeyedEvent{objectEvent(ChangeUpsert, KindService, "ns", fmt.Sprintf("s%d", i), 1)}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if s := e.stats(); s != (stats{}) {
		t.Errorf("Stats = %+v, want no failures", s)
	}
}

// An instance used without an Engine is watched too, and a call under a
// context already done is cut off at once: long before its hour-long
// limit.
func TestInstanceCallUnderDoneContext(t *testing.T) {
	mod := compileGuest(t)
	in, err := mod.instantiate(context.Background(), limits{query: time.Hour, other: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err = in.Lookup(ctx, query("loop.x."), nil)
	if !errors.Is(err, ErrCutOff) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Lookup = %v, want a cut-off", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("cut off after %v", took)
	}
}

// The watchdog's goroutine ends with its Module, and while no call is in
// flight it sleeps for the shortest time limit.
func TestWatchdogLifetime(t *testing.T) {
	before := runtime.NumGoroutine()
	mod, err := Compile(context.Background(), testGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	if next := mod.watch.next.Load(); next < sinceEpoch()+int64(time.Hour) {
		t.Errorf("without instances the watchdog looks again in %v, want never", time.Duration(next-sinceEpoch()))
	}
	e := newEngine(t, mod, Config{PoolSize: 2, Stanzas: []Stanza{{}}, LookupTimeout: 3 * time.Second})
	if _, err := e.Lookup(context.Background(), query("www.x."), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watchdog to sleep for the lookup limit", func() bool {
		wait := time.Duration(mod.watch.next.Load() - sinceEpoch())
		return wait > 2*time.Second && wait <= 3*time.Second
	})
	_ = e.Close(context.Background())
	_ = mod.Close(context.Background())
	waitFor(t, "the watchdog to stop", func() bool { return runtime.NumGoroutine() <= before })
}
