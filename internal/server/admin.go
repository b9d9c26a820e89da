package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// The admin API is qun's own JSON API for operators and test suites, under
// /admin/v1/, guarded by the admin token (Authorization: Bearer <token>).
// docs/admin-api.md documents it.

const adminJSON = "application/json; charset=utf-8"

// adminError is the admin API's error body.
type adminError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	// route registers an API; creates answer 201, the rest 200.
	routeWith := func(status int, pattern string, fn func(r *http.Request) (any, error)) {
		mux.Handle(pattern, httpx.Recover(s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.Annotate(r, "admin", pattern, "")
			if !s.adminAuthorized(r) {
				s.adminFail(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong admin token (Authorization: Bearer <token>)")
				return
			}
			v, err := fn(r)
			if err != nil {
				s.adminError(w, r, err)
				return
			}
			httpx.WriteJSON(w, status, adminJSON, v)
		}), func(w http.ResponseWriter, r *http.Request) {
			s.adminFail(w, r, http.StatusInternalServerError, "internal", "internal error")
		}))
	}
	route := func(pattern string, fn func(r *http.Request) (any, error)) { routeWith(http.StatusOK, pattern, fn) }
	create := func(pattern string, fn func(r *http.Request) (any, error)) {
		routeWith(http.StatusCreated, pattern, fn)
	}
	route("GET /admin/v1/directory", s.adminDirectory)
	route("GET /admin/v1/tenants", s.adminTenants)
	create("POST /admin/v1/tenants", s.adminCreateTenant)
	route("PATCH /admin/v1/tenants/{platform}/{key}", s.adminPatchTenant)
	route("GET /admin/v1/apps", s.adminApps)
	create("POST /admin/v1/apps", s.adminCreateApp)
	route("PATCH /admin/v1/apps/{platform}/{key}", s.adminPatchApp)
	route("DELETE /admin/v1/apps/{platform}/{key}", s.adminDeleteApp)
	route("GET /admin/v1/users", s.adminUsers)
	create("POST /admin/v1/users", s.adminCreateUser)
	create("POST /admin/v1/users/batch", s.adminCreateUsers)
	route("PATCH /admin/v1/users/{platform}/{tenant}/{user_id}", s.adminPatchUser)
	route("GET /admin/v1/friendships", s.adminFriendships)
	create("POST /admin/v1/friendships", s.adminAddFriendship)
	route("GET /admin/v1/links", s.adminLinks)
	create("POST /admin/v1/links", s.adminPutLink)
	route("PATCH /admin/v1/links/{platform}/{key}", s.adminPatchLink)
	route("GET /admin/v1/chats", s.adminChats)
	route("GET /admin/v1/chats/{chat_id}", s.adminChat)
	route("POST /admin/v1/reset", s.adminReset)
	route("GET /admin/v1/events", s.adminEvents)
	route("POST /admin/v1/simulate", s.adminSimulate)
	route("GET /admin/v1/connections", s.adminConnections)
	route("GET /admin/v1/tokens", s.adminTokens)
	route("GET /admin/v1/ratelimits", s.adminRateLimits)
	route("GET /admin/v1/journal", s.adminJournal)
	route("DELETE /admin/v1/journal", s.adminClearJournal)
	route("POST /admin/v1/journal/verify", s.adminVerifyJournal)
	mux.Handle("GET /admin/v1/snapshot", httpx.Recover(s.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Annotate(r, "admin", "GET /admin/v1/snapshot", "")
		if !s.adminAuthorized(r) {
			s.adminFail(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong admin token (Authorization: Bearer <token>)")
			return
		}
		s.adminExport(w, r)
	}), func(w http.ResponseWriter, r *http.Request) {
		s.adminFail(w, r, http.StatusInternalServerError, "internal", "internal error")
	}))
	route("POST /admin/v1/snapshot", s.adminRestore)
	route("GET /admin/v1/faults", s.adminFaults)
	create("POST /admin/v1/faults", s.adminAddFault)
	route("DELETE /admin/v1/faults", s.adminDeleteFaults)
	route("DELETE /admin/v1/faults/{id}", s.adminDeleteFault)
	route("GET /admin/v1/clock", s.adminClock)
	route("POST /admin/v1/clock/freeze", s.adminFreeze)
	route("POST /admin/v1/clock/advance", s.adminAdvance)
	route("POST /admin/v1/clock/reset", s.adminResetClock)
	create("POST /admin/v1/chats/{chat_id}/messages", s.adminPostMessage)
	route("GET /admin/v1/chats/{chat_id}/messages", s.adminMessages)
	route("DELETE /admin/v1/chats/{chat_id}/messages/{message_id}", s.adminRecallMessage)
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		httpx.Annotate(r, "admin", "unknown", "")
		if allowed := httpx.Allowed(mux, r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.adminFail(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+" is not allowed; use "+strings.Join(allowed, " or "))
			return
		}
		s.adminFail(w, r, http.StatusNotFound, "not_found", "no such admin API: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// adminAuthorized checks the admin token: Authorization: Bearer, or
// X-Qun-Admin-Token, or the console's cookie on the console's own calls
// (X-Qun-Console: 1, a header another site's page cannot send without
// the browser asking first, so the cookie alone never acts).
func (s *Server) adminAuthorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		token = r.Header.Get("X-Qun-Admin-Token")
	}
	if token == "" && r.Header.Get("X-Qun-Console") == "1" {
		if c, err := r.Cookie(consoleCookie); err == nil {
			token = c.Value
		}
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) == 1
}

func (s *Server) adminFail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	var body adminError
	body.Error.Code, body.Error.Message = code, msg
	httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code = code })
	httpx.WriteJSON(w, status, adminJSON, body)
}

func (s *Server) adminError(w http.ResponseWriter, r *http.Request, err error) {
	var bad badRequest
	if errors.As(err, &bad) {
		s.adminFail(w, r, http.StatusBadRequest, string(qun.EInvalid), bad.Error())
		return
	}
	e := qun.AsError(err)
	status := map[qun.Code]int{
		qun.EInvalid:     http.StatusBadRequest,
		qun.ENotFound:    http.StatusNotFound,
		qun.EConflict:    http.StatusConflict,
		qun.EForbidden:   http.StatusForbidden,
		qun.EUnavailable: http.StatusForbidden,
	}[e.Code]
	msg := e.Message
	if status == 0 {
		status, msg = http.StatusInternalServerError, "internal error"
		httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Err = err })
	}
	s.adminFail(w, r, status, string(e.Code), msg)
}

// badRequest is a malformed admin request.
type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

// maxAdminBody limits admin request bodies (a batch of users is the
// largest).
const maxAdminBody = 16 << 20

func decodeAdmin(r *http.Request, v any) error {
	raw, err := httpx.ReadBody(nil, r, maxAdminBody)
	if err == nil {
		err = httpx.UnmarshalKnown(raw, v)
	}
	if err != nil {
		return badRequest{"invalid JSON body: " + err.Error()}
	}
	return nil
}

// decodeAdminOptional is decodeAdmin for bodies that may be empty.
func decodeAdminOptional(r *http.Request, v any) error {
	raw, err := httpx.ReadBody(nil, r, maxAdminBody)
	if err == nil && len(bytes.TrimSpace(raw)) > 0 {
		err = httpx.UnmarshalKnown(raw, v)
	}
	if err != nil {
		return badRequest{"invalid JSON body: " + err.Error()}
	}
	return nil
}

func platformParam(v string) (qun.Platform, error) {
	p := qun.Platform(v)
	if v != "" && !p.Valid() {
		return "", badRequest{fmt.Sprintf("unknown platform %q (want feishu, dingtalk or wecom)", v)}
	}
	return p, nil
}

// tenantID finds the internal ID of a tenant key, 0 for "".
func (s *Server) tenantID(r *http.Request, p qun.Platform, key string) (int64, error) {
	if key == "" {
		return 0, nil
	}
	if p == "" {
		return 0, badRequest{"tenant needs platform"}
	}
	var id int64
	err := s.store.View(r.Context(), func(tx qun.Tx) error {
		t, err := tx.TenantByKey(p, key)
		id = t.ID
		return err
	})
	return id, err
}

// Views with the tenant key beside the entity.

type appView struct {
	Tenant string `json:"tenant"`
	qun.App
}

type userView struct {
	Platform qun.Platform `json:"platform"`
	Tenant   string       `json:"tenant"`
	qun.User
}

type tenantView struct {
	qun.Tenant
	Apps  []qun.App  `json:"apps"`
	Users []qun.User `json:"users"`
	// UsersMore says the tenant has more users than directoryUsers;
	// GET /admin/v1/users pages through them all.
	UsersMore bool `json:"users_more,omitempty"`
}

// directoryUsers is how many users of each tenant the directory lists.
const directoryUsers = 1000

func (s *Server) adminDirectory(r *http.Request) (any, error) {
	p, err := platformParam(r.URL.Query().Get("platform"))
	if err != nil {
		return nil, err
	}
	entries, err := s.svc.Directory(r.Context(), p, directoryUsers)
	out := []tenantView{}
	for _, e := range entries {
		out = append(out, tenantView{Tenant: e.Tenant, Apps: orEmpty(e.Apps), Users: orEmpty(e.Users), UsersMore: e.MoreUsers})
	}
	return map[string]any{"tenants": out}, err
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func (s *Server) adminTenants(r *http.Request) (any, error) {
	p, err := platformParam(r.URL.Query().Get("platform"))
	if err != nil {
		return nil, err
	}
	ts, err := s.svc.Tenants(r.Context(), p)
	return map[string]any{"tenants": orEmpty(ts)}, err
}

func (s *Server) adminCreateTenant(r *http.Request) (any, error) {
	var t qun.Tenant
	if err := decodeAdmin(r, &t); err != nil {
		return nil, err
	}
	return s.svc.CreateTenant(r.Context(), t)
}

// tenantPatch changes a tenant; absent fields keep their values.
type tenantPatch struct {
	Name   *string `json:"name"`
	Policy *struct {
		PublicChats     *bool     `json:"public_chats"`
		RestrictedMode  *bool     `json:"restricted_mode"`
		HideMemberCount *bool     `json:"hide_member_count"`
		BlockedWords    *[]string `json:"blocked_words"`
		CorpGroupChat   *bool     `json:"corp_group_chat"`
	} `json:"policy"`
}

func (s *Server) adminPatchTenant(r *http.Request) (any, error) {
	var in tenantPatch
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	p, err := platformParam(r.PathValue("platform"))
	if err != nil {
		return nil, err
	}
	return s.svc.UpdateTenant(r.Context(), p, r.PathValue("key"), func(t *qun.Tenant) {
		patch(&t.Name, in.Name)
		if pol := in.Policy; pol != nil {
			patch(&t.Policy.PublicChats, pol.PublicChats)
			patch(&t.Policy.RestrictedMode, pol.RestrictedMode)
			patch(&t.Policy.HideMemberCount, pol.HideMemberCount)
			patch(&t.Policy.BlockedWords, pol.BlockedWords)
			patch(&t.Policy.CorpGroupChat, pol.CorpGroupChat)
		}
	})
}

// patch sets *dst to *v when the request sent v.
func patch[T any](dst, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) adminLinks(r *http.Request) (any, error) {
	p, err := platformParam(r.URL.Query().Get("platform"))
	if err != nil {
		return nil, err
	}
	links, err := s.svc.Links(r.Context(), p)
	return map[string]any{"links": orEmpty(links)}, err
}

// adminPutLink creates a link or replaces the one with the same platform
// and key. Interconnects may list their corporations as "corps".
func (s *Server) adminPutLink(r *http.Request) (any, error) {
	var in struct {
		qun.Link
		Corps []string `json:"corps"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	l := in.Link
	if !l.Platform.Valid() || l.Key == "" {
		return nil, badRequest{"platform and key are required"}
	}
	if len(in.Corps) > 0 {
		if l.Kind != qun.Interconnect || len(l.Upstream)+len(l.Downstream) > 0 {
			return nil, badRequest{"corps lists the corporations of an interconnect; chains list upstream and downstream"}
		}
		l.Upstream = in.Corps
	}
	return s.svc.PutLink(r.Context(), l)
}

func (s *Server) adminPatchLink(r *http.Request) (any, error) {
	var in struct {
		Name          *string `json:"name"`
		MutualVisible *bool   `json:"mutual_visible"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	p, err := platformParam(r.PathValue("platform"))
	if err != nil {
		return nil, err
	}
	return s.svc.UpdateLink(r.Context(), p, r.PathValue("key"), func(l *qun.Link) {
		patch(&l.Name, in.Name)
		patch(&l.MutualVisible, in.MutualVisible)
	})
}

// appInput is an app in a create or patch request; absent fields keep
// their defaults (create) or values (patch).
type appInput struct {
	Platform       qun.Platform `json:"platform"`
	Tenant         string       `json:"tenant"`
	Key            string       `json:"key"`
	Secret         *string      `json:"secret"`
	Name           *string      `json:"name"`
	Kind           *qun.AppKind `json:"kind"`
	Developer      *string      `json:"developer"`
	Bot            *bool        `json:"bot"`
	Installed      *bool        `json:"installed"`
	ExternalChats  *bool        `json:"external_chats"`
	Scopes         *[]string    `json:"scopes"`
	AgentID        *string      `json:"agent_id"`
	Visible        *[]string    `json:"visible"`
	StandardGroups *bool        `json:"standard_groups"`
	// Events replaces the subscription; null removes it.
	Events json.RawMessage `json:"events"`
}

func (in appInput) apply(a *qun.App) error {
	if len(in.Events) > 0 {
		if string(in.Events) == "null" {
			a.Events = nil
		} else {
			var sub qun.Subscription
			if err := httpx.UnmarshalKnown(in.Events, &sub); err != nil {
				return badRequest{"events: " + err.Error()}
			}
			a.Events = &sub
		}
	}
	patch(&a.Secret, in.Secret)
	patch(&a.Name, in.Name)
	patch(&a.Developer, in.Developer)
	patch(&a.AgentID, in.AgentID)
	patch(&a.Kind, in.Kind)
	patch(&a.Bot, in.Bot)
	patch(&a.Installed, in.Installed)
	patch(&a.ExternalChats, in.ExternalChats)
	patch(&a.StandardGroups, in.StandardGroups)
	patch(&a.Scopes, in.Scopes)
	patch(&a.Visible, in.Visible)
	return nil
}

// verify checks a webhook subscription's URL as the platform does when
// it is saved (Feishu's url_verification challenge), unless it is
// unchanged.
func (s *Server) verify(ctx context.Context, old *qun.Subscription, a qun.App) error {
	sub := a.Events
	if sub == nil || sub.Mode != qun.Webhook || (old != nil && old.URL == sub.URL && old.Key == sub.Key && old.Token == sub.Token) {
		return nil
	}
	v := s.verifiers[a.Platform]
	if v == nil {
		return nil
	}
	if err := v(ctx, a); err != nil {
		return badRequest{"events.url: " + err.Error()}
	}
	return nil
}

// listScope reads the platform and tenant query parameters of a listing.
func (s *Server) listScope(r *http.Request) (qun.Platform, int64, error) {
	q := r.URL.Query()
	p, err := platformParam(q.Get("platform"))
	if err != nil {
		return "", 0, err
	}
	tid, err := s.tenantID(r, p, q.Get("tenant"))
	return p, tid, err
}

func (s *Server) adminApps(r *http.Request) (any, error) {
	p, tid, err := s.listScope(r)
	if err != nil {
		return nil, err
	}
	out := []appView{}
	err = s.store.View(r.Context(), func(tx qun.Tx) error {
		apps, err := tx.Apps(p, tid)
		if err != nil {
			return err
		}
		for _, a := range apps {
			t, err := tx.Tenant(a.TenantID)
			if err != nil {
				return err
			}
			out = append(out, appView{Tenant: t.Key, App: a})
		}
		return nil
	})
	return map[string]any{"apps": out}, err
}

func (s *Server) adminCreateApp(r *http.Request) (any, error) {
	var in appInput
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	if _, err := platformParam(string(in.Platform)); err != nil || in.Platform == "" || in.Tenant == "" {
		return nil, badRequest{"platform and tenant are required"}
	}
	a := qun.App{Key: in.Key, Bot: true, Installed: true, Platform: in.Platform}
	if err := in.apply(&a); err != nil {
		return nil, err
	}
	if err := s.verify(r.Context(), nil, a); err != nil {
		return nil, err
	}
	a, err := s.svc.CreateApp(r.Context(), in.Platform, in.Tenant, a)
	return appView{Tenant: in.Tenant, App: a}, err
}

func (s *Server) adminPatchApp(r *http.Request) (any, error) {
	var in appInput
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	p, err := platformParam(r.PathValue("platform"))
	if err != nil {
		return nil, err
	}
	tid, err := s.tenantID(r, p, r.URL.Query().Get("tenant"))
	if err != nil {
		return nil, err
	}
	var a qun.App
	err = s.store.View(r.Context(), func(tx qun.Tx) error {
		a, err = tx.AppByKey(p, tid, r.PathValue("key"))
		return err
	})
	if err != nil {
		return nil, err
	}
	old := a.Events
	if err := in.apply(&a); err != nil {
		return nil, err
	}
	if err := s.verify(r.Context(), old, a); err != nil {
		return nil, err
	}
	return s.svc.UpdateApp(r.Context(), a)
}

func (s *Server) adminDeleteApp(r *http.Request) (any, error) {
	p, err := platformParam(r.PathValue("platform"))
	if err != nil {
		return nil, err
	}
	tid, err := s.tenantID(r, p, r.URL.Query().Get("tenant"))
	if err != nil {
		return nil, err
	}
	return map[string]bool{"deleted": true}, s.svc.DeleteApp(r.Context(), p, tid, r.PathValue("key"))
}

func (s *Server) adminUsers(r *http.Request) (any, error) {
	p, tid, err := s.listScope(r)
	if err != nil {
		return nil, err
	}
	limit, after := defaultAdminUsers, int64(0)
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxAdminUsers {
			return nil, badRequest{fmt.Sprintf("limit must be an integer from 1 to %d", maxAdminUsers)}
		}
	}
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return nil, badRequest{"after must be the next cursor of the previous page"}
		}
	}
	out := []userView{}
	next := ""
	err = s.store.View(r.Context(), func(tx qun.Tx) error {
		users, err := tx.UsersAfter(p, tid, after, limit+1)
		if err != nil {
			return err
		}
		if len(users) > limit {
			users = users[:limit]
			next = strconv.FormatInt(users[limit-1].ID, 10)
		}
		keys := map[int64]qun.Tenant{}
		for _, u := range users {
			t, ok := keys[u.TenantID]
			if !ok {
				if t, err = tx.Tenant(u.TenantID); err != nil {
					return err
				}
				keys[u.TenantID] = t
			}
			out = append(out, userView{Platform: t.Platform, Tenant: t.Key, User: u})
		}
		return nil
	})
	page := map[string]any{"users": out}
	if next != "" {
		page["next"] = next
	}
	return page, err
}

// The admin user listing pages: at most this many users unless ?limit=
// says otherwise; ?after= takes the answer's "next".
const (
	defaultAdminUsers = 1000
	maxAdminUsers     = 10000
)

// userInput is a user in a create request.
type userInput struct {
	Platform qun.Platform    `json:"platform"`
	Tenant   string          `json:"tenant"`
	UserID   string          `json:"user_id"`
	Name     string          `json:"name"`
	Kind     qun.UserKind    `json:"kind"`
	Status   qun.UserStatus  `json:"status"`
	Contact  qun.ContactType `json:"contact"`
	Aliases  []qun.Alias     `json:"aliases"`
}

func (in userInput) newUser() (qun.NewUser, error) {
	if !in.Platform.Valid() || in.Tenant == "" {
		return qun.NewUser{}, badRequest{"platform and tenant are required"}
	}
	return qun.NewUser{Platform: in.Platform, Tenant: in.Tenant, User: qun.User{
		UserID: in.UserID, Name: in.Name, Kind: in.Kind, Status: in.Status, Contact: in.Contact, Aliases: in.Aliases,
	}}, nil
}

func (s *Server) adminCreateUser(r *http.Request) (any, error) {
	var in userInput
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	n, err := in.newUser()
	if err != nil {
		return nil, err
	}
	u, err := s.svc.CreateUser(r.Context(), n.Platform, n.Tenant, n.User)
	return userView{Platform: n.Platform, Tenant: n.Tenant, User: u}, err
}

// adminCreateUsers adds many users, of any tenants, in one transaction.
func (s *Server) adminCreateUsers(r *http.Request) (any, error) {
	var in struct {
		Users []userInput `json:"users"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	batch := make([]qun.NewUser, len(in.Users))
	for i, u := range in.Users {
		n, err := u.newUser()
		if err != nil {
			return nil, badRequest{fmt.Sprintf("users[%d]: %v", i, err)}
		}
		batch[i] = n
	}
	users, err := s.svc.CreateUsers(r.Context(), batch)
	if err != nil {
		return nil, err
	}
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = userView{Platform: batch[i].Platform, Tenant: batch[i].Tenant, User: u}
	}
	return map[string]any{"users": out}, nil
}

func (s *Server) adminPatchUser(r *http.Request) (any, error) {
	var in struct {
		Status qun.UserStatus `json:"status"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	p, err := platformParam(r.PathValue("platform"))
	if err != nil {
		return nil, err
	}
	ref := qun.UserRef{Platform: p, Tenant: r.PathValue("tenant"), UserID: r.PathValue("user_id")}
	u, err := s.svc.SetUserStatus(r.Context(), ref, in.Status)
	return userView{Platform: p, Tenant: ref.Tenant, User: u}, err
}

func (s *Server) adminFriendships(r *http.Request) (any, error) {
	ref, err := fixtures.ParseUserRef(r.URL.Query().Get("user"))
	if err != nil {
		return nil, badRequest{err.Error() + " (query parameter user)"}
	}
	friends, err := s.svc.Friends(r.Context(), ref)
	return map[string]any{"user": ref, "friends": orEmpty(friends)}, err
}

func (s *Server) adminAddFriendship(r *http.Request) (any, error) {
	var in struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	a, err1 := fixtures.ParseUserRef(in.A)
	b, err2 := fixtures.ParseUserRef(in.B)
	if err := errors.Join(err1, err2); err != nil {
		return nil, badRequest{err.Error()}
	}
	return map[string]any{"a": a, "b": b}, s.svc.AddFriendship(r.Context(), a, b)
}

// The admin chat listing returns at most this many chats unless ?limit=
// says otherwise, so that it never reads the whole store.
const (
	defaultAdminChats = 1000
	maxAdminChats     = 10000
)

func (s *Server) adminChats(r *http.Request) (any, error) {
	p, tid, err := s.listScope(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	f := qun.ChatFilter{Platform: p, TenantID: tid, Status: qun.ChatStatus(q.Get("status")), Query: q.Get("query")}
	f.Limit = defaultAdminChats
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > maxAdminChats {
			return nil, badRequest{fmt.Sprintf("limit must be an integer from 1 to %d", maxAdminChats)}
		}
	}
	chats, err := s.svc.ChatDetails(r.Context(), f)
	return map[string]any{"chats": orEmpty(chats)}, err
}

func (s *Server) adminChat(r *http.Request) (any, error) {
	return s.svc.ChatDetailByID(r.Context(), r.PathValue("chat_id"))
}

func (s *Server) adminReset(r *http.Request) (any, error) {
	if err := s.Reset(r.Context()); err != nil {
		return nil, err
	}
	return map[string]any{"reset": true, "tenants": len(s.directory.Tenants)}, nil
}

// maxAdminEvents bounds a page of the journal.
const maxAdminEvents = 500

// eventView is an event with its attempts, in the journal.
type eventView struct {
	// Seq orders the journal; a page's next is the last one's.
	Seq int64 `json:"seq"`
	qun.Event
	Attempts []qun.Attempt `json:"attempts"`
}

func (s *Server) adminEvents(r *http.Request) (any, error) {
	q := r.URL.Query()
	f := qun.EventFilter{ChatID: q.Get("chat_id"), Status: qun.EventStatus(q.Get("status")), Limit: 100}
	switch f.Status {
	case "", qun.EventPending, qun.EventDelivered, qun.EventFailed:
	default:
		return nil, badRequest{"status must be pending, delivered or failed"}
	}
	var err error
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > maxAdminEvents {
			return nil, badRequest{fmt.Sprintf("limit must be an integer from 1 to %d", maxAdminEvents)}
		}
	}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before < 1 {
			return nil, badRequest{"before must be a positive integer (the next of a previous page)"}
		}
	}
	if key := q.Get("app"); key != "" {
		p, err := platformParam(q.Get("platform"))
		if err != nil || p == "" {
			return nil, badRequest{"app needs its platform"}
		}
		tid, err := s.tenantID(r, p, q.Get("tenant"))
		if err != nil {
			return nil, err
		}
		err = s.store.View(r.Context(), func(tx qun.Tx) error {
			a, err := tx.AppByKey(p, tid, key)
			f.App = a.ID
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	evs, attempts, err := s.svc.Journal(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	views := make([]eventView, 0, len(evs))
	for _, e := range evs {
		views = append(views, eventView{Seq: e.ID, Event: e, Attempts: orEmpty(attempts[e.ID])})
	}
	out["events"] = views
	if len(evs) == f.Limit {
		out["next"] = evs[len(evs)-1].ID
	}
	return out, nil
}

func (s *Server) adminSimulate(r *http.Request) (any, error) {
	var in struct {
		ChatID string   `json:"chat_id"`
		User   string   `json:"user"`
		Action string   `json:"action"`
		Users  []string `json:"users"`
		Name   string   `json:"name"`
	}
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	if in.ChatID == "" || in.User == "" || in.Action == "" {
		return nil, badRequest{"chat_id, user and action are required"}
	}
	c, err := s.svc.Simulate(r.Context(), qun.UserAction{ChatID: in.ChatID, User: in.User, Kind: qun.UserActionKind(in.Action), Users: in.Users, Name: in.Name})
	if err != nil {
		return nil, err
	}
	return s.svc.ChatDetailByID(r.Context(), c.ChatID)
}

// consoleConn is an app's long connections held by this node.
type consoleConn struct {
	Platform    qun.Platform `json:"platform"`
	App         string       `json:"app"`
	Connections int          `json:"connections"`
}

// connections lists the long connections held by this node, by app.
func (s *Server) connections(ctx context.Context) ([]consoleConn, error) {
	out := []consoleConn{}
	for _, id := range s.hub.Apps() {
		a, err := s.svc.App(ctx, id)
		if qun.ErrorCode(err) == qun.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, consoleConn{Platform: a.Platform, App: a.Key, Connections: s.hub.Connected(id)})
	}
	slices.SortFunc(out, func(a, b consoleConn) int { return strings.Compare(string(a.Platform)+a.App, string(b.Platform)+b.App) })
	return out, nil
}

// adminConnections lists the long connections held by this node.
func (s *Server) adminConnections(r *http.Request) (any, error) {
	out, err := s.connections(r.Context())
	return map[string]any{"connections": out}, err
}

// adminMessage is a message as the admin API shows it: senders and
// mentions by their platform IDs.
type adminMessage struct {
	qun.Message
	SenderUser string         `json:"sender_user,omitempty"`
	SenderApp  string         `json:"sender_app,omitempty"`
	Mentions   []adminMention `json:"mentions,omitempty"`
}

type adminMention struct {
	Key  string `json:"key"`
	User string `json:"user,omitempty"`
	App  string `json:"app,omitempty"`
	All  bool   `json:"all,omitempty"`
	Name string `json:"name"`
}

// adminMessages shows messages with their senders' and mentions' IDs.
func (s *Server) adminMessages(r *http.Request) (any, error) {
	q := r.URL.Query()
	f := qun.MessageFilter{Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, badRequest{"limit must be an integer from 1 to 1000"}
		}
		f.Limit = n
	}
	if v := q.Get("since"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest{"since must be a Unix time in milliseconds"}
		}
		f.Since = time.UnixMilli(ms)
	}
	if sender := q.Get("sender"); sender != "" {
		// A user ID of the chat's tenant, or an app key.
		err := s.store.View(r.Context(), func(tx qun.Tx) error {
			c, err := tx.ChatByChatID(r.PathValue("chat_id"))
			if err != nil {
				return err
			}
			if u, err := tx.UserByUserID(c.TenantID, sender); err == nil {
				f.SenderUser = u.ID
				return nil
			}
			a, err := tx.AppByKey(c.Platform, c.TenantID, sender)
			if qun.ErrorCode(err) == qun.ENotFound {
				return badRequest{"sender names no user or app of the chat's tenant"}
			}
			f.SenderApp = a.ID
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	msgs, err := s.svc.Messages(r.Context(), r.PathValue("chat_id"), f)
	if err != nil {
		return nil, err
	}
	out := []adminMessage{}
	err = s.store.View(r.Context(), func(tx qun.Tx) error {
		userID := func(id int64) (string, error) {
			u, err := tx.User(id)
			return u.UserID, err
		}
		appKey := func(id int64) (string, error) {
			a, err := tx.App(id)
			return a.Key, err
		}
		for _, m := range msgs {
			v := adminMessage{Message: m}
			var err error
			if m.SenderUser != 0 {
				v.SenderUser, err = userID(m.SenderUser)
			} else {
				v.SenderApp, err = appKey(m.SenderApp)
			}
			if err != nil {
				return err
			}
			if t := q.Get("type"); t != "" && t != m.Type {
				continue
			}
			for _, x := range m.Mentions {
				am := adminMention{Key: x.Key, All: x.All, Name: x.Name}
				switch {
				case x.User != 0:
					am.User, err = userID(x.User)
				case x.App != 0:
					am.App, err = appKey(x.App)
				}
				if err != nil {
					return err
				}
				v.Mentions = append(v.Mentions, am)
			}
			out = append(out, v)
		}
		return nil
	})
	return map[string]any{"messages": out}, err
}

// adminRecallMessage recalls a message as its sender, a user (?user=),
// in the client: the bots are told as the platform tells them.
func (s *Server) adminRecallMessage(r *http.Request) (any, error) {
	user := r.URL.Query().Get("user")
	if user == "" {
		return nil, badRequest{"?user= (the sender) is required"}
	}
	if err := s.svc.RecallAsUser(r.Context(), r.PathValue("chat_id"), user, r.PathValue("message_id")); err != nil {
		return nil, err
	}
	return map[string]bool{"recalled": true}, nil
}

// userPost is a message to post as a user: the body of POST
// /admin/v1/chats/{chat_id}/messages.
type userPost struct {
	User     string        `json:"user"`
	Type     string        `json:"type"`
	Content  string        `json:"content"`
	ReplyTo  string        `json:"reply_to"`
	Mentions []postMention `json:"mentions"`
}

type postMention struct {
	Key  string `json:"key"`
	User string `json:"user"`
	App  string `json:"app"`
	All  bool   `json:"all"`
}

// adminPostMessage posts a message as a user in the client.
func (s *Server) adminPostMessage(r *http.Request) (any, error) {
	var in userPost
	if err := decodeAdmin(r, &in); err != nil {
		return nil, err
	}
	return s.postAsUser(r.Context(), r.PathValue("chat_id"), in)
}

// postAsUser posts a message as a user (the admin API and the console).
func (s *Server) postAsUser(ctx context.Context, chatID string, in userPost) (adminMessage, error) {
	if in.User == "" || in.Content == "" {
		return adminMessage{}, badRequest{"user and content are required"}
	}
	if in.Type == "" {
		in.Type = "text"
	}
	if !json.Valid([]byte(in.Content)) {
		return adminMessage{}, badRequest{"content must be the platform's content document, as JSON text"}
	}
	post := qun.UserPost{ChatID: chatID, User: in.User, NewMessage: qun.NewMessage{Type: in.Type, Content: in.Content, ReplyTo: in.ReplyTo}}
	err := s.store.View(ctx, func(tx qun.Tx) error {
		c, err := tx.ChatByChatID(chatID)
		if err != nil {
			return err
		}
		for _, m := range in.Mentions {
			x := qun.Mention{Key: m.Key, All: m.All}
			switch {
			case m.User != "":
				u, err := tx.UserByUserID(c.TenantID, m.User)
				if err != nil {
					return badRequest{"mentions: no user " + m.User + " in the chat's tenant"}
				}
				x.User, x.Name = u.ID, u.Name
			case m.App != "":
				a, err := tx.AppByKey(c.Platform, c.TenantID, m.App)
				if err != nil {
					return badRequest{"mentions: no app " + m.App + " in the chat's tenant"}
				}
				x.App, x.Name = a.ID, a.Name
			case m.All:
				x.Name = "所有人"
			default:
				return badRequest{"a mention names a user, an app, or all"}
			}
			post.Mentions = append(post.Mentions, x)
		}
		return nil
	})
	if err != nil {
		return adminMessage{}, err
	}
	m, err := s.svc.PostAsUser(ctx, post)
	if err != nil {
		return adminMessage{}, err
	}
	return adminMessage{Message: m, SenderUser: in.User}, nil
}
