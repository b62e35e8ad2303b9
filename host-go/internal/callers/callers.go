// Package callers runs the parts of a query's work that need a deep stack
// (packing the query, the guest call, reading the core's answer) on
// long-lived goroutines.
//
// A DNS server starts a goroutine per UDP message, and Go starts a
// goroutine on a small stack (2 KiB). A guest call needs more (wazero's
// call frame alone is 2.2 KiB), and so does reading a message with
// miekg/dns, so each query's stack was grown and copied there, deep in
// CoreDNS's plugin chain where copying is dear: a seventh of the server's
// CPU under dnsperf (../engine/RATIONALE.md, "A query's work on long-lived
// goroutines"). A caller's stack grows once and stays grown, and handing
// it the work costs two goroutine switches.
//
// When no caller is idle (more work in flight than callers, as while a
// swap overlaps two pools of instances) the work runs on the query's own
// goroutine, as it would without callers: it never waits for one.
package callers

import "sync"

// Callers are the long-lived goroutines. A nil *Callers runs work on the
// asking goroutine.
type Callers struct {
	jobs chan *job
	stop chan struct{}
	once sync.Once
}

// job is one call handed to a caller.
type job struct {
	run      func()
	done     chan struct{}
	panicked any // what run panicked with, re-raised on the query's goroutine
}

var jobs = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}

// Start starts n callers.
func Start(n int) *Callers {
	c := &Callers{jobs: make(chan *job), stop: make(chan struct{})}
	for range n {
		go c.serve()
	}
	return c
}

func (c *Callers) serve() {
	for {
		select {
		case j := <-c.jobs:
			j.exec()
			j.done <- struct{}{}
		case <-c.stop:
			return
		}
	}
}

// Do runs f on an idle caller, or here when none is idle, and returns
// when f has. A panic in f is raised again here, where CoreDNS's server
// recovers from it as from any plugin's.
func (c *Callers) Do(f func()) {
	if c == nil {
		f()
		return
	}
	j := jobs.Get().(*job)
	j.run = f
	select {
	case c.jobs <- j:
		<-j.done
	default:
		j.exec()
	}
	p := j.panicked
	j.run, j.panicked = nil, nil
	jobs.Put(j)
	if p != nil {
		panic(p)
	}
}

func (j *job) exec() {
	defer func() { j.panicked = recover() }()
	j.run()
}

// Stop stops the callers; later work runs on the asking goroutine.
func (c *Callers) Stop() {
	if c == nil {
		return
	}
	c.once.Do(func() { close(c.stop) })
}
