// Package journal keeps a node's request journal: every platform API
// call it served (platform, app, tenant, method, path, query, status, the
// platform's code, latency, log ID, and the request and answer bodies up
// to a cap) in a bounded ring, for tests to read (secrets redacted),
// filter, count and clear through the admin API.
package journal

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Entry is one API call.
type Entry struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Node     string    `json:"node"`
	Platform string    `json:"platform"`
	App      string    `json:"app,omitempty"`
	Tenant   string    `json:"tenant,omitempty"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	// Route is the API's route pattern ("POST /open-apis/im/v1/chats").
	Route  string `json:"route,omitempty"`
	Query  string `json:"query,omitempty"`
	Status int    `json:"status"`
	// Code is the platform's error code ("" on success).
	Code      string  `json:"code,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	LogID     string  `json:"log_id,omitempty"`
	Request   string  `json:"request,omitempty"`
	Response  string  `json:"response,omitempty"`
	// Truncated: a body was longer than the cap.
	Truncated bool `json:"truncated,omitempty"`
	// Injected names the fault rule that answered the call ("": none).
	Injected string `json:"injected,omitempty"`
}

// Filter selects entries; zero fields do not filter.
type Filter struct {
	Platform, App, Tenant, Method string
	// Path matches the path exactly, or as a prefix when it ends in "*".
	Path   string
	Status int
	Code   string
	// Chat selects the calls whose path, query or bodies name the chat.
	Chat string
	// Injected selects the calls a fault answered (true) or not (false).
	Injected *bool
	// Before selects entries older than a sequence number (paging).
	Before int64
	// Since selects entries from a time on.
	Since time.Time
}

// Matches reports whether the filter selects e.
func (f Filter) Matches(e Entry) bool {
	switch {
	case f.Platform != "" && e.Platform != f.Platform,
		f.App != "" && e.App != f.App,
		f.Tenant != "" && e.Tenant != f.Tenant,
		f.Method != "" && !strings.EqualFold(e.Method, f.Method),
		f.Status != 0 && e.Status != f.Status,
		f.Code != "" && e.Code != f.Code,
		f.Before != 0 && e.Seq >= f.Before,
		!f.Since.IsZero() && e.At.Before(f.Since),
		f.Injected != nil && (e.Injected != "") != *f.Injected:
		return false
	}
	if f.Path != "" {
		if p, prefix := strings.CutSuffix(f.Path, "*"); prefix {
			if !strings.HasPrefix(e.Path, p) {
				return false
			}
		} else if e.Path != f.Path {
			return false
		}
	}
	if f.Chat != "" && !strings.Contains(e.Path, f.Chat) && !strings.Contains(e.Query, f.Chat) &&
		!strings.Contains(e.Request, f.Chat) && !strings.Contains(e.Response, f.Chat) {
		return false
	}
	return true
}

// Ring is a bounded journal; the zero value and nil keep nothing.
type Ring struct {
	mu      sync.Mutex
	entries []Entry // a circle of len(entries) once full
	next    int     // where the next entry goes
	full    bool
	seq     int64
	// BodyCap bounds each stored body, in bytes.
	BodyCap int
}

// New returns a ring of size entries with bodies capped at bodyCap bytes;
// size 0 returns nil, a journal that keeps nothing.
func New(size, bodyCap int) *Ring {
	if size <= 0 {
		return nil
	}
	return &Ring{entries: make([]Entry, size), BodyCap: bodyCap}
}

// On reports whether the ring keeps anything.
func (r *Ring) On() bool { return r != nil && len(r.entries) > 0 }

// Add journals e (its Seq is assigned) and returns its sequence number.
func (r *Ring) Add(e Entry) int64 {
	if !r.On() {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.Seq = r.seq
	r.entries[r.next] = e
	r.next = (r.next + 1) % len(r.entries)
	if r.next == 0 {
		r.full = true
	}
	return e.Seq
}

// each calls fn on the entries newest first until it returns false.
func (r *Ring) each(fn func(Entry) bool) {
	n := r.next
	if r.full {
		n = len(r.entries)
	}
	for i := 1; i <= n; i++ {
		if !fn(r.entries[(r.next-i+len(r.entries))%len(r.entries)]) {
			return
		}
	}
}

// List returns up to limit entries the filter selects, newest first,
// secrets redacted (the ring keeps what was said; redacting as it is read
// keeps journaling cheap).
func (r *Ring) List(f Filter, limit int) []Entry {
	out := []Entry{}
	if !r.On() {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.each(func(e Entry) bool {
		if f.Matches(e) {
			e.Query, e.Request, e.Response = RedactQuery(e.Query), RedactJSON(e.Request), RedactJSON(e.Response)
			out = append(out, e)
		}
		return len(out) < limit
	})
	return out
}

// Count returns how many entries the filter selects.
func (r *Ring) Count(f Filter) int {
	if !r.On() {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	r.each(func(e Entry) bool {
		if f.Matches(e) {
			n++
		}
		return true
	})
	return n
}

// Clear empties the ring and returns how many entries it held.
func (r *Ring) Clear() int {
	if !r.On() {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.entries)
	}
	clear(r.entries)
	r.next, r.full = 0, false
	return n
}

// secretKeys are the JSON members and query parameters whose values are
// credentials: the apps' secrets and the tokens, tickets and session keys
// the platforms hand out.
var secretKeys = []string{
	"app_secret", "appSecret", "appsecret", "corpsecret", "secret", "suite_secret", "clientSecret", "client_secret",
	"tenant_access_token", "app_access_token", "accessToken", "access_token", "suite_access_token",
	"ticket", "session_key", "AppSecret", "ClientAssertion",
}

var secretMember = regexp.MustCompile(`"(` + strings.Join(secretKeys, "|") + `)"(\s*:\s*)"(?:[^"\\]|\\.)*"`)

// Redacted is what a secret is replaced with.
const Redacted = "***"

// RedactJSON replaces the values of the credential members of a JSON text
// (or any text holding such members).
func RedactJSON(s string) string {
	return secretMember.ReplaceAllString(s, `"$1"$2"`+Redacted+`"`)
}

// RedactQuery replaces the values of credential parameters of a query.
func RedactQuery(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	changed := false
	for _, k := range secretKeys {
		if _, ok := q[k]; ok {
			q.Set(k, Redacted)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}
