package server

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/journal"
	"github.com/qunhq/qun/internal/ratelimit"
)

// The request journal: every platform API call a node served, in a
// bounded ring (Config.Journal), readable, countable and clearable through
// the admin API.

// journaled reports whether a path is a platform API's (not the admin
// API, the console, metrics or health).
func journaled(path string) bool {
	for _, p := range []string{"/admin/", "/console", "/metrics", "/healthz", "/readyz"} {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return path != "/"
}

// capture keeps the start of a request body as the handler reads it.
type capture struct {
	io.ReadCloser
	body []byte
	keep int
	cut  bool
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if room := c.keep - len(c.body); room > 0 {
		c.body = append(c.body, p[:min(room, n)]...)
		c.cut = c.cut || n > room
	} else if n > 0 {
		c.cut = true
	}
	return n, err
}

// record journals one call.
func (s *Server) record(r *http.Request, rec *httpx.Record, sw *statusWriter, body *capture, start time.Time, elapsed time.Duration) {
	dialect, logID, code, route, _ := rec.Snapshot()
	app, tenant, injected := rec.Who()
	if dialect == "" {
		dialect = "unknown"
	}
	s.journal.Add(journal.Entry{
		At: start, Node: s.node, Platform: dialect, App: app, Tenant: tenant, Method: r.Method, Path: r.URL.Path,
		Route: route, Query: r.URL.RawQuery, Status: sw.status, Code: code,
		LatencyMS: float64(elapsed.Microseconds()) / 1000, LogID: logID,
		Request: string(body.body), Response: string(sw.body),
		Truncated: body.cut || sw.cut, Injected: injected,
	})
}

// journalQuery is a journal filter, read from query parameters (GET) or
// from a JSON body of the same names (verify).
type journalQuery struct {
	Platform string `json:"platform"`
	App      string `json:"app"`
	Tenant   string `json:"tenant"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Status   int    `json:"status"`
	Code     string `json:"code"`
	Chat     string `json:"chat_id"`
	Injected *bool  `json:"injected"`
	// Since is Unix milliseconds.
	Since int64 `json:"since"`
}

func (q journalQuery) filter() journal.Filter {
	f := journal.Filter{Platform: q.Platform, App: q.App, Tenant: q.Tenant, Method: q.Method, Path: q.Path, Status: q.Status, Code: q.Code, Chat: q.Chat, Injected: q.Injected}
	if q.Since > 0 {
		f.Since = time.UnixMilli(q.Since)
	}
	return f
}

func journalQueryOf(r *http.Request) (journalQuery, error) {
	v := r.URL.Query()
	q := journalQuery{Platform: v.Get("platform"), App: v.Get("app"), Tenant: v.Get("tenant"), Method: v.Get("method"), Path: v.Get("path"), Code: v.Get("code"), Chat: v.Get("chat_id")}
	if s := v.Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return q, badRequest{"since must be Unix milliseconds"}
		}
		q.Since = n
	}
	if s := v.Get("status"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, badRequest{"status must be an HTTP status"}
		}
		q.Status = n
	}
	if s := v.Get("injected"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, badRequest{"injected must be true or false"}
		}
		q.Injected = &b
	}
	return q, nil
}

// adminJournal lists journal entries, newest first, paged by ?before=.
func (s *Server) adminJournal(r *http.Request) (any, error) {
	q, err := journalQueryOf(r)
	if err != nil {
		return nil, err
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return nil, err
	}
	f := q.filter()
	if b := r.URL.Query().Get("before"); b != "" {
		if f.Before, err = strconv.ParseInt(b, 10, 64); err != nil {
			return nil, badRequest{"before must be a seq"}
		}
	}
	entries := s.journal.List(f, limit+1)
	out := map[string]any{"node": s.node, "on": s.journal.On()}
	if len(entries) > limit {
		entries = entries[:limit]
		out["next"] = entries[limit-1].Seq
	}
	out["entries"] = entries
	return out, nil
}

// adminClearJournal empties the node's journal.
func (s *Server) adminClearJournal(r *http.Request) (any, error) {
	return map[string]any{"node": s.node, "cleared": s.journal.Clear()}, nil
}

// adminVerifyJournal counts the calls a filter selects ("how many times
// was this called?").
func (s *Server) adminVerifyJournal(r *http.Request) (any, error) {
	var q journalQuery
	if err := decodeAdmin(r, &q); err != nil {
		return nil, err
	}
	return map[string]any{"node": s.node, "count": s.journal.Count(q.filter())}, nil
}

// limitParam reads ?limit= (1 to max; def when absent).
func limitParam(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest{"limit must be an integer from 1 to " + strconv.Itoa(max)}
	}
	return n, nil
}

// tokenView is a live token as the admin API and the console show it:
// its value cut to a prefix (the journal and the console are no place for
// credentials).
type tokenView struct {
	Token     string    `json:"token"`
	Kind      string    `json:"kind"`
	Platform  string    `json:"platform"`
	App       string    `json:"app"`
	Tenant    string    `json:"tenant"`
	UserID    string    `json:"user_id,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	ExpiresIn int       `json:"expires_in"`
}

func (s *Server) liveTokens(r *http.Request, limit int) ([]tokenView, error) {
	toks, err := s.svc.LiveTokens(r.Context(), limit)
	out := []tokenView{}
	for _, t := range toks {
		v := t.Value
		if len(v) > 8 {
			v = v[:8] + "…"
		}
		out = append(out, tokenView{Token: v, Kind: string(t.Kind), Platform: string(t.Platform), App: t.AppKey, Tenant: t.TenantKey,
			UserID: t.UserID, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt, ExpiresIn: t.SecondsLeft(s.svc.Now())})
	}
	return out, err
}

// adminTokens lists the live tokens, the latest to expire first.
func (s *Server) adminTokens(r *http.Request) (any, error) {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return nil, err
	}
	toks, err := s.liveTokens(r, limit)
	return map[string]any{"tokens": toks}, err
}

// adminRateLimits lists the rate-limit windows in use, most used first:
// the node's own, or the deployment's when they are kept in Redis.
func (s *Server) adminRateLimits(r *http.Request) (any, error) {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return nil, err
	}
	return s.rateLimits(r, limit)
}

type rateLimitsView struct {
	Shared  bool              `json:"shared"`
	Windows []ratelimit.Usage `json:"windows"`
}

func (s *Server) rateLimits(r *http.Request, limit int) (rateLimitsView, error) {
	out := rateLimitsView{Shared: s.redis != nil, Windows: []ratelimit.Usage{}}
	if s.limits == nil {
		return out, nil
	}
	us, err := s.limits.Usage(r.Context(), limit)
	if us != nil {
		out.Windows = us
	}
	return out, err
}
