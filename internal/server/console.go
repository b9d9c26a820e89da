package server

import (
	"crypto/subtle"
	_ "embed"
	"html/template"
	"net/http"
	"time"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

//go:embed console/console.html
var consoleHTML string

var consoleTmpl = template.Must(template.New("console").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
}).Parse(consoleHTML))

const consoleCookie = "qun_admin"

// consoleEvents is how many events of each chat the console shows; the
// admin API's journal pages through all of them.
const consoleEvents = 20

// consoleUsers is how many users of each tenant the console lists; the
// admin API pages through all of them.
const consoleUsers = 200

// consoleHandler serves /console: a read-only page of the directory and
// the newest chats. It asks for the admin token once and keeps it in a
// cookie.
func (s *Server) consoleHandler() http.Handler {
	return httpx.Recover(s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Annotate(r, "console", "/console", "")
		data := struct {
			Authorized bool
			WrongToken bool
			Entries    []qun.DirectoryEntry
			Links      []qun.Link
			Chats      []qun.ChatDetail
			// Events are each chat's newest events, with their attempts.
			Events      map[string][]eventView
			Connections []consoleConn
			Err         string
		}{}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			tok := r.PostFormValue("token")
			if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1 {
				http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: tok, Path: "/console", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				http.Redirect(w, r, "/console", http.StatusSeeOther)
				return
			}
			data.WrongToken, status = true, http.StatusUnauthorized
		} else if c, err := r.Cookie(consoleCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cfg.AdminToken)) == 1 {
			data.Authorized = true
			var err error
			if data.Entries, err = s.svc.Directory(r.Context(), "", consoleUsers); err == nil {
				data.Links, err = s.svc.Links(r.Context(), "")
			}
			if err == nil {
				data.Chats, err = s.svc.ChatDetails(r.Context(), qun.ChatFilter{Order: qun.ByNewest, Limit: 100})
			}
			data.Events = map[string][]eventView{}
			for _, c := range data.Chats {
				if err != nil {
					break
				}
				var evs []qun.Event
				var attempts map[int64][]qun.Attempt
				evs, attempts, err = s.svc.Journal(r.Context(), qun.EventFilter{ChatID: c.ChatID, Limit: consoleEvents})
				for _, e := range evs {
					data.Events[c.ChatID] = append(data.Events[c.ChatID], eventView{Seq: e.ID, Event: e, Attempts: attempts[e.ID]})
				}
			}
			if err == nil {
				data.Connections, err = s.connections(r.Context())
			}
			if err != nil {
				data.Err = err.Error()
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if err := consoleTmpl.Execute(w, data); err != nil {
			s.log.Error("console: render", "err", err)
		}
	}), func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
}
