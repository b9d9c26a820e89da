// Package events delivers the outbox the core writes (qun.Event): an
// Engine claims due events from the store, hands each to its platform's
// transport (a webhook Pusher, or a long connection held on this node, in
// the Hub), journals the attempt and lets the core schedule the next one.
//
// Delivery is at least once: an event stays due until an attempt
// succeeds or the platform's retry schedule is spent; a node that dies
// with an event claimed leaves it to be claimed again when its lease
// ends. Which node delivers a connection event follows from the claim:
// a node claims only the connection events of the apps connected to it,
// so the store is the registry and no node pushes to another's socket.
package events

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/qunhq/qun/internal/qun"
)

// Result is the outcome of one attempt.
type Result struct {
	OK bool
	// Status is the answer's status: an HTTP status, a frame's code or
	// status, "timeout", "error".
	Status string
	// Answer is what the receiver answered, or the error.
	Answer string
	// Transport and Target say how and where the event went.
	Transport, Target string
}

// Pusher delivers the webhook events of one platform.
type Pusher interface {
	Push(ctx context.Context, app qun.App, e qun.Event) Result
}

// Conn is a long connection of an app held on this node.
type Conn interface {
	// Deliver sends the event and waits for the client's ack (until ctx
	// ends).
	Deliver(ctx context.Context, e qun.Event) Result
	// Close ends the connection.
	Close()
}

// Hub holds the long connections of this node, by app.
type Hub struct {
	mu    sync.Mutex
	conns map[int64][]Conn
	// kick wakes the Engine: a new connection may have events waiting.
	kick chan struct{}
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{conns: make(map[int64][]Conn), kick: make(chan struct{}, 1)}
}

// Attach registers a connection of app; detach unregisters it.
func (h *Hub) Attach(app int64, c Conn) (detach func()) {
	h.mu.Lock()
	h.conns[app] = append(h.conns[app], c)
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		cs := h.conns[app]
		for i, o := range cs {
			if o == c {
				cs = append(cs[:i:i], cs[i+1:]...)
				break
			}
		}
		if len(cs) == 0 {
			delete(h.conns, app)
		} else {
			h.conns[app] = cs
		}
	}
}

// Apps lists the apps with a connection here.
func (h *Hub) Apps() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int64, 0, len(h.conns))
	for id := range h.conns {
		out = append(out, id)
	}
	return out
}

// Connected reports how many connections app has here.
func (h *Hub) Connected(app int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns[app])
}

// conn returns the newest connection of app, or nil.
func (h *Hub) conn(app int64) Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.conns[app]
	if len(cs) == 0 {
		return nil
	}
	return cs[len(cs)-1]
}

// disconnect closes app's connections here and reports how many.
func (h *Hub) disconnect(app int64) int {
	h.mu.Lock()
	cs := slices.Clone(h.conns[app])
	h.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	return len(cs)
}

// Close ends every connection.
func (h *Hub) Close() {
	h.mu.Lock()
	var all []Conn
	for _, cs := range h.conns {
		all = append(all, cs...)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

// Config configures an Engine.
type Config struct {
	// Node names this node in the journal.
	Node string
	// Pushers deliver webhook events, by platform.
	Pushers map[qun.Platform]Pusher
	// Poll is how often the store is asked for due events besides the
	// wake-ups (0: every 100 ms).
	Poll time.Duration
	// Lease is how long a claimed event is this node's (0: 30 s).
	Lease time.Duration
	// Workers bounds the attempts in flight (0: 64), PerApp those of one
	// app (0: 8), so that a receiver that hangs holds at most PerApp.
	Workers, PerApp int
	Logger          *slog.Logger
	// Observe, when set, is told of every attempt.
	Observe func(qun.Event, Result, time.Duration)
}

// Client is what every platform's pushes and URL checks go out with:
// no proxy from the environment (receivers are the developer's own
// servers), a few idle connections per receiver; each attempt brings its
// own deadline.
var Client = &http.Client{Transport: &http.Transport{
	Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
}}

// Timeouts are how long each platform waits for an answer: Feishu 3 s,
// WeCom 5 s; DingTalk documents none, qun waits 5 s.
var Timeouts = map[qun.Platform]time.Duration{
	qun.Feishu:   3 * time.Second,
	qun.DingTalk: 5 * time.Second,
	qun.WeCom:    5 * time.Second,
}

// Engine delivers the outbox of a Service.
type Engine struct {
	svc *qun.Service
	hub *Hub
	cfg Config
	log *slog.Logger
	sem chan struct{}
	wg  sync.WaitGroup
	// inflight counts the attempts in flight per app.
	mu       sync.Mutex
	inflight map[int64]int
	// records takes finished attempts to the recorder, which journals
	// those waiting together in one transaction.
	records  chan record
	recorded chan struct{}
	// again wakes the claimer when an attempt ends: an app that was busy
	// may take more now.
	again chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
}

// NewEngine returns an Engine delivering svc's events through hub and
// cfg's pushers; Start starts it.
func NewEngine(svc *qun.Service, hub *Hub, cfg Config) *Engine {
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.PerApp <= 0 {
		cfg.PerApp = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Engine{svc: svc, hub: hub, cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, cfg.Workers), inflight: make(map[int64]int), records: make(chan record, cfg.Workers), again: make(chan struct{}, 1)}
}

// Start runs the Engine until Stop.
func (e *Engine) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done, e.recorded = cancel, make(chan struct{}), make(chan struct{})
	go e.run(ctx)
	go e.record()
}

// Stop stops claiming and waits for the attempts in flight (until ctx
// ends); what is left is claimed again after its lease.
func (e *Engine) Stop(ctx context.Context) {
	if e.stop == nil {
		return
	}
	e.stop()
	<-e.done
	finished := make(chan struct{})
	go func() { e.wg.Wait(); close(e.records); <-e.recorded; close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
	}
}

// record is a finished attempt waiting to be journaled.
type record struct {
	ev qun.Event
	a  qun.Attempt
}

// maxRecords bounds the attempts journaled in one transaction.
const maxRecords = 64

// record journals finished attempts, those that wait together in one
// transaction, until Stop closes records.
func (e *Engine) record() {
	defer close(e.recorded)
	for r := range e.records {
		batch := []qun.Attempt{r.a}
		evs := []qun.Event{r.ev}
	more:
		for len(batch) < maxRecords {
			select {
			case r, ok := <-e.records:
				if !ok {
					break more
				}
				batch, evs = append(batch, r.a), append(evs, r.ev)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := e.svc.RecordAttempts(ctx, batch); err != nil {
			e.log.Error("events: journaling attempts", "attempts", len(batch), "first_event_id", evs[0].EventID, "err", err)
		}
		cancel()
	}
}

func (e *Engine) run(ctx context.Context) {
	defer close(e.done)
	tick := time.NewTicker(e.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.svc.Events():
		case <-e.hub.kick:
		case <-e.again:
		case <-tick.C:
		}
		e.pass(ctx)
	}
}

// batch is how many events a claim takes.
const batch = 32

// pass claims and starts the due events until none is left.
func (e *Engine) pass(ctx context.Context) {
	for ctx.Err() == nil {
		c := qun.Claim{Connected: e.hub.Apps(), InFlight: e.inFlight(), Limit: batch, PerApp: e.cfg.PerApp, Lease: e.cfg.Lease}
		due, err := e.svc.DueEvents(ctx, c)
		if err != nil || !due {
			e.logErr(ctx, "events: reading due events", err)
			return
		}
		claimed, err := e.svc.ClaimEvents(ctx, c)
		if err != nil {
			e.logErr(ctx, "events: claiming", err)
			return
		}
		for _, ev := range claimed {
			select {
			case e.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			e.mu.Lock()
			e.inflight[ev.App]++
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer func() {
					e.mu.Lock()
					if e.inflight[ev.App]--; e.inflight[ev.App] == 0 {
						delete(e.inflight, ev.App)
					}
					e.mu.Unlock()
					<-e.sem
					select {
					case e.again <- struct{}{}:
					default:
					}
					e.wg.Done()
				}()
				e.attempt(ev)
			}()
		}
		if len(claimed) == 0 {
			return
		}
	}
}

// inFlight copies the counts of attempts under way, by app.
func (e *Engine) inFlight() map[int64]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.inflight)
}

func (e *Engine) logErr(ctx context.Context, msg string, err error) {
	if err != nil && ctx.Err() == nil {
		e.log.Error(msg, "err", err)
	}
}

// maxAnswer bounds the answer journaled.
const maxAnswer = 256

// fault finds the delivery rule that fires on ev ("" action when none).
func (e *Engine) fault(ev qun.Event) qun.Fault {
	for _, f := range e.svc.Faults() {
		if !f.MatchesEvent(ev.Platform, ev.AppKey, ev.Type) {
			continue
		}
		if fired, err := e.svc.Fire(context.Background(), f); err == nil && fired {
			return f
		}
	}
	return qun.Fault{}
}

// attempt makes one attempt at ev and records it; a delivery fault may
// delay it, drop it, push it twice or close the app's connections first.
func (e *Engine) attempt(ev qun.Event) {
	f := e.fault(ev)
	if f.Delivery == "delay" {
		time.Sleep(time.Duration(f.LatencyMS) * time.Millisecond)
	}
	e.once(ev, f)
	if f.Delivery == "duplicate" {
		e.once(ev, qun.Fault{})
	}
}

func (e *Engine) once(ev qun.Event, f qun.Fault) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeouts[ev.Platform])
	defer cancel()
	start := time.Now()
	var r Result
	app, err := e.svc.App(ctx, ev.App)
	switch {
	case err != nil:
		r = Result{Status: "error", Answer: err.Error()}
	case app.Events == nil:
		r = Result{Status: "unsubscribed", Answer: "the app has no subscription any more"}
	case f.Delivery == "drop":
		r = Result{Transport: "fault", Status: "dropped", Answer: "fault " + f.ID + " dropped the push"}
	case f.Delivery == "disconnect":
		n := e.hub.disconnect(ev.App)
		r = Result{Transport: "fault", Status: "disconnected", Answer: fmt.Sprintf("fault %s closed %d connection(s) of the app", f.ID, n)}
	case ev.Mode == qun.Connection:
		if c := e.hub.conn(ev.App); c != nil {
			r = c.Deliver(ctx, ev)
		} else {
			r = Result{Status: "not_connected", Answer: "the app's connection closed before delivery"}
		}
	default:
		if p := e.cfg.Pushers[ev.Platform]; p != nil {
			r = p.Push(ctx, app, ev)
		} else {
			r = Result{Status: "error", Answer: "no transport for " + string(ev.Platform)}
		}
	}
	if f.ID != "" && f.Delivery != "drop" && f.Delivery != "disconnect" {
		r.Answer = "[fault " + f.ID + " " + f.Delivery + "] " + r.Answer
	}
	took := time.Since(start)
	if e.cfg.Observe != nil {
		e.cfg.Observe(ev, r, took)
	}
	e.records <- record{ev: ev, a: qun.Attempt{
		Event: ev.ID, At: e.svc.Now(), Node: e.cfg.Node, Transport: r.Transport, Target: r.Target,
		OK: r.OK, Status: r.Status, LatencyMS: took.Milliseconds(), Answer: excerpt(r.Answer),
	}}
}

// excerpt cuts s to maxAnswer bytes on a rune boundary.
func excerpt(s string) string {
	if len(s) <= maxAnswer {
		return s
	}
	s = s[:maxAnswer]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
