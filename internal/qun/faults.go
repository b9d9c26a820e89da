package qun

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Faults. A test asks qun to fail calls the way the platform fails them:
// a rule names the calls (platform, app, method, path) and says how often
// (always, the next N calls, or with a probability) and what happens: an
// error in the platform's own envelope (a preset such as rate_limited, or
// a status and code), added latency, or a dropped connection. Rules are
// kept in the store, so every node applies them; a rule of N calls counts
// its uses in the store, so N calls fail across all nodes together.

// Fault is a fault-injection rule.
type Fault struct {
	ID       string   `json:"id"`
	Platform Platform `json:"platform"`
	// App is the calling app's key ("" any); Method and Path select the
	// API (Path exact, or a prefix ending in "*"; "" any).
	App    string `json:"app,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Times is how many more calls the rule fails (0: every call);
	// Probability, when above 0, fails a matching call with that chance.
	Times       int     `json:"times,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	// Error is a preset of the platform's errors (FaultPresets), or
	// "custom" with Status, Code and Message; "" answers normally (a
	// latency rule).
	Error   string `json:"error,omitempty"`
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// LatencyMS delays the call (before the error, or the normal answer).
	LatencyMS int `json:"latency_ms,omitempty"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop,omitempty"`
	// Delivery makes the rule one on event deliveries instead of calls
	// (DeliveryFaults), for the events of EventType ("" any) to App.
	Delivery  string    `json:"delivery,omitempty"`
	EventType string    `json:"event_type,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// DeliveryFaults are what a rule can do to an event's delivery: push it
// twice (duplicate), hold it LatencyMS first (delay), not push it at all
// (drop: the attempt fails and the retry schedule goes on), or close the
// app's long connections on the delivering node, as a platform that
// restarts does (disconnect: DingTalk's SYSTEM disconnect, a closed
// WebSocket on Feishu), failing the attempt. silence is a rule on the
// app's long connections instead: their pings go unanswered (Feishu's
// ping frames, DingTalk's WebSocket pings), as a platform that hangs.
var DeliveryFaults = []string{"duplicate", "delay", "drop", "disconnect", "silence"}

// MatchesEvent reports whether a delivery rule selects an event to an app.
func (f Fault) MatchesEvent(p Platform, app, typ string) bool {
	return f.Delivery != "" && f.Delivery != "silence" && f.Platform == p && (f.App == "" || f.App == app) && (f.EventType == "" || f.EventType == typ)
}

// FaultPresets are the error presets every dialect renders as its
// platform does: Feishu 99991400 (429, with x-ogw-ratelimit headers),
// 99991663 and 99991000; DingTalk 403 QpsLimitForAppkeyAndApi, 401
// InvalidAuthentication and 500 system.error; WeCom 45009, 40014 and -1.
var FaultPresets = []string{"rate_limited", "token_invalid", "system_error"}

// metaFaults keeps the rules, as JSON.
const metaFaults = "faults"

// maxFaults bounds the rules kept.
const maxFaults = 100

// Matches reports whether the rule selects a call.
func (f Fault) Matches(p Platform, app, method, path string) bool {
	switch {
	case f.Delivery != "", f.Platform != p,
		f.App != "" && f.App != app,
		f.Method != "" && !strings.EqualFold(f.Method, method):
		return false
	case f.Path == "":
		return true
	}
	if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return path == f.Path
}

// NeedsApp reports whether matching needs the calling app.
func (f Fault) NeedsApp() bool { return f.App != "" }

func (f Fault) validate() error {
	switch {
	case !f.Platform.Valid():
		return Invalid(ReasonField, "platform", "platform must be feishu, dingtalk or wecom")
	case f.Times < 0:
		return Invalid(ReasonField, "times", "times must not be negative")
	case f.Probability < 0 || f.Probability > 1:
		return Invalid(ReasonField, "probability", "probability must be from 0 to 1")
	case f.LatencyMS < 0 || f.LatencyMS > 60_000:
		return Invalid(ReasonField, "latency_ms", "latency_ms must be from 0 to 60000")
	case f.Error == "custom" && (f.Code == "" || f.Status < 100 || f.Status > 599):
		return Invalid(ReasonField, "code", "a custom error needs a code and an HTTP status")
	case f.Error != "" && f.Error != "custom" && !slices.Contains(FaultPresets, f.Error):
		return Invalid(ReasonField, "error", "error must be custom or one of "+strings.Join(FaultPresets, ", "))
	case f.Delivery != "" && !slices.Contains(DeliveryFaults, f.Delivery):
		return Invalid(ReasonField, "delivery", "delivery must be one of "+strings.Join(DeliveryFaults, ", "))
	case f.Delivery != "" && (f.Error != "" || f.Drop || f.Method != "" || f.Path != ""):
		return Invalid(ReasonField, "delivery", "a delivery rule selects events (app, event_type), not calls")
	case f.Delivery == "delay" && f.LatencyMS == 0:
		return Invalid(ReasonField, "latency_ms", "a delay needs latency_ms")
	case f.Delivery == "" && f.Error == "" && f.LatencyMS == 0 && !f.Drop:
		return Invalid(ReasonField, "error", "a rule needs an error, a latency or drop")
	}
	return nil
}

// Faults returns the rules in force.
func (s *Service) Faults() []Fault {
	if p := s.faults.Load(); p != nil {
		return *p
	}
	return nil
}

// AddFault adds a rule and returns it with its ID.
func (s *Service) AddFault(ctx context.Context, f Fault) (Fault, error) {
	if err := f.validate(); err != nil {
		return Fault{}, err
	}
	f.ID, f.CreatedAt = "f_"+randomHex(8), s.now()
	err := s.changeFaults(ctx, func(fs []Fault) ([]Fault, error) {
		if len(fs) >= maxFaults {
			return nil, Errorf(EInvalid, ReasonField, "at most %d rules", maxFaults)
		}
		return append(fs, f), nil
	})
	return f, err
}

// DeleteFaults removes the rule id, or every rule (id ""); it reports how
// many it removed.
func (s *Service) DeleteFaults(ctx context.Context, id string) (int, error) {
	n := 0
	err := s.changeFaults(ctx, func(fs []Fault) ([]Fault, error) {
		kept := slices.DeleteFunc(fs, func(f Fault) bool { return id == "" || f.ID == id })
		n = len(fs) - len(kept)
		if n == 0 && id != "" {
			return nil, Errorf(ENotFound, ReasonField, "no fault rule %q", id)
		}
		return kept, nil
	})
	return n, err
}

// Fire decides whether rule f fails the call in hand: its probability,
// and for a rule of N calls one use claimed in the store (false once all
// are used, by any node).
func (s *Service) Fire(ctx context.Context, f Fault) (bool, error) {
	if f.Probability > 0 && rand.Float64() >= f.Probability {
		return false, nil
	}
	if f.Times == 0 {
		return true, nil
	}
	fired := false
	err := s.changeFaults(ctx, func(fs []Fault) ([]Fault, error) {
		i := slices.IndexFunc(fs, func(x Fault) bool { return x.ID == f.ID })
		if i < 0 {
			return fs, nil // used up meanwhile
		}
		fired = true
		if fs[i].Times--; fs[i].Times == 0 {
			fs = slices.Delete(fs, i, i+1)
		}
		return fs, nil
	})
	return fired, err
}

// changeFaults rewrites the stored rules as a directory change, so every
// node reads them again.
func (s *Service) changeFaults(ctx context.Context, fn func([]Fault) ([]Fault, error)) error {
	var out []Fault
	err := s.updateDirectory(ctx, func(tx Tx) error {
		fs, err := faultsOf(tx)
		if err != nil {
			return err
		}
		if out, err = fn(fs); err != nil {
			return err
		}
		raw, _ := json.Marshal(out)
		return tx.SetMeta(metaFaults, string(raw))
	})
	if err == nil {
		s.faults.Store(&out)
	}
	return err
}

func faultsOf(tx Tx) ([]Fault, error) {
	raw, err := tx.Meta(metaFaults)
	if err != nil || raw == "" {
		return nil, err
	}
	var fs []Fault
	return fs, json.Unmarshal([]byte(raw), &fs)
}

// Silenced reports whether a ping of an app's long connection goes
// unanswered: a silence rule for the app fires.
func (s *Service) Silenced(p Platform, app string) bool {
	for _, f := range s.Faults() {
		if f.Delivery != "silence" || f.Platform != p || (f.App != "" && f.App != app) {
			continue
		}
		if fired, err := s.Fire(context.Background(), f); err == nil && fired {
			return true
		}
	}
	return false
}

// TokenApp returns the key of the app a token was issued to ("" for an
// unknown token), expired or not: which app calls, for fault rules.
func (s *Service) TokenApp(ctx context.Context, value string) string {
	s.mu.RLock()
	tok, ok := s.tokens[value]
	s.mu.RUnlock()
	if !ok {
		if err := s.store.View(ctx, func(tx Tx) error {
			var err error
			tok, err = tx.Token(value)
			return err
		}); err != nil {
			return ""
		}
	}
	return tok.AppKey
}
