// Package quntest starts an in-process qun node for Go tests, the way
// net/http/httptest starts an HTTP server: each Server has its own
// temporary database, the demo directory (or given fixtures) and a fixed
// admin token, and is closed when the test ends. The database is SQLite
// in a temporary directory, or, when the environment variable
// QUN_TEST_POSTGRES names a PostgreSQL database (a postgres:// URL), a
// schema of its own there, dropped when the test ends. The rate-limit
// windows are in the process, or, when QUN_TEST_REDIS names a Redis server
// (redis://host:port/db), in Redis under keys of the server's own.
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
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
	"github.com/qunhq/qun/internal/server"
	"github.com/qunhq/qun/internal/stores"
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
	// base is URL, for the node's goroutines (sessionWebhook URLs).
	base  atomic.Value
	cfg   server.Config
	store qun.Store
	// db is the PostgreSQL schema the server keeps its state in, when
	// QUN_TEST_POSTGRES is set ("" otherwise: SQLite in DataDir).
	db string
}

// Option configures a test server.
type Option struct {
	apply func(*server.Config)
	db    string
}

// Platform names one of the platforms qun serves.
type Platform string

// The platforms, for options that set one platform's behaviour.
const (
	Feishu   Platform = "feishu"
	DingTalk Platform = "dingtalk"
	WeCom    Platform = "wecom"
)

// Limit allows N calls Per window (a sliding window).
type Limit struct {
	N   int
	Per time.Duration
}

// WithFixtures loads a fixtures file instead of the demo directory.
func WithFixtures(path string) Option {
	return Option{apply: func(c *server.Config) { c.Fixtures = path }}
}

// WithClock makes the node read the time from now: token expiry, login
// codes and sessions, the 10-hour dedupe window and rate-limit windows.
func WithClock(now func() time.Time) Option {
	return Option{apply: func(c *server.Config) { c.Clock = now }}
}

// WithDataDir keeps the database in dir, e.g. to restart a node on the
// same data.
func WithDataDir(dir string) Option {
	return Option{apply: func(c *server.Config) { c.DataDir = dir }}
}

// WithoutRateLimits switches the platforms' rate limits off (Feishu's 50 a
// second, DingTalk's 20, WeCom's 10,000 a minute), for tests that call
// faster than a real tenant may.
func WithoutRateLimits() Option {
	return Option{apply: func(c *server.Config) { c.Feishu.RateLimits, c.DingTalk.RateLimits, c.WeCom.RateLimits = nil, nil, nil }}
}

// WithRateLimits replaces one platform's rate limits (a call must be within
// every limit) for each key the platform limits: Feishu API × app ×
// tenant, DingTalk API × app, WeCom corporation × API. No limits switch the
// platform's off.
func WithRateLimits(p Platform, limits ...Limit) Option {
	var rules []ratelimit.Rule
	for _, l := range limits {
		rules = append(rules, ratelimit.Rule{Limit: l.N, Window: l.Per})
	}
	return Option{apply: func(c *server.Config) { *platformConfig(c, p).limits = rules }}
}

// WithTokenTTL sets the lifetime of one platform's access tokens (all
// three: 2 hours).
func WithTokenTTL(p Platform, ttl time.Duration) Option {
	return Option{apply: func(c *server.Config) { *platformConfig(c, p).tokenTTL = ttl }}
}

// dialectConfig points at the settings options change in one dialect's
// configuration.
type dialectConfig struct {
	limits   *[]ratelimit.Rule
	tokenTTL *time.Duration
}

// platformConfig returns p's settings in c; an unknown platform's are
// scratch values, so that the option does nothing.
func platformConfig(c *server.Config, p Platform) dialectConfig {
	switch p {
	case Feishu:
		return dialectConfig{&c.Feishu.RateLimits, &c.Feishu.TokenTTL}
	case DingTalk:
		return dialectConfig{&c.DingTalk.RateLimits, &c.DingTalk.TokenTTL}
	case WeCom:
		return dialectConfig{&c.WeCom.RateLimits, &c.WeCom.TokenTTL}
	}
	return dialectConfig{new([]ratelimit.Rule), new(time.Duration)}
}

// WithDatabase keeps the server's state in the PostgreSQL database url
// names (a postgres:// URL; its search_path chooses the schema) instead of
// a temporary one. The caller empties it.
func WithDatabase(url string) Option {
	return Option{db: url}
}

// WithRedis keeps the rate-limit windows in the Redis server url names
// (redis://host:port/db), as nodes that share limits do.
func WithRedis(url string) Option {
	return Option{apply: func(c *server.Config) { c.Redis = url }}
}

// WithoutEventDelivery makes the node write events to its outbox but
// deliver none (another node, or nobody, delivers them): for tests that
// read the outbox as it is, or count the store's statements.
func WithoutEventDelivery() Option {
	return Option{apply: func(c *server.Config) { c.NoDelivery = true }}
}

// WithJournal sets how many API calls the node's request journal keeps
// (GET /admin/v1/journal; default 1000); 0 keeps none.
func WithJournal(n int) Option {
	return Option{apply: func(c *server.Config) { c.Journal = n }}
}

// WithRequestTimeout bounds the work of one request (default 30 seconds).
func WithRequestTimeout(d time.Duration) Option {
	return Option{apply: func(c *server.Config) { c.RequestTimeout = d }}
}

// WithLogger sends the node's logs to log instead of discarding them.
func WithLogger(log *slog.Logger) Option {
	return Option{apply: func(c *server.Config) { c.Logger = log }}
}

// NewServer starts a node and closes it when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = filepath.Join(tb.TempDir(), "data")
	cfg.AdminToken = AdminToken
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&cfg)
		}
	}
	if cfg.Redis == "" {
		cfg.Redis = os.Getenv("QUN_TEST_REDIS")
	}
	if cfg.Redis != "" {
		cfg.RedisPrefix = "quntest:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":" + strconv.Itoa(rand.IntN(1<<30)) + ":"
	}
	s := &Server{tb: tb, cfg: cfg}
	s.cfg.DingTalk.PublicURL = func() string { v, _ := s.base.Load().(string); return v }
	for _, o := range opts {
		if o.db != "" {
			s.db = o.db
		}
	}
	s.start()
	tb.Cleanup(s.Close)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	if pgtest.URL() != "" && s.db == "" {
		s.db = pgtest.Schema(s.tb)
	}
	store, err := stores.Open(context.Background(), s.db, s.cfg.DataDir)
	if err != nil {
		s.tb.Fatalf("quntest: open the store: %v", err)
	}
	s.store, s.cfg.Store = store, store
	srv, err := server.New(context.Background(), s.cfg)
	if err != nil {
		store.Close()
		s.tb.Fatalf("quntest: start qun: %v", err)
	}
	s.srv = srv
	s.http = httptest.NewServer(srv.Handler())
	s.URL, s.DataDir = s.http.URL, s.cfg.DataDir
	s.base.Store(s.URL)
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
	if err := s.store.Close(); err != nil {
		s.tb.Errorf("quntest: close the store: %v", err)
	}
	s.http, s.srv, s.store = nil, nil, nil
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
// status outside 2xx is an error holding the answer.
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
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
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

// Message is a message of a chat, as the admin API lists it.
type Message struct {
	MessageID string `json:"message_id"`
	Type      string `json:"type"`
	// Content is the platform's content document (Feishu
	// {"text":"@_user_1 ping"}, WeCom {"content":"…"}).
	Content string `json:"content"`
	// SenderUser (a user ID) or SenderApp (an app key) sent it.
	SenderUser string `json:"sender_user"`
	SenderApp  string `json:"sender_app"`
	ParentID   string `json:"parent_id"`
	Recalled   bool   `json:"recalled"`
}

// Messages lists a chat's messages, oldest first (up to 1000): what a
// test asserts its bot said.
func (s *Server) Messages(chatID string) ([]Message, error) {
	var out struct{ Messages []Message }
	err := s.Admin("GET", "/admin/v1/chats/"+chatID+"/messages?limit=1000", nil, &out)
	return out.Messages, err
}

// Recall recalls a message a user posted, as that user in the client; the
// bots in the chat are told (Feishu im.message.recalled_v1).
func (s *Server) Recall(chatID, user, messageID string) error {
	return s.Admin("DELETE", "/admin/v1/chats/"+chatID+"/messages/"+messageID+"?user="+url.QueryEscape(user), nil, nil)
}

// Post posts a message as a user of the chat's tenant, in the client:
// content is the platform's content document, and it mentions the apps
// (by key) as @_user_1, @_user_2, … in order. The bots it mentions are
// told as the platform tells them (Feishu im.message.receive_v1).
func (s *Server) Post(chatID, user, content string, mentionApps ...string) (Message, error) {
	var mentions []map[string]string
	for i, app := range mentionApps {
		mentions = append(mentions, map[string]string{"key": "@_user_" + strconv.Itoa(i+1), "app": app})
	}
	var out Message
	err := s.Admin("POST", "/admin/v1/chats/"+chatID+"/messages", map[string]any{"user": user, "content": content, "mentions": mentions}, &out)
	return out, err
}
