// Package ratelimit limits how often a key (an API, an app, a tenant) may
// be used, with sliding windows: a request is allowed when, for every rule,
// fewer than Limit requests were allowed in the Window before it. Limiter
// is the interface dialects use; Local keeps the windows in process. A
// limiter shared by several nodes (Redis) implements the same interface.
package ratelimit

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Rule allows Limit requests per Window.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Decision is the answer to one request.
type Decision struct {
	Allowed bool
	// Rule is the rule that refused the request.
	Rule Rule
	// Reset is how long until the refusing rule allows a request again.
	Reset time.Duration
}

// Limiter decides whether a request under key may proceed. Allowed
// requests count against every rule; refused ones count against none.
type Limiter interface {
	Allow(ctx context.Context, key string, rules []Rule) (Decision, error)
}

// Usage is how one key stands: the requests its window keeps (at most
// the largest limit of its rules) and when the last was allowed.
type Usage struct {
	Key  string    `json:"key"`
	Used int       `json:"used"`
	Last time.Time `json:"last"`
}

// Inspector lists the keys in use, most used first (for operators).
type Inspector interface {
	Usage(ctx context.Context, limit int) ([]Usage, error)
}

// sortUsage orders usages most used first, then by key, and keeps limit.
func sortUsage(us []Usage, limit int) []Usage {
	slices.SortFunc(us, func(a, b Usage) int {
		if a.Used != b.Used {
			return b.Used - a.Used
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(us) > limit {
		us = us[:limit]
	}
	return us
}

// Local is an in-process Limiter: exact sliding windows, one log of
// allowed-request times per key.
type Local struct {
	now func() time.Time

	mu    sync.Mutex
	logs  map[string]*window
	calls int
}

// window is one key's log of allowed-request times, ascending, and the
// longest window of the rules it was last used with.
type window struct {
	times   []time.Time
	horizon time.Duration
}

// NewLocal returns a Local reading time from now (time.Now if nil).
func NewLocal(now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{now: now, logs: map[string]*window{}}
}

// Allow implements Limiter.
func (l *Local) Allow(_ context.Context, key string, rules []Rule) (Decision, error) {
	if len(rules) == 0 {
		return Decision{Allowed: true}, nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%4096 == 0 {
		l.sweep(now)
	}
	w := l.logs[key]
	if w == nil {
		w = &window{}
		l.logs[key] = w
	}
	log := w.times
	var refused *Decision
	for _, r := range rules {
		// Requests allowed within the window: the times after now-window.
		first := sort.Search(len(log), func(i int) bool { return log[i].After(now.Add(-r.Window)) })
		n := len(log) - first
		if n < r.Limit {
			continue
		}
		// It frees up when the oldest request that keeps it full expires.
		d := Decision{Rule: r, Reset: log[first+n-r.Limit].Add(r.Window).Sub(now)}
		if refused == nil || d.Reset > refused.Reset {
			refused = &d
		}
	}
	if refused != nil {
		return *refused, nil
	}
	log = append(log, now)
	if keep := longest(rules); len(log) > keep.Limit {
		log = slices.Delete(log, 0, len(log)-keep.Limit)
	}
	w.times, w.horizon = log, 0
	for _, r := range rules {
		w.horizon = max(w.horizon, r.Window)
	}
	return Decision{Allowed: true}, nil
}

// Usage implements Inspector: the keys whose window still holds a
// request.
func (l *Local) Usage(_ context.Context, limit int) ([]Usage, error) {
	now := l.now()
	l.mu.Lock()
	var out []Usage
	for k, w := range l.logs {
		first := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(now.Add(-w.horizon)) })
		if n := len(w.times) - first; n > 0 {
			out = append(out, Usage{Key: k, Used: n, Last: w.times[len(w.times)-1]})
		}
	}
	l.mu.Unlock()
	return sortUsage(out, limit), nil
}

// longest is the rule that needs the longest log.
func longest(rules []Rule) Rule {
	r := rules[0]
	for _, x := range rules[1:] {
		if x.Limit > r.Limit {
			r = x
		}
	}
	return r
}

// sweep forgets keys whose every request is older than their windows.
func (l *Local) sweep(now time.Time) {
	for k, w := range l.logs {
		if len(w.times) == 0 || !w.times[len(w.times)-1].After(now.Add(-w.horizon)) {
			delete(l.logs, k)
		}
	}
}
