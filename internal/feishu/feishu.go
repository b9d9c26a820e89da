// Package feishu serves the Feishu / Lark Open Platform dialect of qun: the
// auth/v3 token endpoints and the im/v1 chat APIs, on the wire exactly as the
// official SDKs (github.com/larksuite/oapi-sdk-go/v3, @larksuiteoapi/node-sdk)
// expect them. It decodes and validates requests, authenticates tokens,
// calls the domain core and maps its errors to Feishu's code/msg envelope.
//
// What is implemented, and what is not, is listed in docs/feishu.md.
package feishu

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
)

// Content type of every answer, errors included.
const contentType = "application/json; charset=utf-8"

// Config tunes the dialect.
type Config struct {
	// TokenTTL is the lifetime of issued tokens (Feishu: 2 hours).
	TokenTTL time.Duration
	// TokenReuse is the remaining lifetime above which a token request
	// returns the current token (Feishu: 30 minutes).
	TokenReuse time.Duration
	// AvatarBase is the URL prefix of chat avatars; the image key and
	// "~100x100.jpg" follow it.
	AvatarBase string
	// MaxBody limits request bodies.
	MaxBody int64
	// RateLimits apply to every im API, per API, app and tenant; nil
	// switches rate limiting off.
	RateLimits []ratelimit.Rule
	// Limiter keeps the rate-limit windows; nil uses an in-process one.
	Limiter ratelimit.Limiter
	// Hub holds the node's long connections; nil refuses them.
	Hub *events.Hub
	// LongConn is what the long-connection endpoint tells clients.
	LongConn ClientConfig
	// Logger receives handler errors; nil means slog.Default().
	Logger *slog.Logger
}

// Tier4 is Feishu's rate-limit tier of the chat APIs: 50 requests a second
// and 1000 a minute, whichever is reached first.
var Tier4 = []ratelimit.Rule{{Limit: 50, Window: time.Second}, {Limit: 1000, Window: time.Minute}}

// DefaultConfig returns Feishu's own settings.
func DefaultConfig() Config {
	return Config{
		TokenTTL:   2 * time.Hour,
		TokenReuse: 30 * time.Minute,
		AvatarBase: "https://p3-lark-file.byteimg.com/img/lark-avatar-staging/",
		MaxBody:    1 << 20,
		RateLimits: Tier4,
		LongConn:   DefaultClientConfig,
	}
}

// DefaultAvatar is the image key of a chat created without an avatar.
const DefaultAvatar = "default-avatar_44ae0ca3-e140-494b-956f-78091e348435"

// Handler serves the Feishu dialect under /open-apis/.
type Handler struct {
	svc *qun.Service
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a Handler serving svc.
func New(svc *qun.Service, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewLocal(svc.Now)
	}
	h := &Handler{svc: svc, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	h.routes()
	svc.SetEventFormat(qun.Feishu, eventFormat{h})
	return h
}

// endpoint is a route's handler. It returns the response data (the "data"
// member of the envelope) or an error.
type endpoint func(c *call) (any, error)

// call is one request being served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	logID string
	actor qun.Actor
}

// Scopes of the im APIs: an app needs any one of a route's.
var (
	scopesCreate  = []string{"im:chat", "im:chat:create"}
	scopesRead    = []string{"im:chat", "im:chat:read", "im:chat:readonly"}
	scopesList    = []string{"im:chat", "im:chat:readonly", "im:chat:read", "im:chat.group_info:readonly"}
	scopesUpdate  = []string{"im:chat", "im:chat:update"}
	scopesDelete  = []string{"im:chat", "im:chat:delete"}
	scopesMembers = []string{"im:chat", "im:chat.members:write_only"}
	scopesMemRead = []string{"im:chat", "im:chat:readonly", "im:chat.members:read", "im:chat.group_info:readonly"}
	scopesManager = []string{"im:chat", "im:chat.managers:write_only"}
)

func (h *Handler) routes() {
	h.mux.HandleFunc("POST /open-apis/auth/v3/tenant_access_token/internal", h.tenantAccessToken)
	h.mux.HandleFunc("POST /open-apis/auth/v3/app_access_token/internal", h.appAccessToken)
	h.mux.HandleFunc("POST /callback/ws/endpoint", h.wsEndpoint)
	h.mux.HandleFunc("GET /callback/ws/connect", h.wsConnect)
	const chats = "/open-apis/im/v1/chats"
	h.handle("POST "+chats, scopesCreate, h.createChat)
	h.handle("GET "+chats, scopesList, h.listChats)
	h.handle("GET "+chats+"/search", scopesList, h.searchChats)
	h.handle("GET "+chats+"/{chat_id}", scopesRead, h.getChat)
	h.handle("PUT "+chats+"/{chat_id}", scopesUpdate, h.updateChat)
	h.handle("DELETE "+chats+"/{chat_id}", scopesDelete, h.deleteChat)
	h.handle("POST "+chats+"/{chat_id}/members", scopesMembers, h.addMembers)
	h.handle("DELETE "+chats+"/{chat_id}/members", scopesMembers, h.removeMembers)
	h.handle("GET "+chats+"/{chat_id}/members", scopesMemRead, h.listMembers)
	h.handle("GET "+chats+"/{chat_id}/members/is_in_chat", scopesMemRead, h.isInChat)
	h.handle("POST "+chats+"/{chat_id}/managers/add_managers", scopesManager, h.addManagers)
	h.handle("POST "+chats+"/{chat_id}/managers/delete_managers", scopesManager, h.deleteManagers)
	h.handle("PUT "+chats+"/{chat_id}/moderation", scopesUpdate, h.updateModeration)
	h.handle("GET "+chats+"/{chat_id}/moderation", scopesRead, h.getModeration)
	const messages = "/open-apis/im/v1/messages"
	h.handle("POST "+messages, scopesSend, h.sendMessage)
	h.handle("GET "+messages, scopesMsgRead, h.listMessages)
	h.handle("GET "+messages+"/{message_id}", scopesMsgRead, h.getMessage)
	h.handle("DELETE "+messages+"/{message_id}", scopesSend, h.deleteMessage)
	h.handle("POST "+messages+"/{message_id}/reply", scopesSend, h.replyMessage)
	// Unknown paths and methods answer as Feishu's gateway does: 404 text.
	h.mux.Handle("/", http.NotFoundHandler())
}

// ServeHTTP serves a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// handle registers an authenticated im API that needs any of scopes.
func (h *Handler) handle(pattern string, scopes []string, fn endpoint) {
	h.mux.Handle(pattern, httpx.Recover(h.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r, logID: newLogID()}
		httpx.Annotate(r, "feishu", pattern, c.logID)
		data, err := h.serve(c, pattern, scopes, fn)
		if err != nil {
			h.writeError(c, err)
			return
		}
		h.writeData(c, data)
	}), func(w http.ResponseWriter, r *http.Request) {
		h.writeError(&call{w: w, r: r, logID: newLogID()}, fail(errInternal))
	}))
}

func (h *Handler) serve(c *call, route string, scopes []string, fn endpoint) (any, error) {
	token, ok := bearer(c.r.Header.Get("Authorization"))
	if !ok {
		return nil, fail(errMissingToken)
	}
	actor, err := h.svc.Authenticate(c.r.Context(), token, qun.TenantToken)
	if err != nil {
		return nil, err
	}
	c.actor = actor
	if err := h.limit(c, route); err != nil {
		return nil, err
	}
	if len(scopes) > 0 && !actor.App.HasScope(scopes...) {
		return nil, scopeFailure(actor.App, scopes)
	}
	return fn(c)
}

// limit applies the rate limits of route to the calling app in its tenant.
func (h *Handler) limit(c *call, route string) error {
	if len(h.cfg.RateLimits) == 0 {
		return nil
	}
	key := "feishu|" + route + "|" + c.actor.App.Key + "|" + c.actor.Tenant.Key
	d, err := h.cfg.Limiter.Allow(c.r.Context(), key, h.cfg.RateLimits)
	if err != nil {
		// Closed: a limit qun cannot check is not waived (the system
		// error, which the SDKs retry).
		return fmt.Errorf("feishu: rate limiter: %w", err)
	}
	if d.Allowed {
		return nil
	}
	c.w.Header().Set("x-ogw-ratelimit-limit", fmt.Sprint(d.Rule.Limit))
	c.w.Header().Set("x-ogw-ratelimit-reset", fmt.Sprint(int(math.Ceil(d.Reset.Seconds()))))
	return fail(errRateLimited)
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// scopeFailure is 99991672 naming the scopes, one of which is needed.
func scopeFailure(app qun.App, scopes []string) *failure {
	f := fail(errScope)
	list := strings.Join(scopes, ", ")
	f.msg = strings.Replace(f.msg, "%s", list, 1) + " 应用尚未开通所需的应用身份权限：[" + list + "]，点击链接申请并开通任一权限即可：https://open.feishu.cn/app/" + app.Key + "/auth?q=" + strings.Join(scopes, ",") + "&op_from=openapi&token_type=tenant"
	for _, s := range scopes {
		f.detail.PermissionViolations = append(f.detail.PermissionViolations, permissionViolation{Type: "action_scope_required", Subject: s, Description: "The app needs this scope (any one of those listed)."})
	}
	return f
}

// successBody is Feishu's success envelope.
type successBody struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
	Data any    `json:"data"`
}

func (h *Handler) writeData(c *call, data any) {
	if data == nil {
		data = struct{}{}
	}
	c.w.Header().Set("X-Tt-Logid", c.logID)
	httpx.WriteJSON(c.w, http.StatusOK, contentType, successBody{Code: 0, Msg: "success", Data: data})
}

func (h *Handler) writeError(c *call, err error) {
	f := toFailure(err)
	if f.code == errInternal.code {
		h.log.Error("feishu: internal error", "log_id", c.logID, "err", err)
	}
	httpx.RecordOf(c.r.Context()).Set(func(rec *httpx.Record) {
		rec.Code, rec.Err = statusText(f.code), f.cause
	})
	f.detail.LogID = c.logID
	f.detail.Troubleshooter = troubleshooter(c.logID, f.code)
	c.w.Header().Set("X-Tt-Logid", c.logID)
	httpx.WriteJSON(c.w, f.status, contentType, errorBody{Code: f.code, Msg: f.msg, Error: f.detail, Data: f.data})
}

// newLogID returns a log ID in Feishu's format: the time to the second and
// random uppercase hex.
func newLogID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return time.Now().Format("20060102150405") + strings.ToUpper(hex.EncodeToString(b))
}
