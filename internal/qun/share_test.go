package qun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gate is a read that blocks until released and counts how often it ran.
type gate struct {
	mu      sync.Mutex
	n       int
	started chan int
	release chan error
	ctxs    []context.Context
}

func newGate() *gate { return &gate{started: make(chan int, 100), release: make(chan error)} }

func (g *gate) read(ctx context.Context) (string, error) {
	g.mu.Lock()
	g.n++
	n := g.n
	g.ctxs = append(g.ctxs, ctx)
	g.mu.Unlock()
	g.started <- n
	if err := <-g.release; err != nil {
		return "", err
	}
	return fmt.Sprintf("v%d", n), nil
}

// recv receives from ch or fails t after a few seconds.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived")
		panic("unreachable")
	}
}

// send sends v on ch or fails t after a few seconds.
func send[T any](t *testing.T, ch chan<- T, v T) {
	t.Helper()
	select {
	case ch <- v:
	case <-time.After(5 * time.Second):
		t.Fatal("nobody received")
	}
}

// waitJoined waits until joined, checked under r's lock, holds.
func waitJoined(t *testing.T, r *sharedRead, joined func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		ok := joined()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the callers never joined the next read")
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	v   string
	err error
}

// TestSharedReadAfterAsking: a caller that asks while a read is under way
// is not given that read's value (it may predate what the caller must
// see) but the next read's, and every caller who asked meanwhile shares
// that one read.
func TestSharedReadAfterAsking(t *testing.T) {
	g := newGate()
	r := &sharedRead{read: g.read}
	first := make(chan result, 1)
	go func() {
		v, err := r.get(context.Background())
		first <- result{v, err}
	}()
	if n := recv(t, g.started); n != 1 {
		t.Fatalf("read %d started first", n)
	}
	const callers = 10
	later := make(chan result, callers)
	for range callers {
		go func() {
			v, err := r.get(context.Background())
			later <- result{v, err}
		}()
	}
	waitJoined(t, r, func() bool { return r.next != nil && r.running })
	// Wait until every caller has taken the pending call (they cannot be
	// seen directly; give them the time to run to their select).
	time.Sleep(50 * time.Millisecond)
	send(t, g.release, nil)
	if got := recv(t, first); got.v != "v1" || got.err != nil {
		t.Fatalf("the first caller got %+v, want v1", got)
	}
	if n := recv(t, g.started); n != 2 {
		t.Fatalf("read %d started second", n)
	}
	send(t, g.release, nil)
	for range callers {
		if got := recv(t, later); got.v != "v2" || got.err != nil {
			t.Errorf("a caller who asked during read 1 got %+v, want v2 (read after it asked)", got)
		}
	}
	if g.n != 2 {
		t.Errorf("%d reads for %d callers, want 2", g.n, callers+1)
	}
	// Nothing under way: the next caller reads at once.
	go func() {
		v, err := r.get(context.Background())
		first <- result{v, err}
	}()
	_ = recv(t, g.started)
	send(t, g.release, nil)
	if got := recv(t, first); got.v != "v3" {
		t.Errorf("a lone caller got %+v, want v3", got)
	}
}

// TestSharedReadCancel: a caller who gives up returns at once with its
// context's error and does not fail the callers sharing its read; a read's
// error goes to its own callers only; a read carries its first caller's
// deadline.
func TestSharedReadCancel(t *testing.T) {
	g := newGate()
	r := &sharedRead{read: g.read}
	first := make(chan result, 1)
	deadline := time.Now().Add(time.Hour)
	go func() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		v, err := r.get(ctx)
		first <- result{v, err}
	}()
	_ = recv(t, g.started)
	if d, ok := g.ctxs[0].Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("the read's deadline = %v, %v; want the first caller's, %v", d, ok, deadline)
	}

	// Two callers join the next read; the first of them (whose context
	// the read carries) gives up.
	ctx, cancel := context.WithCancel(context.Background())
	quitter := make(chan result, 1)
	go func() {
		v, err := r.get(ctx)
		quitter <- result{v, err}
	}()
	waitJoined(t, r, func() bool { return r.next != nil })
	stayer := make(chan result, 1)
	go func() {
		v, err := r.get(context.Background())
		stayer <- result{v, err}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if got := recv(t, quitter); !errors.Is(got.err, context.Canceled) {
		t.Errorf("the caller who gave up got %+v, want context.Canceled", got)
	}
	// Read 1 fails: its caller gets the error.
	boom := errors.New("boom")
	send(t, g.release, boom)
	if got := recv(t, first); !errors.Is(got.err, boom) {
		t.Errorf("the first caller got %+v, want its read's error", got)
	}
	// Read 2 runs for the one who stayed, despite the quitter.
	_ = recv(t, g.started)
	if err := g.ctxs[1].Err(); err != nil {
		t.Errorf("read 2's context: %v, want it live after its first caller gave up", err)
	}
	send(t, g.release, nil)
	if got := recv(t, stayer); got.v != "v2" || got.err != nil {
		t.Errorf("the caller who stayed got %+v, want v2", got)
	}
}
