// Package dingtalk serves the DingTalk Open Platform dialect of qun: the
// new-style APIs of api.dingtalk.com (/v1.0/..., token in the
// x-acs-dingtalk-access-token header, errors as a non-2xx status with
// {code, message, requestid}) and the legacy ones of oapi.dingtalk.com
// (/gettoken, /chat/..., token in ?access_token=, always HTTP 200 with
// {errcode, errmsg}), on the wire as the official SDK
// (github.com/alibabacloud-go/dingtalk) expects them.
//
// What is implemented, and what is not, is listed in docs/dingtalk.md.
package dingtalk

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
)

// contentType is the Content-Type of every answer.
const contentType = "application/json;charset=utf-8"

// Config tunes the dialect.
type Config struct {
	// TokenTTL is the lifetime of access tokens (DingTalk: 2 hours); asking
	// again within it returns the same token, renewed.
	TokenTTL time.Duration
	// RateLimits apply per app and API; nil switches them off.
	RateLimits []ratelimit.Rule
	// Limiter keeps the windows; nil uses an in-process one.
	Limiter ratelimit.Limiter
	// MaxBody limits request bodies.
	MaxBody int64
	// Hub holds the node's Stream connections; nil refuses them.
	Hub *events.Hub
	// PublicURL is the base URL (scheme://host) robots reach qun on, for
	// the sessionWebhook of a message pushed over HTTP; over Stream it is
	// the host the connection was dialled on. nil: a relative URL.
	PublicURL func() string
	// Logger receives handler errors; nil means slog.Default().
	Logger *slog.Logger
}

// QPS is DingTalk's default limit: 20 requests a second per app and API.
var QPS = []ratelimit.Rule{{Limit: 20, Window: time.Second}}

// DefaultConfig returns DingTalk's own settings.
func DefaultConfig() Config {
	return Config{TokenTTL: 2 * time.Hour, RateLimits: QPS, MaxBody: 1 << 20}
}

// Permissions of the group APIs.
var (
	permManage = []string{"qyapi_chat_manage"}
	permRead   = []string{"qyapi_chat_read", "qyapi_chat_manage"}
	permRobot  = []string{"qyapi_robot_sendmsg"}
)

// Handler serves the dialect: /v1.0/..., /gettoken and /chat/....
type Handler struct {
	svc *qun.Service
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// topics are the EVENT topics of each app's last Stream open here.
	topics sync.Map
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
	h.mux.HandleFunc("POST /v1.0/oauth2/accessToken", h.accessToken)
	h.api("POST /v1.0/im/group/create", permManage, h.createGroup)
	h.api("POST /v1.0/im/group/update", permManage, h.updateGroup)
	h.api("POST /v1.0/im/chat/{chatId}/convertToOpenConversationId", permRead, h.convertChatID)
	h.api("POST /v1.0/im/subAdministrators", permManage, h.subAdministrators)
	h.api("POST /v1.0/robot/groups/orgRobots/add", permRobot, h.addRobot)
	h.api("POST /v1.0/robot/groupMessages/send", permRobot, h.sendGroupMessage)
	h.api("POST /v1.0/robot/groupMessages/query", permRobot, h.queryGroupMessage)
	h.api("POST /v1.0/robot/groupMessages/recall", permRobot, h.recallGroupMessages)
	h.mux.HandleFunc("POST /v1.0/gateway/connections/open", h.openConnection)
	h.mux.HandleFunc("GET /v1.0/gateway/connect", h.streamConnect)
	h.mux.HandleFunc("/v1.0/", h.notFound)
	h.mux.Handle("POST "+sessionPath, httpx.Recover(h.log, http.HandlerFunc(h.sendBySession), func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, contentType, map[string]any{"errcode": legacySystem.code, "errmsg": legacySystem.msg})
	}))
	h.mux.HandleFunc("GET /gettoken", h.getToken)
	h.legacy("POST /chat/create", permManage, h.legacyCreate)
	h.legacy("POST /chat/update", permManage, h.legacyUpdate)
	h.legacy("GET /chat/get", permRead, h.legacyGet)
	h.mux.HandleFunc("/gettoken", h.legacyNotFound)
	h.mux.HandleFunc("/chat/", h.legacyNotFound)
	svc.SetEventFormat(qun.DingTalk, eventFormat{})
	return h
}

// ServeHTTP serves a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// call is one request being served.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	requestID string
	actor     qun.Actor
}

// endpoint is an API's handler: the answer's body, or an error.
type endpoint func(c *call) (any, error)

// newRequestID returns a request ID in DingTalk's format, an upper-case
// UUID.
func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := strings.ToUpper(hex.EncodeToString(b))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func newTraceID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// apiError is an error of the new-style APIs: HTTP status, code and
// message.
type apiError struct {
	status  int
	code    string
	message string
}

// failure is an error answer being prepared.
type failure struct {
	apiError
	detail map[string]any // accessdenieddetail
	cause  error
}

func (f *failure) Error() string { return fmt.Sprintf("dingtalk %s: %s", f.code, f.message) }

func fail(e apiError) *failure { return &failure{apiError: e} }

// errorBody is the new-style error envelope.
type errorBody struct {
	Code               string         `json:"code"`
	RequestID          string         `json:"requestid"`
	Message            string         `json:"message"`
	AccessDeniedDetail map[string]any `json:"accessdenieddetail,omitempty"`
}

// api registers a new-style API that needs any of perms.
func (h *Handler) api(pattern string, perms []string, fn endpoint) {
	h.mux.Handle(pattern, httpx.Recover(h.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.newCall(w, r, pattern)
		data, err := h.serveAPI(c, pattern, perms, fn)
		if err != nil {
			h.writeError(c, toFailure(err, nil))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, contentType, data)
	}), func(w http.ResponseWriter, r *http.Request) {
		h.writeError(h.newCall(w, r, pattern), fail(errSystem))
	}))
}

func (h *Handler) newCall(w http.ResponseWriter, r *http.Request, route string) *call {
	c := &call{w: w, r: r, requestID: newRequestID()}
	httpx.Annotate(r, "dingtalk", route, c.requestID)
	w.Header().Set("x-acs-request-id", c.requestID)
	w.Header().Set("x-acs-trace-id", newTraceID())
	return c
}

func (h *Handler) serveAPI(c *call, route string, perms []string, fn endpoint) (any, error) {
	token := c.r.Header.Get("x-acs-dingtalk-access-token")
	if token == "" {
		return nil, fail(errMissingToken)
	}
	actor, err := h.svc.Authenticate(c.r.Context(), token, qun.CorpToken)
	if err != nil {
		return nil, err
	}
	c.actor = actor
	if limited, err := h.limited(c, route); err != nil {
		return nil, err
	} else if limited {
		return nil, fail(errQPS)
	}
	if !actor.App.HasScope(perms...) {
		f := fail(errPermission)
		f.detail = map[string]any{"requiredScopes": perms[:1]}
		return nil, f
	}
	return fn(c)
}

// limited applies the per-app, per-API rate limit and reports whether it
// refuses the call. A limiter that fails refuses it with its error (the
// system error): a limit qun cannot check is not waived.
func (h *Handler) limited(c *call, route string) (bool, error) {
	if len(h.cfg.RateLimits) == 0 {
		return false, nil
	}
	d, err := h.cfg.Limiter.Allow(c.r.Context(), "dingtalk|"+route+"|"+c.actor.App.Key, h.cfg.RateLimits)
	if err != nil {
		return true, fmt.Errorf("dingtalk: rate limiter: %w", err)
	}
	return !d.Allowed, nil
}

func (h *Handler) writeError(c *call, f *failure) {
	if f.status >= 500 {
		h.log.Error("dingtalk: internal error", "requestid", c.requestID, "err", f.cause)
	}
	httpx.RecordOf(c.r.Context()).Set(func(rec *httpx.Record) { rec.Code, rec.Err = f.code, f.cause })
	httpx.WriteJSON(c.w, f.status, contentType, errorBody{Code: f.code, RequestID: c.requestID, Message: f.message, AccessDeniedDetail: f.detail})
}

// notFound answers unknown new-style paths: JSON, so the SDK can read it.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.writeError(h.newCall(w, r, "unknown"), fail(errNoSuchAPI))
}
