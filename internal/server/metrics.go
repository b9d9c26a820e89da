package server

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/version"
)

// metrics are a node's Prometheus metrics, in a registry of their own so
// that several nodes can run in one process (tests).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// attempts and attemptDuration follow event deliveries.
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qun_http_requests_total",
			Help: "HTTP requests served, by dialect, route, HTTP status and platform error code (empty on success).",
		}, []string{"dialect", "route", "status", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qun_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by dialect and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"dialect", "route"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qun_event_attempts_total",
			Help: "Attempts at delivering events, by platform, transport and outcome (ok or failed).",
		}, []string{"platform", "transport", "outcome"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qun_event_attempt_duration_seconds",
			Help:    "Time from sending an event to its answer, by platform and transport.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"platform", "transport"}),
	}
	v := version.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "qun_build_info",
		Help:        "The running build of qun: always 1, with its version, commit, date and Go version as labels.",
		ConstLabels: prometheus.Labels{"version": v.Version, "commit": v.Commit, "date": v.Date, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.attempts, m.attemptDuration, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// retrier is a store that retries transactions that failed to serialise
// (PostgreSQL).
type retrier interface{ Retries() int64 }

// watchStore exports the store's retries, when it has them.
func (m *metrics) watchStore(store any) {
	if r, ok := store.(retrier); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "qun_store_retries_total",
			Help: "Transactions the store ran again after they failed to serialise with a concurrent one.",
		}, func() float64 { return float64(r.Retries()) }))
	}
	if c, ok := store.(combining); ok {
		for i, d := range []struct{ name, help string }{
			{"qun_store_combined_batches_total", "Transactions the store sent for one-statement updates, each carrying the updates waiting when it was sent."},
			{"qun_store_combined_updates_total", "Updates the store sent in combined transactions."},
			{"qun_store_combined_failures_total", "Combined transactions that failed, whose updates then ran alone."},
		} {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: d.name, Help: d.help}, func() float64 {
				batches, updates, failed := c.Combined()
				return float64([]int64{batches, updates, failed}[i])
			}))
		}
	}
}

// combining is a store that sends one-statement updates together
// (PostgreSQL).
type combining interface {
	Combined() (batches, updates, failed int64)
}

func (m *metrics) observe(dialect, route string, status int, code string, d time.Duration) {
	if route == "" {
		route = "other"
	}
	m.requests.WithLabelValues(dialect, route, strconv.Itoa(status), code).Inc()
	m.duration.WithLabelValues(dialect, route).Observe(d.Seconds())
}

// observeEvent counts an attempt at delivering an event.
func (m *metrics) observeEvent(e qun.Event, r events.Result, d time.Duration) {
	outcome := "failed"
	if r.OK {
		outcome = "ok"
	}
	m.attempts.WithLabelValues(string(e.Platform), r.Transport, outcome).Inc()
	m.attemptDuration.WithLabelValues(string(e.Platform), r.Transport).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
