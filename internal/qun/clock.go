package qun

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"
)

// The deployment's clock. Tests move the time qun uses (token expiry,
// login codes and sessions, dedupe windows, rate-limit windows, event
// retries, sessionWebhook expiry) through the admin API: frozen at an
// instant, or shifted by an offset from the real clock. The setting is
// kept in the store and counted as a directory change, so every node sees
// it with its next request (Authenticate reads the directory's count
// anyway) or within a second otherwise (RefreshClock).

// ClockState is how the deployment's time differs from the real one.
type ClockState struct {
	// Offset is added to the real time.
	Offset time.Duration `json:"offset"`
	// Frozen, when not zero, is the time qun uses, standing still.
	Frozen time.Time `json:"frozen,omitzero"`
}

// metaClock keeps the ClockState, as JSON.
const metaClock = "clock"

// clock is a Service's time: the base clock (the real one, or a test's)
// with the deployment's ClockState on top.
type clock struct {
	base  func() time.Time
	state atomic.Pointer[ClockState]
	// seen is the directory count the state was read at (-1: never).
	seen atomic.Int64
}

func (c *clock) now() time.Time {
	st := c.state.Load()
	switch {
	case st == nil:
		return c.base()
	case !st.Frozen.IsZero():
		return st.Frozen
	}
	return c.base().Add(st.Offset)
}

// Clock returns the deployment's clock setting and the time it gives.
func (s *Service) Clock() (ClockState, time.Time) {
	var st ClockState
	if p := s.clock.state.Load(); p != nil {
		st = *p
	}
	return st, s.now()
}

// SetClock changes the deployment's clock with fn, applied to the stored
// setting, and returns the new one.
func (s *Service) SetClock(ctx context.Context, fn func(st *ClockState, now, real time.Time)) (ClockState, error) {
	var out ClockState
	err := s.updateDirectory(ctx, func(tx Tx) error {
		st, err := clockOf(tx)
		if err != nil {
			return err
		}
		real := s.clock.base()
		now := real.Add(st.Offset)
		if !st.Frozen.IsZero() {
			now = st.Frozen
		}
		fn(&st, now, real)
		st.Frozen = st.Frozen.Round(0)
		raw, _ := json.Marshal(st)
		out = st
		return tx.SetMeta(metaClock, string(raw))
	})
	if err != nil {
		return ClockState{}, err
	}
	s.clock.state.Store(&out)
	return out, nil
}

func clockOf(tx Tx) (ClockState, error) {
	var st ClockState
	raw, err := tx.Meta(metaClock)
	if err != nil || raw == "" {
		return st, err
	}
	return st, json.Unmarshal([]byte(raw), &st)
}

// RefreshClock reads the deployment's clock setting and fault rules
// again when the directory count has moved since they were read.
func (s *Service) RefreshClock(ctx context.Context) error {
	if _, ok := ctx.Value(versionKey{}).(string); ok {
		return nil // read for this request already (Sync)
	}
	raw, err := s.count.get(ctx)
	if err != nil {
		return err
	}
	return s.syncClock(ctx, raw)
}

// versionKey carries the directory count a request read (Sync).
type versionKey struct{}

// Sync reads the directory count for a request, once: the clock setting
// and the fault rules are brought up to date with it, and the returned
// context carries it, so that Authenticate and IssueToken do not read it
// again. Requests that ask at once share a read that began after each of
// them asked (sharedRead), so each still sees every change committed
// before it arrived.
func (s *Service) Sync(ctx context.Context) (context.Context, error) {
	raw, err := s.count.get(ctx)
	if err != nil {
		return ctx, err
	}
	if err := s.syncClock(ctx, raw); err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, versionKey{}, raw), nil
}

// directoryCount is the count a request read (Sync), or reads it now.
func (s *Service) directoryCount(ctx context.Context) (string, error) {
	if raw, ok := ctx.Value(versionKey{}).(string); ok {
		return raw, nil
	}
	raw, err := s.count.get(ctx)
	if err != nil {
		return "", err
	}
	return raw, s.syncClock(ctx, raw)
}

// syncClock reloads the clock setting and the fault rules when raw, the directory count just
// read, differs from the one it was read at.
func (s *Service) syncClock(ctx context.Context, raw string) error {
	v, err := parseVersion(raw)
	if err != nil || v == s.clock.seen.Load() {
		return err
	}
	var st ClockState
	var fs []Fault
	err = s.store.View(ctx, func(tx Tx) error {
		if v, err = directoryVersion(tx); err != nil {
			return err
		}
		if st, err = clockOf(tx); err != nil {
			return err
		}
		fs, err = faultsOf(tx)
		return err
	})
	if err != nil {
		return err
	}
	s.clock.state.Store(&st)
	s.faults.Store(&fs)
	s.clock.seen.Store(v)
	return nil
}
