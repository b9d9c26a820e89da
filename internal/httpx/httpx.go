// Package httpx holds the small HTTP helpers every qun handler shares: the
// per-request record the access log prints, JSON writing, body limits and
// panic recovery. Dialects build their vendor envelopes on top of it.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
)

// Record collects what the access log line of one request reports. The
// server puts one in each request's context; handlers fill it in.
type Record struct {
	mu sync.Mutex
	// Dialect is the API family that served the request (feishu, admin, ...).
	Dialect string
	// LogID is the request's ID as the client sees it (X-Tt-Logid, requestid).
	LogID string
	// Code is the platform's error code of the answer, "" on success.
	Code string
	// Route is the matched route pattern, for metrics.
	Route string
	// Err is the internal error behind a failure, for the log only.
	Err error
	// App and Tenant are the keys of the app and tenant that called, once
	// the request's token is known.
	App, Tenant string
	// Injected names the fault rule that answered ("": none).
	Injected string
}

// Set updates the record under its lock.
func (r *Record) Set(fn func(r *Record)) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

// Snapshot returns a copy of the record's fields.
func (r *Record) Snapshot() (dialect, logID, code, route string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Dialect, r.LogID, r.Code, r.Route, r.Err
}

// Who returns the caller and the fault that answered.
func (r *Record) Who() (app, tenant, injected string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.App, r.Tenant, r.Injected
}

type recordKey struct{}

// WithRecord returns ctx carrying rec.
func WithRecord(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// RecordOf returns the request's record, or nil outside the server.
func RecordOf(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// Annotate sets the dialect, route and log ID of the request's record.
func Annotate(r *http.Request, dialect, route, logID string) {
	RecordOf(r.Context()).Set(func(rec *Record) {
		rec.Dialect, rec.Route, rec.LogID = dialect, route, logID
	})
}

// Marshal encodes v as JSON the way the vendors do: no HTML escaping, no
// trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteJSON writes v as the response body with the given status and
// Content-Type.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := Marshal(v)
	if err != nil {
		// Only a programming error gets here; say so plainly.
		body = []byte(`{"error":"qun: response encoding failed"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(body)
}

// ErrBodyTooLarge is returned by ReadBody for a body over the limit.
var ErrBodyTooLarge = errors.New("request body too large")

// ReadBody reads the request body, at most limit bytes.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, ErrBodyTooLarge
	}
	return b, err
}

// Recover calls onPanic (which must write a response) when next panics, and
// logs the panic with its stack. http.ErrAbortHandler is re-raised.
func Recover(log *slog.Logger, next http.Handler, onPanic func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("panic: %v", v)
			RecordOf(r.Context()).Set(func(rec *Record) { rec.Err = err })
			log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			onPanic(w, r)
		}()
		next.ServeHTTP(w, r)
	})
}

// methods are the HTTP methods Allowed tries.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Allowed returns the methods for which mux has a route at r's path.
// Routes count when registered with a method ("POST /x"); patterns
// without one are the fallbacks that call Allowed, so a fallback can tell
// an unknown path (none) from a wrong method (some).
func Allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); strings.HasPrefix(pattern, m+" ") {
			out = append(out, m)
		}
	}
	return out
}
