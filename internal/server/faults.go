package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// Fault injection: before a platform call reaches its dialect, the rules
// in force (qun.Service.Faults, the same on every node) may delay it,
// drop its connection, or answer it with an error the dialect renders in
// its platform's envelope. Every injected answer is journaled as such.

// platformOf names the platform whose API a path is.
func platformOf(path string) qun.Platform {
	switch {
	case strings.HasPrefix(path, "/open-apis/"):
		return qun.Feishu
	case strings.HasPrefix(path, "/v1.0/"), strings.HasPrefix(path, "/gettoken"), strings.HasPrefix(path, "/chat/"), strings.HasPrefix(path, "/robot/"):
		return qun.DingTalk
	case strings.HasPrefix(path, "/cgi-bin/"):
		return qun.WeCom
	}
	return ""
}

// callerApp is the app whose token a call carries, as each platform
// carries it.
func (s *Server) callerApp(r *http.Request, p qun.Platform) string {
	var tok string
	switch p {
	case qun.Feishu:
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	case qun.DingTalk:
		if tok = r.Header.Get("x-acs-dingtalk-access-token"); tok == "" {
			tok = r.URL.Query().Get("access_token")
		}
	case qun.WeCom:
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		return ""
	}
	return s.svc.TokenApp(r.Context(), tok)
}

// inject applies the first rule that fires on the call; it reports
// whether the call was answered (an error or a dropped connection).
func (s *Server) inject(w http.ResponseWriter, r *http.Request, rec *httpx.Record) bool {
	rules := s.svc.Faults()
	if len(rules) == 0 {
		return false
	}
	p := platformOf(r.URL.Path)
	if p == "" {
		return false
	}
	app, resolved := "", false
	for _, f := range rules {
		if f.NeedsApp() && !resolved {
			app, resolved = s.callerApp(r, p), true
		}
		if !f.Matches(p, app, r.Method, r.URL.Path) {
			continue
		}
		fired, err := s.svc.Fire(r.Context(), f)
		if err != nil {
			s.log.Warn("fault injection: claiming a use failed", "fault", f.ID, "err", err)
			return false
		}
		if !fired {
			continue
		}
		rec.Set(func(rec *httpx.Record) { rec.Injected, rec.App = f.ID, app })
		if f.LatencyMS > 0 {
			select {
			case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
			case <-r.Context().Done():
				return true
			}
		}
		switch {
		case f.Drop:
			rec.Set(func(rec *httpx.Record) { rec.Dialect, rec.Route, rec.Code = string(p), "fault", "dropped" })
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return true
		case f.Error != "":
			s.faultWriters[p](w, r, f)
			return true
		}
		return false // latency only: the call goes on
	}
	return false
}

func (s *Server) adminFaults(r *http.Request) (any, error) {
	if err := s.svc.RefreshClock(r.Context()); err != nil {
		return nil, err
	}
	fs := s.svc.Faults()
	if fs == nil {
		fs = []qun.Fault{}
	}
	return map[string]any{"faults": fs, "presets": qun.FaultPresets}, nil
}

func (s *Server) adminAddFault(r *http.Request) (any, error) {
	var f qun.Fault
	if err := decodeAdmin(r, &f); err != nil {
		return nil, err
	}
	return s.svc.AddFault(r.Context(), f)
}

func (s *Server) adminDeleteFault(r *http.Request) (any, error) {
	n, err := s.svc.DeleteFaults(r.Context(), r.PathValue("id"))
	return map[string]int{"deleted": n}, err
}

func (s *Server) adminDeleteFaults(r *http.Request) (any, error) {
	n, err := s.svc.DeleteFaults(r.Context(), "")
	return map[string]int{"deleted": n}, err
}
