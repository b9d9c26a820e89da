package server

import (
	"net/http"
	"time"

	"github.com/qunhq/qun/internal/qun"
)

// The deployment's clock through the admin API: read, freeze, advance,
// reset. Every node uses it (qun.Service.SetClock).

type clockView struct {
	// Now is the time qun uses; UnixMS the same in milliseconds.
	Now    time.Time `json:"now"`
	UnixMS int64     `json:"unix_ms"`
	Frozen bool      `json:"frozen"`
	// OffsetMS is how far qun's time runs ahead of the real clock (while
	// not frozen).
	OffsetMS int64 `json:"offset_ms"`
}

func (s *Server) clockView(st qun.ClockState) clockView {
	_, now := s.svc.Clock()
	if !st.Frozen.IsZero() {
		now = st.Frozen.Truncate(qun.Precision)
	}
	return clockView{Now: now, UnixMS: now.UnixMilli(), Frozen: !st.Frozen.IsZero(), OffsetMS: st.Offset.Milliseconds()}
}

func (s *Server) adminClock(r *http.Request) (any, error) {
	if err := s.svc.RefreshClock(r.Context()); err != nil {
		return nil, err
	}
	st, _ := s.svc.Clock()
	return s.clockView(st), nil
}

// adminFreeze stops the clock: at {"at": RFC 3339 time} or
// {"unix_ms": n}, or now.
func (s *Server) adminFreeze(r *http.Request) (any, error) {
	var in struct {
		At     *time.Time `json:"at"`
		UnixMS *int64     `json:"unix_ms"`
	}
	if err := decodeAdminOptional(r, &in); err != nil {
		return nil, err
	}
	st, err := s.svc.SetClock(r.Context(), func(st *qun.ClockState, now, _ time.Time) {
		switch {
		case in.At != nil:
			st.Frozen = *in.At
		case in.UnixMS != nil:
			st.Frozen = time.UnixMilli(*in.UnixMS)
		default:
			st.Frozen = now
		}
	})
	if err != nil {
		return nil, err
	}
	return s.clockView(st), nil
}

// adminAdvance moves the clock forward by {"by": "90m"} (a Go duration)
// or {"ms": n}; a frozen clock stays frozen at the later time.
func (s *Server) adminAdvance(r *http.Request) (any, error) {
	var in struct {
		By *string `json:"by"`
		MS *int64  `json:"ms"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	var d time.Duration
	switch {
	case in.By != nil:
		var err error
		if d, err = time.ParseDuration(*in.By); err != nil {
			return nil, badRequest{"by must be a duration such as 90s, 2h or 1h30m"}
		}
	case in.MS != nil:
		d = time.Duration(*in.MS) * time.Millisecond
	default:
		return nil, badRequest{`give {"by":"2h"} or {"ms":7200000}`}
	}
	if d < 0 {
		return nil, badRequest{"the clock only moves forward (reset goes back to the real time)"}
	}
	st, err := s.svc.SetClock(r.Context(), func(st *qun.ClockState, _, _ time.Time) {
		if st.Frozen.IsZero() {
			st.Offset += d
		} else {
			st.Frozen = st.Frozen.Add(d)
		}
	})
	if err != nil {
		return nil, err
	}
	return s.clockView(st), nil
}

// adminResetClock goes back to the real time.
func (s *Server) adminResetClock(r *http.Request) (any, error) {
	st, err := s.svc.SetClock(r.Context(), func(st *qun.ClockState, _, _ time.Time) { *st = qun.ClockState{} })
	if err != nil {
		return nil, err
	}
	return s.clockView(st), nil
}
