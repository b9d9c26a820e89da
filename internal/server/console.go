package server

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
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
			Events map[string][]eventView
			// Messages are each chat's newest messages, oldest first.
			Messages    map[string][]consoleMessage
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
			data.Messages = map[string][]consoleMessage{}
			for _, c := range data.Chats {
				if err != nil {
					break
				}
				data.Messages[c.ChatID], err = s.consoleMessages(r, c.ChatID)
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
