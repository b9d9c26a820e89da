package server

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/journal"
	"github.com/qunhq/qun/internal/qun"
)

//go:embed console/console.html
var consoleHTML string

var consoleTmpl = template.Must(template.New("console").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
}).Parse(consoleHTML))

const consoleCookie = "qun_admin"

// consoleEvents is how many events of each chat the console shows; the
// admin API's journal pages through all of them.
const consoleEvents = 20

// consoleMessages is how many messages of each chat the console shows.
const consoleMessages = 20

// consoleMessage is a message as the console shows it.
type consoleMessage struct {
	At                      time.Time
	Sender, Type, Text      string
	Reply, Recalled, ByUser bool
	Mentions                []string
}

// consoleMessages returns a chat's newest messages, oldest first, with
// their senders and mentions named, and text shown as text.
func (s *Server) consoleMessages(r *http.Request, chatID string) ([]consoleMessage, error) {
	ms, err := s.svc.Messages(r.Context(), chatID, qun.MessageFilter{Desc: true, Limit: consoleMessages})
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	out := make([]consoleMessage, len(ms))
	err = s.store.View(r.Context(), func(tx qun.Tx) error {
		name := func(user, app int64) (string, error) {
			if app != 0 {
				a, err := tx.App(app)
				return "bot " + a.Name, err
			}
			u, err := tx.User(user)
			return u.Name + " (" + u.UserID + ")", err
		}
		for i, m := range ms {
			cm := consoleMessage{At: m.CreatedAt, Type: m.Type, Text: m.Content, Reply: m.ParentID != "", Recalled: m.Recalled, ByUser: m.SenderUser != 0}
			var doc struct {
				Text    *string `json:"text"`
				Content *string `json:"content"`
			}
			if json.Unmarshal([]byte(m.Content), &doc) == nil {
				switch {
				case doc.Text != nil:
					cm.Text = *doc.Text
				case doc.Content != nil:
					cm.Text = *doc.Content
				}
			}
			var err error
			if cm.Sender, err = name(m.SenderUser, m.SenderApp); err != nil {
				return err
			}
			for _, x := range m.Mentions {
				n := "everyone"
				if !x.All {
					if n, err = name(x.User, x.App); err != nil {
						return err
					}
				}
				cm.Mentions = append(cm.Mentions, x.Key+" = "+n)
			}
			out[len(ms)-1-i] = cm
		}
		return nil
	})
	return out, err
}

// consolePost posts a message as a user from the console's form (user,
// text, and optionally an app to @mention), through the admin API's code,
// then shows the console again at the chat.
func (s *Server) consolePost() http.Handler {
	return httpx.Recover(s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Annotate(r, "console", "POST /console/chats/{chat_id}/messages", "")
		if c, err := r.Cookie(consoleCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cfg.AdminToken)) != 1 {
			http.Redirect(w, r, "/console", http.StatusSeeOther)
			return
		}
		chatID := r.PathValue("chat_id")
		text, app := r.PostFormValue("text"), r.PostFormValue("mention")
		in := userPost{User: r.PostFormValue("user")}
		var platform qun.Platform
		err := s.store.View(r.Context(), func(tx qun.Tx) error {
			c, err := tx.ChatByChatID(chatID)
			platform = c.Platform
			return err
		})
		if err == nil {
			// Feishu writes a mention as @_user_1 in the text; DingTalk and
			// WeCom as @ and the name.
			key := "@_user_1"
			if platform != qun.Feishu {
				key = "@" + app
			}
			if app != "" {
				text = key + " " + text
				in.Mentions = []postMention{{Key: key, App: app}}
			}
			field := "content"
			if platform == qun.Feishu {
				field = "text"
			}
			raw, _ := json.Marshal(map[string]string{field: text})
			in.Content = string(raw)
			_, err = s.postAsUser(r.Context(), chatID, in)
		}
		if err != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			consoleError.Execute(w, map[string]string{"Chat": chatID, "Err": err.Error()})
			return
		}
		http.Redirect(w, r, "/console#"+chatID, http.StatusSeeOther)
	}), func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
}

var consoleError = template.Must(template.New("error").Parse(`<!doctype html><meta charset="utf-8"><title>qun console</title>
<p role="alert" style="color:#b00">Not posted to <code>{{.Chat}}</code>: {{.Err}}</p><p><a href="/console#{{.Chat}}">Back to the console</a></p>`))

// consoleUsers is how many users of each tenant the console lists; the
// admin API pages through all of them.
const consoleUsers = 200

// Pages of the console.
const (
	consoleChats   = 50  // chats a page lists
	consoleMembers = 100 // members a chat page lists
	consoleCalls   = 200 // journal entries the journal page shows
)

// page is what every console page shows.
type page struct {
	Title, Nav  string
	Authorized  bool
	WrongToken  bool
	Now         time.Time
	Clock       qun.ClockState
	Frozen      bool
	Err         string
	Platforms   []qun.Platform
	Node        string
	JournalOn   bool
	Query       string
	Platform    string
	Tenant      string
	App, Path   string
	Code        string
	Next        string
	Chats       []qun.ChatSummary
	Chat        *qun.Chat
	Creator     string
	Members     []qun.MemberDetail
	Users, Bots int
	MoreMembers string
	Messages    []consoleMessage
	Events      []eventView
	Journal     []journal.Entry
	Entries     any
	Links       []qun.Link
	Connections []consoleConn
	Faults      []qun.Fault
	Limits      rateLimitsView
	Presets     []string
}

// consoleAuthorized reports whether the request carries the console's
// cookie with this node's admin token.
func (s *Server) consoleAuthorized(r *http.Request) bool {
	c, err := r.Cookie(consoleCookie)
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cfg.AdminToken)) == 1
}

// consoleHandler serves the console: chats first (newest, searchable,
// paged), a page per chat (settings, members, conversation, events, the
// calls that named it), the directory, the request journal, and the
// faults and clock. Every action is an admin API call made from the page
// with the console's cookie; the token is asked once.
func (s *Server) consoleHandler() http.Handler {
	mux := http.NewServeMux()
	render := func(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
		p.Authorized = p.Authorized || s.consoleAuthorized(r)
		p.Platforms = qun.Platforms
		p.Clock, p.Now = s.svc.Clock()
		p.Frozen = !p.Clock.Frozen.IsZero()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if err := consoleTmpl.ExecuteTemplate(w, name, p); err != nil {
			s.log.Error("console: render", "page", name, "err", err)
		}
	}
	guard := func(route string, fn func(w http.ResponseWriter, r *http.Request) (string, page, error)) {
		mux.Handle(route, httpx.Recover(s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.Annotate(r, "console", route, "")
			if !s.consoleAuthorized(r) {
				render(w, r, "login", http.StatusOK, page{Title: "Log in"})
				return
			}
			s.svc.RefreshClock(r.Context())
			name, p, err := fn(w, r)
			status := http.StatusOK
			if err != nil {
				p.Err, status = err.Error(), http.StatusBadRequest
				if qun.ErrorCode(err) == qun.ENotFound {
					status = http.StatusNotFound
				}
			}
			render(w, r, name, status, p)
		}), func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}))
	}
	mux.Handle("POST /console", httpx.Recover(s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Annotate(r, "console", "/console", "")
		tok := r.PostFormValue("token")
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1 {
			http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/console", http.StatusSeeOther)
			return
		}
		render(w, r, "login", http.StatusUnauthorized, page{Title: "Log in", WrongToken: true})
	}), func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	}))
	guard("GET /console", s.consoleChats)
	guard("GET /console/chats/{chat_id}", s.consoleChat)
	guard("GET /console/directory", s.consoleDirectory)
	guard("GET /console/journal", s.consoleJournal)
	guard("GET /console/controls", s.consoleControls)
	return mux
}

func (s *Server) consoleChats(w http.ResponseWriter, r *http.Request) (string, page, error) {
	q := r.URL.Query()
	p := page{Title: "Chats", Nav: "chats", Query: strings.TrimSpace(q.Get("q")), Platform: q.Get("platform"), Tenant: q.Get("tenant")}
	f := qun.ChatFilter{Platform: qun.Platform(p.Platform), Query: p.Query, Order: qun.ByNewest, Limit: consoleChats + 1}
	if p.Platform != "" && !f.Platform.Valid() {
		return "chats", p, badRequest{"unknown platform " + p.Platform}
	}
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "chats", p, badRequest{"before must be a chat's position"}
		}
		f.After = qun.ChatCursor{ID: id}
	}
	if p.Tenant != "" {
		t, err := s.consoleTenant(r, f.Platform, p.Tenant)
		if err != nil {
			return "chats", p, err
		}
		f.TenantID, f.Platform = t.ID, t.Platform
	}
	// A chat ID finds its chat, whatever its name.
	if p.Query != "" && f.After.ID == 0 {
		if c, err := s.svc.ChatDetailPage(r.Context(), p.Query, 0, 1); err == nil {
			p.Chats = append(p.Chats, qun.ChatSummary{Chat: c.Chat, Tenant: c.Tenant, Users: c.Users, Bots: c.Bots})
		}
	}
	chats, err := s.svc.ChatSummaries(r.Context(), f)
	if err != nil {
		return "chats", p, err
	}
	if len(chats) > consoleChats {
		chats = chats[:consoleChats]
		v := url.Values{"before": {strconv.FormatInt(chats[consoleChats-1].ID, 10)}}
		for _, k := range []string{"q", "platform", "tenant"} {
			if q.Get(k) != "" {
				v.Set(k, q.Get(k))
			}
		}
		p.Next = "/console?" + v.Encode()
	}
	for _, c := range chats {
		if len(p.Chats) == 0 || p.Chats[0].ChatID != c.ChatID {
			p.Chats = append(p.Chats, c)
		}
	}
	return "chats", p, nil
}

// consoleTenant finds a tenant by key, on one platform or any.
func (s *Server) consoleTenant(r *http.Request, p qun.Platform, key string) (qun.Tenant, error) {
	var out qun.Tenant
	err := s.store.View(r.Context(), func(tx qun.Tx) error {
		for _, pl := range qun.Platforms {
			if p != "" && pl != p {
				continue
			}
			if t, err := tx.TenantByKey(pl, key); err == nil {
				out = t
				return nil
			}
		}
		return qun.Errorf(qun.ENotFound, qun.ReasonField, "no tenant %q", key)
	})
	return out, err
}

func (s *Server) consoleChat(w http.ResponseWriter, r *http.Request) (string, page, error) {
	id := r.PathValue("chat_id")
	p := page{Title: id, Nav: "chats"}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "chat", p, badRequest{"after must be a member's position"}
		}
		after = n
	}
	c, err := s.svc.ChatDetailPage(r.Context(), id, after, consoleMembers)
	if err != nil {
		return "chat", p, err
	}
	p.Title, p.Chat, p.Tenant, p.Creator, p.Members, p.Users, p.Bots = c.Name, &c.Chat, c.Tenant, c.Creator, c.Members, c.Users, c.Bots
	if c.Next != 0 {
		p.MoreMembers = "/console/chats/" + url.PathEscape(c.ChatID) + "?after=" + strconv.FormatInt(c.Next, 10)
	}
	if p.Messages, err = s.consoleMessages(r, c.ChatID); err != nil {
		return "chat", p, err
	}
	evs, attempts, err := s.svc.Journal(r.Context(), qun.EventFilter{ChatID: c.ChatID, Limit: consoleEvents})
	if err != nil {
		return "chat", p, err
	}
	for _, e := range evs {
		p.Events = append(p.Events, eventView{Seq: e.ID, Event: e, Attempts: attempts[e.ID]})
	}
	p.Journal = s.journal.List(journal.Filter{Chat: c.ChatID}, consoleEvents)
	return "chat", p, nil
}

func (s *Server) consoleDirectory(w http.ResponseWriter, r *http.Request) (string, page, error) {
	p := page{Title: "Directory", Nav: "directory", Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	entries, err := s.svc.Directory(r.Context(), "", consoleUsers)
	if err != nil {
		return "directory", p, err
	}
	if p.Query != "" {
		q := strings.ToLower(p.Query)
		kept := entries[:0]
		for _, e := range entries {
			users := e.Users[:0]
			for _, u := range e.Users {
				if strings.Contains(strings.ToLower(u.UserID), q) || strings.Contains(strings.ToLower(u.Name), q) {
					users = append(users, u)
				}
			}
			if e.Users = users; len(users) > 0 {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	p.Entries = entries
	if p.Links, err = s.svc.Links(r.Context(), ""); err != nil {
		return "directory", p, err
	}
	p.Connections, err = s.connections(r.Context())
	return "directory", p, err
}

func (s *Server) consoleJournal(w http.ResponseWriter, r *http.Request) (string, page, error) {
	q := r.URL.Query()
	p := page{Title: "Journal", Nav: "journal", Node: s.node, JournalOn: s.journal.On(), Platform: q.Get("platform"), App: q.Get("app"), Path: q.Get("path"), Code: q.Get("code")}
	p.Entries = s.journal.List(journal.Filter{Platform: p.Platform, App: p.App, Path: p.Path, Code: p.Code}, consoleCalls)
	return "journal", p, nil
}

func (s *Server) consoleControls(w http.ResponseWriter, r *http.Request) (string, page, error) {
	p := page{Title: "Faults & clock", Nav: "controls", Faults: s.svc.Faults(), Presets: qun.FaultPresets}
	toks, err := s.liveTokens(r, consoleCalls)
	if err != nil {
		return "controls", p, err
	}
	p.Entries = toks
	p.Limits, err = s.rateLimits(r, consoleCalls)
	return "controls", p, err
}
