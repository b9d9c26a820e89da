// Package quntest starts an in-process qun node for Go tests, the way
// net/http/httptest starts an HTTP server: each Server has its own
// temporary database, the demo directory (or given fixtures) and a fixed
// admin token, and is closed when the test ends.
//
//	srv := quntest.NewServer(t)
//	cli := lark.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret", lark.WithOpenBaseUrl(srv.URL))
package quntest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/server"
)

// AdminToken is the admin token of every test server.
const AdminToken = "quntest-admin-token"

// Server is a running in-process qun node.
type Server struct {
	// URL is the node's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Host is URL without the scheme, for clients that want host:port.
	Host string
	// DataDir holds the node's database.
	DataDir string

	tb   testing.TB
	srv  *server.Server
	http *httptest.Server
	cfg  server.Config
}

// Option configures a test server.
type Option func(*server.Config)

// WithFixtures loads a fixtures file instead of the demo directory.
func WithFixtures(path string) Option {
	return func(c *server.Config) { c.Fixtures = path }
}

// WithClock makes the node read the time from now (token expiry, dedupe
// windows).
func WithClock(now func() time.Time) Option {
	return func(c *server.Config) { c.Clock = now }
}

// WithDataDir keeps the database in dir, e.g. to restart a node on the
// same data.
func WithDataDir(dir string) Option {
	return func(c *server.Config) { c.DataDir = dir }
}

// WithoutRateLimits switches the platforms' rate limits off (Feishu's 50 a
// second, DingTalk's 20, WeCom's 10,000 a minute), for tests that call
// faster than a real tenant may.
func WithoutRateLimits() Option {
	return func(c *server.Config) { c.Feishu.RateLimits, c.DingTalk.RateLimits, c.WeCom.RateLimits = nil, nil, nil }
}

// WithConfig changes the node's configuration directly, e.g. a dialect's
// rate limits or token lifetimes.
func WithConfig(change func(*server.Config)) Option {
	return func(c *server.Config) { change(c) }
}

// WithLogger sends the node's logs to log instead of discarding them.
func WithLogger(log *slog.Logger) Option {
	return func(c *server.Config) { c.Logger = log }
}

// NewServer starts a node and closes it when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = filepath.Join(tb.TempDir(), "data")
	cfg.AdminToken = AdminToken
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{tb: tb, cfg: cfg}
	s.start()
	tb.Cleanup(s.Close)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	srv, err := server.New(context.Background(), s.cfg)
	if err != nil {
		s.tb.Fatalf("quntest: start qun: %v", err)
	}
	s.srv = srv
	s.http = httptest.NewServer(srv.Handler())
	s.URL, s.DataDir = s.http.URL, s.cfg.DataDir
	s.Host = s.http.Listener.Addr().String()
}

// Close stops the node. It is safe to call twice.
func (s *Server) Close() {
	if s.http == nil {
		return
	}
	s.http.Close()
	if err := s.srv.Shutdown(context.Background()); err != nil {
		s.tb.Errorf("quntest: stop qun: %v", err)
	}
	s.http, s.srv = nil, nil
}

// Restart stops the node and starts a new one on the same database, at a
// new URL.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Close()
	s.start()
}

// Reset puts the node back to its fixtures.
func (s *Server) Reset() {
	s.tb.Helper()
	if err := s.srv.Reset(context.Background()); err != nil {
		s.tb.Fatalf("quntest: reset: %v", err)
	}
}

// Admin calls the admin API: method and path (e.g. "GET", "/admin/v1/chats"),
// an optional JSON body, and out (if not nil) receives the JSON answer. A
// status other than 200 is an error holding the answer.
func (s *Server) Admin(method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("quntest: %s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Clock is a time source a test moves by hand, for WithClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading the current time until moved.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
