// Package server assembles one qun node: it opens the store, loads the
// directory, mounts the dialects, the admin API, the console and the metrics
// endpoint on one handler, and serves it with access logging, request
// timeouts and graceful shutdown.
package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/qunhq/qun/internal/dingtalk"
	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/feishu"
	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/journal"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
	"github.com/qunhq/qun/internal/wecom"
)

// Config configures a node.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string
	// DataDir keeps a generated admin token (file admin-token); "" keeps
	// it in the store, shared by every node on it.
	DataDir string
	// Fixtures is the directory fixtures file; "" loads the demo directory.
	Fixtures string
	// AdminToken guards the admin API and console; "" uses the one kept in
	// DataDir or the store, generating it on the first start.
	AdminToken string
	// Store holds the node's state (required); the caller opens and
	// closes it (cmd/qun chooses SQLite or PostgreSQL).
	Store qun.Store
	// Redis, a redis:// URL, keeps the rate-limit windows in Redis, shared
	// by every node using it; "" keeps them in the process.
	Redis string
	// RedisPrefix starts the keys of the windows ("" is "qun:ratelimit:").
	RedisPrefix string
	// Clock replaces time.Now (tests).
	Clock func() time.Time
	// RequestTimeout bounds the work of one request.
	RequestTimeout time.Duration
	// HousekeepEvery is how often expired dedupe claims and tokens are
	// deleted (qun.Service.Housekeep); 0 means every minute, < 0 never.
	HousekeepEvery time.Duration
	// Feishu, DingTalk and WeCom configure the dialects.
	Feishu   feishu.Config
	DingTalk dingtalk.Config
	WeCom    wecom.Config
	// Node names the node in the delivery and request journals ("" is
	// host/pid).
	Node string
	// Journal is how many API calls the request journal keeps (0: none);
	// JournalBody caps each body it keeps, in bytes.
	Journal, JournalBody int
	// NoDelivery: the node writes events but delivers none (other nodes
	// do); its long connections are refused.
	NoDelivery bool
	// Logger receives the access log and errors.
	Logger *slog.Logger
}

// DefaultConfig returns a node's defaults.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:8080",
		DataDir:        "./qun-data",
		RequestTimeout: 30 * time.Second,
		Journal:        1000,
		JournalBody:    4 << 10,
		Feishu:         feishu.DefaultConfig(),
		DingTalk:       dingtalk.DefaultConfig(),
		WeCom:          wecom.DefaultConfig(),
	}
}

// Server is one qun node.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     qun.Store
	redis     *ratelimit.Redis // nil: in-process limits
	svc       *qun.Service
	directory qun.Directory
	// fingerprint identifies the fixtures directory was loaded from.
	fingerprint string
	handler     http.Handler
	metrics     *metrics
	// ready is true from the end of New until Shutdown starts.
	ready atomic.Bool
	// stopHousekeeping ends the housekeeping goroutine; housekept is
	// closed when it has.
	stopHousekeeping context.CancelFunc
	housekept        chan struct{}
	// conns maps the open client connections to when they last went idle
	// (zero while a request is on them); draining is set once Shutdown
	// closed the listener.
	connsMu  sync.Mutex
	conns    map[net.Conn]time.Time
	draining atomic.Bool

	// hub holds this node's long connections; engine delivers events.
	hub    *events.Hub
	engine *events.Engine
	// limits shows the rate-limit windows (nil: a limiter that cannot).
	limits ratelimit.Inspector
	// journal is the node's request journal (nil: off); node names it.
	journal *journal.Ring
	node    string
	// faultWriters answer injected errors in each platform's envelope.
	faultWriters map[qun.Platform]func(http.ResponseWriter, *http.Request, qun.Fault)
	// verifiers check a webhook URL when a subscription names it.
	verifiers map[qun.Platform]func(context.Context, qun.App) error

	http *http.Server
	ln   net.Listener
}

// New opens the store, loads the directory into an empty database, and
// builds the handler. It does not listen yet.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultConfig().RequestTimeout
	}
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: cfg.Store}
	var opts []qun.Option
	if cfg.Clock != nil {
		opts = append(opts, qun.WithClock(cfg.Clock))
	}
	s.svc = qun.NewService(s.store, opts...)
	s.journal = journal.New(cfg.Journal, cfg.JournalBody)
	if err := s.svc.RefreshClock(ctx); err != nil {
		return nil, fmt.Errorf("server: read the clock setting: %w", err)
	}
	s.svc.OnAuthenticated(func(ctx context.Context, a qun.Actor) {
		httpx.RecordOf(ctx).Set(func(r *httpx.Record) { r.App, r.Tenant = a.App.Key, a.Tenant.Key })
	})
	if s.cfg.AdminToken == "" {
		tok, err := s.keptAdminToken(ctx)
		if err != nil {
			return nil, err
		}
		s.cfg.AdminToken = tok
	}
	if err := s.loadDirectory(ctx); err != nil {
		return nil, err
	}
	s.metrics = newMetrics()
	s.metrics.watchStore(s.store)
	if cfg.Redis != "" {
		l, err := ratelimit.OpenRedis(cfg.Redis, cfg.RedisPrefix, s.svc.Now)
		if err != nil {
			return nil, err
		}
		s.redis = l
		cfg.Feishu.Limiter, cfg.DingTalk.Limiter, cfg.WeCom.Limiter = l, l, l
	}
	// One in-process limiter for the three dialects, unless one is given:
	// its windows are what the console shows.
	local := ratelimit.NewLocal(s.svc.Now)
	for _, l := range []*ratelimit.Limiter{&cfg.Feishu.Limiter, &cfg.DingTalk.Limiter, &cfg.WeCom.Limiter} {
		if *l == nil {
			*l = local
		}
	}
	s.limits, _ = cfg.Feishu.Limiter.(ratelimit.Inspector)
	s.hub = events.NewHub()
	hub := s.hub
	if cfg.NoDelivery {
		hub = nil // no connection is taken that nobody would deliver to
	}
	fcfg := cfg.Feishu
	fcfg.Logger, fcfg.Hub = s.log, hub
	mux := http.NewServeMux()
	fs := feishu.New(s.svc, fcfg)
	mux.Handle("/open-apis/", fs)
	mux.Handle("/callback/", fs)
	dcfg := cfg.DingTalk
	dcfg.Logger, dcfg.Hub = s.log, hub
	if dcfg.PublicURL == nil {
		dcfg.PublicURL = s.URL
	}
	ding := dingtalk.New(s.svc, dcfg)
	mux.Handle("/v1.0/", ding)
	mux.Handle("/gettoken", ding)
	mux.Handle("/chat/", ding)
	mux.Handle("/robot/", ding)
	wcfg := cfg.WeCom
	wcfg.Logger = s.log
	wc := wecom.New(s.svc, wcfg)
	mux.Handle("/cgi-bin/", wc)
	mux.Handle("/wecom/", wc)
	mux.Handle("/admin/", s.adminHandler())
	console := s.consoleHandler()
	mux.Handle("/console", console)
	mux.Handle("/console/", console)
	mux.Handle("POST /console/chats/{chat_id}/messages", s.consolePost())
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console", http.StatusFound)
	})
	s.handler = s.observe(mux)
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.RequestTimeout + 30*time.Second,
		WriteTimeout:      cfg.RequestTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState:         s.trackConn,
	}
	s.verifiers = map[qun.Platform]func(context.Context, qun.App) error{qun.Feishu: fs.VerifyURL, qun.DingTalk: ding.VerifyURL, qun.WeCom: wc.VerifyURL}
	s.faultWriters = map[qun.Platform]func(http.ResponseWriter, *http.Request, qun.Fault){qun.Feishu: fs.WriteFault, qun.DingTalk: ding.WriteFault, qun.WeCom: wc.WriteFault}
	node := cfg.Node
	if node == "" {
		host, _ := os.Hostname()
		node = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	s.node = node
	s.engine = events.NewEngine(s.svc, s.hub, events.Config{
		Node:    node,
		Pushers: map[qun.Platform]events.Pusher{qun.Feishu: fs, qun.DingTalk: ding, qun.WeCom: wc},
		Logger:  s.log,
		Observe: s.metrics.observeEvent,
	})
	if !cfg.NoDelivery {
		s.engine.Start()
	}
	s.ready.Store(true)
	s.startHousekeeping()
	return s, nil
}

// startHousekeeping deletes expired dedupe claims and tokens now and then,
// in small batches that never hold the writer for long.
func (s *Server) startHousekeeping() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopHousekeeping, s.housekept = cancel, make(chan struct{})
	every := s.cfg.HousekeepEvery
	if every == 0 {
		every = time.Minute
	}
	go func() {
		defer close(s.housekept)
		// The deployment's clock, as set through any node, is read again
		// every second (authenticated calls read it at once).
		clock := time.NewTicker(time.Second)
		defer clock.Stop()
		var tick <-chan time.Time
		if every > 0 {
			t := time.NewTicker(every)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-clock.C:
				if err := s.svc.RefreshClock(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("reading the clock setting failed", "err", err)
				}
				continue
			case <-tick:
			}
			p, err := s.svc.Housekeep(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("housekeeping failed", "err", err)
			case p.Dedupe+p.Tokens+p.Events > 0:
				s.log.Debug("housekeeping", "dedupe_deleted", p.Dedupe, "tokens_deleted", p.Tokens, "events_deleted", p.Events)
			}
		}
	}()
}

// readyz answers whether the node should get traffic: it has migrated the
// store and loaded the directory, is not shutting down, and can read the
// store now. /healthz only says the process is alive.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: shutting down\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.View(ctx, func(tx qun.Tx) error { _, err := tx.Tenants(""); return err }); err != nil {
		httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Err = err })
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: the store does not answer\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// AdminTokenFile is the file in the data directory that keeps a generated
// admin token across restarts.
const AdminTokenFile = "admin-token"

// keptAdminToken returns the admin token kept in the data directory,
// generating and keeping one (readable by the owner only) when there is
// none. Without a data directory it is kept in the store, so that every
// node on it shares it.
func (s *Server) keptAdminToken(ctx context.Context) (string, error) {
	b := make([]byte, 16)
	rand.Read(b)
	fresh := "qun-admin-" + hex.EncodeToString(b)
	dir := s.cfg.DataDir
	if dir == "" {
		return s.svc.KeptSecret(ctx, "admin_token", fresh)
	}
	path := filepath.Join(dir, AdminTokenFile)
	if raw, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(raw)); tok != "" {
			return tok, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(fresh+"\n"), 0o600); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return "", fmt.Errorf("admin token: the disk holding %s is full: %w", dir, err)
		}
		return "", fmt.Errorf("admin token: %w", err)
	}
	return fresh, nil
}

// loadDirectory loads the fixtures into an empty store; a store that
// already holds a directory keeps it.
func (s *Server) loadDirectory(ctx context.Context) error {
	d, raw, err := fixtures.Load(s.cfg.Fixtures)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	s.directory, s.fingerprint = d, hex.EncodeToString(sum[:])
	loaded, stale, err := s.svc.Bootstrap(ctx, d, s.fingerprint)
	switch {
	case err != nil:
		return err
	case loaded:
		s.log.Info("directory loaded", "fixtures", fixturesName(s.cfg.Fixtures), "tenants", len(d.Tenants))
	case stale:
		s.log.Warn("the database holds a directory from other fixtures; keeping it (POST /admin/v1/reset loads the new ones)", "fixtures", fixturesName(s.cfg.Fixtures))
	}
	return nil
}

func fixturesName(path string) string {
	if path == "" {
		return "built-in demo"
	}
	return path
}

// Reset replaces the whole state with the loaded fixtures.
func (s *Server) Reset(ctx context.Context) error {
	return s.svc.Reset(ctx, s.directory, s.fingerprint)
}

// Handler returns the node's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Service returns the node's domain service.
func (s *Server) Service() *qun.Service { return s.svc }

// Directory returns the directory the node loads on reset.
func (s *Server) Directory() qun.Directory { return s.directory }

// AdminToken returns the token that guards the admin API.
func (s *Server) AdminToken() string { return s.cfg.AdminToken }

// Listen binds the configured address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// URL is the base URL of the listening node, e.g. http://127.0.0.1:8080.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Serve serves on the bound address until Shutdown; it returns nil after a
// graceful shutdown (also when Shutdown came first).
func (s *Server) Serve() error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) || s.draining.Load() && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]time.Time{}
	}
	switch state {
	case http.StateNew, http.StateActive:
		s.conns[c] = time.Time{}
	case http.StateIdle:
		s.conns[c] = time.Now()
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// quietFor is how long a connection must have been idle, while draining,
// before Shutdown may close it under its client: a client that is still
// sending reuses its connection at once and is answered "Connection:
// close" instead.
const quietFor = 250 * time.Millisecond

// busyConns counts the connections that are serving a request or went
// idle less than quietFor ago.
func (s *Server) busyConns() int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	n := 0
	for _, idle := range s.conns {
		if idle.IsZero() || time.Since(idle) < quietFor {
			n++
		}
	}
	return n
}

// drainFor bounds how long Shutdown keeps idle keep-alive connections open
// for requests already on their way.
const drainFor = 2 * time.Second

// drain stops taking connections and lets the open ones finish: a request
// that arrives on a keep-alive connection is still answered, with
// "Connection: close", so that no client sees its request dropped (as it
// would if the connection were closed under it). It returns when every
// connection has closed or been quiet for quietFor, after drainFor, or
// when ctx ends.
func (s *Server) drain(ctx context.Context) {
	// Not SetKeepAlivesEnabled(false): it closes the idle connections at
	// once, under requests that may be on their way.
	s.draining.Store(true)
	s.ln.Close() // new connections are refused from here on
	deadline := time.NewTimer(drainFor)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.busyConns() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// Shutdown stops accepting requests and waits for those in flight (until
// ctx ends); the caller closes the store afterwards. It may run before, during or after Serve.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	s.stopHousekeeping()
	<-s.housekept
	s.engine.Stop(ctx)
	s.hub.Close()
	if s.ln != nil {
		s.drain(ctx)
	}
	err := s.http.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // drain closed the listener before Serve let go of it
	}
	if s.redis != nil {
		err = errors.Join(err, s.redis.Close())
	}
	return err
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	// body keeps the start of the answer, up to keep bytes (the journal).
	body []byte
	keep int
	cut  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := w.keep - len(w.body); room > 0 {
		w.body = append(w.body, b[:min(room, len(b))]...)
		w.cut = w.cut || len(b) > room
	} else if w.keep > 0 && len(b) > 0 {
		w.cut = true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket (the long connections).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// observe wraps h with the request timeout, the access log and metrics.
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &httpx.Record{}
		ctx, cancel := context.WithTimeout(httpx.WithRecord(r.Context(), rec), s.cfg.RequestTimeout)
		defer cancel()
		if s.draining.Load() {
			w.Header().Set("Connection", "close") // answered, then closed: the client reconnects elsewhere
		}
		sw := &statusWriter{ResponseWriter: w}
		var reqBody *capture
		if s.journal.On() && journaled(r.URL.Path) {
			sw.keep = s.cfg.JournalBody
			reqBody = &capture{ReadCloser: r.Body, keep: s.cfg.JournalBody}
			r.Body = reqBody
		}
		if platformOf(r.URL.Path) != "" {
			// One read of the directory count for the request: the clock
			// and the fault rules as of now, on every node.
			if synced, err := s.svc.Sync(ctx); err == nil {
				ctx = synced
			}
		}
		r = r.WithContext(ctx)
		dropped := false
		if answered := s.inject(sw, r, rec); !answered {
			h.ServeHTTP(sw, r)
		} else if _, _, code, _, _ := rec.Snapshot(); code == "dropped" {
			dropped, sw.status = true, 0 // no answer: journaled as status 0
		}
		if sw.status == 0 && !dropped {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		dialect, logID, code, route, err := rec.Snapshot()
		if dialect == "" {
			dialect = "other"
		}
		s.metrics.observe(dialect, route, sw.status, code, elapsed)
		if reqBody != nil && sw.status != http.StatusSwitchingProtocols {
			s.record(r, rec, sw, reqBody, start, elapsed)
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", elapsed.Round(time.Microsecond), "dialect", dialect}
		if logID != "" {
			attrs = append(attrs, "log_id", logID)
		}
		if code != "" {
			attrs = append(attrs, "code", code)
		}
		level := slog.LevelInfo
		if err != nil {
			attrs = append(attrs, "err", err.Error())
		}
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "request", attrs...)
	})
}
