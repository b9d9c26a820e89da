package qun

import (
	"context"
	"sync"
)

// sharedRead lets concurrent requests share one read of a value that every
// request reads first (the directory count): a caller joins the next read
// to start, never one already under way, so what it gets was read after it
// asked, exactly as if it had read it itself. With one read under way at a
// time, the callers that arrive meanwhile are served by a single next
// read: under load a store answers one read per round trip instead of one
// per request, and a lone caller reads at once, as before.
type sharedRead struct {
	read func(context.Context) (string, error)

	mu      sync.Mutex
	running bool
	next    *readCall // the read the callers arriving now will share
}

// readCall is one read and the callers waiting for it.
type readCall struct {
	done chan struct{}
	// ctx is the first caller's without its cancellation (a caller that
	// gives up does not fail the others) but with its deadline, so that a
	// read lasts no longer than the request that started it may.
	ctx    context.Context
	cancel context.CancelFunc
	value  string
	err    error
}

// get returns a value read after get was called. A caller that starts a
// read waits for it (its deadline bounds the read); a caller that joins
// one returns as soon as its context ends.
func (r *sharedRead) get(ctx context.Context) (string, error) {
	r.mu.Lock()
	c := r.next
	if c == nil {
		c = newCall(ctx)
		r.next = c
	}
	start := !r.running
	if start {
		r.running, r.next = true, nil
	}
	r.mu.Unlock()
	if start {
		r.run(c)
	}
	select {
	case <-c.done:
		return c.value, c.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// newCall starts a call with ctx's values and deadline but not its
// cancellation.
func newCall(ctx context.Context) *readCall {
	c := &readCall{done: make(chan struct{}), cancel: func() {}}
	c.ctx = context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		c.ctx, c.cancel = context.WithDeadline(c.ctx, d)
	}
	return c
}

// run reads for c, then starts the read the callers who came meanwhile
// wait for, if any, in a goroutine of its own (c's callers are answered
// at once).
func (r *sharedRead) run(c *readCall) {
	c.value, c.err = r.read(c.ctx)
	c.cancel()
	close(c.done)
	r.mu.Lock()
	next := r.next
	r.next = nil
	r.running = next != nil
	r.mu.Unlock()
	if next != nil {
		go r.run(next)
	}
}
