// Package wecom serves the WeCom (企业微信) dialect of qun: the server APIs
// of qyapi.weixin.qq.com under /cgi-bin/ (tokens, JS-SDK tickets, the
// mini-program code exchange, the app-chat APIs), answered as HTTP 200 with
// {errcode, errmsg} the way github.com/xen0n/go-workwx and the other SDKs
// read them; and a simulated WeCom client under /wecom/client/, so that a
// page using the official @wecom/jssdk, or mini-program-style wx.qy calls,
// runs in an ordinary browser and creates corp-group chats
// (wx.qy.createCorpGroupChat).
//
// What is implemented, and what is not, is listed in docs/wecom.md.
package wecom

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
)

// contentType is the Content-Type of every server API answer.
const contentType = "application/json; charset=UTF-8"

// Config tunes the dialect.
type Config struct {
	// TokenTTL is the lifetime of access tokens and suite tokens (WeCom: 2
	// hours); asking again within it returns the same token.
	TokenTTL time.Duration
	// TicketTTL is the lifetime of JS-SDK tickets (2 hours).
	TicketTTL time.Duration
	// CodeTTL is how long a wx.qy.login code may be exchanged (5 minutes).
	CodeTTL time.Duration
	// SessionTTL is the lifetime of a member's session (its session_key)
	// once the backend has exchanged a code. WeCom does not publish it; qun
	// uses 2 hours.
	SessionTTL time.Duration
	// RateLimits apply per corporation and API; nil switches them off.
	RateLimits []ratelimit.Rule
	// Limiter keeps the windows; nil uses an in-process one.
	Limiter ratelimit.Limiter
	// MaxBody limits request bodies.
	MaxBody int64
	// Logger receives handler errors; nil means slog.Default().
	Logger *slog.Logger
}

// PerMinute is WeCom's frequency limit on one API for one corporation:
// 10,000 calls a minute.
var PerMinute = []ratelimit.Rule{{Limit: 10000, Window: time.Minute}}

// DefaultConfig returns WeCom's own settings.
func DefaultConfig() Config {
	return Config{
		TokenTTL: 2 * time.Hour, TicketTTL: 2 * time.Hour, CodeTTL: 5 * time.Minute, SessionTTL: 2 * time.Hour,
		RateLimits: PerMinute, MaxBody: 2 << 20,
	}
}

// Handler serves the dialect: /cgi-bin/... and /wecom/client/....
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
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultConfig().MaxBody
	}
	h := &Handler{svc: svc, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	h.open("/cgi-bin/gettoken", http.MethodGet, h.getToken)
	h.open("/cgi-bin/service/get_suite_token", http.MethodPost, h.getSuiteToken)
	h.api("/cgi-bin/get_jsapi_ticket", http.MethodGet, corpToken, h.jsapiTicket)
	h.api("/cgi-bin/ticket/get", http.MethodGet, corpToken, h.agentTicket)
	h.api("/cgi-bin/miniprogram/jscode2session", http.MethodGet, corpToken, h.codeToSession)
	h.api("/cgi-bin/service/miniprogram/jscode2session", http.MethodGet, suiteToken, h.codeToSession)
	h.api("/cgi-bin/appchat/create", http.MethodPost, corpToken, h.createAppchat)
	h.api("/cgi-bin/appchat/get", http.MethodGet, corpToken, h.getAppchat)
	h.api("/cgi-bin/appchat/update", http.MethodPost, corpToken, h.updateAppchat)
	h.api("/cgi-bin/appchat/send", http.MethodPost, corpToken, h.sendAppchat)
	h.mux.HandleFunc("/cgi-bin/", func(w http.ResponseWriter, r *http.Request) {
		c := h.newCall(w, r, "unknown")
		h.write(c, nil, errNoSuchAPI)
	})
	h.clientRoutes()
	svc.SetEventFormat(qun.WeCom, eventFormat{})
	return h
}

// ServeHTTP serves a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// call is one server API request being served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	route string
	actor qun.Actor
}

// endpoint is a server API's handler: the answer's body, with envelope
// embedded, or an error.
type endpoint func(c *call) (any, error)

// tokenParam says which token an API takes: its query parameter and kind,
// and the errors for a missing, unknown and expired one.
type tokenParam struct {
	name                      string
	kind                      qun.TokenKind
	missing, invalid, expired apiError
}

var (
	corpToken  = tokenParam{"access_token", qun.CorpToken, errMissingToken, errInvalidToken, errExpiredToken}
	suiteToken = tokenParam{"suite_access_token", qun.SuiteToken, errMissingSuiteToken, errInvalidSuiteToken, errExpiredSuiteToken}
)

// envelope is what every answer starts with.
type envelope struct {
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
}

var ok = envelope{Errcode: 0, Errmsg: "ok"}

func (h *Handler) newCall(w http.ResponseWriter, r *http.Request, route string) *call {
	httpx.Annotate(r, "wecom", route, "")
	return &call{w: w, r: r, route: route}
}

// open registers an API that takes no access token.
func (h *Handler) open(path, method string, fn endpoint) {
	h.handle(path, method, func(c *call) (any, error) { return fn(c) })
}

// api registers an API that takes a token of param's kind.
func (h *Handler) api(path, method string, param tokenParam, fn endpoint) {
	h.handle(path, method, func(c *call) (any, error) {
		token := c.r.URL.Query().Get(param.name)
		if token == "" {
			return nil, param.missing
		}
		actor, err := h.svc.Authenticate(c.r.Context(), token, param.kind)
		switch {
		case err == nil:
		case qun.ErrorReason(err) == qun.ReasonTokenExpired:
			return nil, param.expired
		case qun.ErrorCode(err) == qun.EUnavailable:
			return nil, param.invalid
		default:
			return nil, err
		}
		c.actor = actor
		if limited, err := h.limited(c); err != nil {
			return nil, err
		} else if limited {
			return nil, errFrequency
		}
		return fn(c)
	})
}

// handle registers path for method: other methods get 40058, as a POST
// API called with GET misses its body; panics answer -1.
func (h *Handler) handle(path, method string, fn endpoint) {
	h.mux.Handle(path, httpx.Recover(h.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.newCall(w, r, method+" "+path)
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodPost) {
			h.write(c, nil, errBadParameter)
			return
		}
		body, err := fn(c)
		h.write(c, body, err)
	}), func(w http.ResponseWriter, r *http.Request) {
		h.write(h.newCall(w, r, path), nil, errSystem)
	}))
}

// limited applies the per-corporation, per-API rate limit and reports
// whether it refuses the call. A limiter that fails refuses it with its
// error (system busy): a limit qun cannot check is not waived.
func (h *Handler) limited(c *call) (bool, error) {
	if len(h.cfg.RateLimits) == 0 {
		return false, nil
	}
	d, err := h.cfg.Limiter.Allow(c.r.Context(), "wecom|"+c.route+"|"+c.actor.Tenant.Key, h.cfg.RateLimits)
	if err != nil {
		return true, fmt.Errorf("wecom: rate limiter: %w", err)
	}
	return !d.Allowed, nil
}

// write answers body, or the error err maps to, always with HTTP 200 and
// WeCom's Error-Code and Error-Msg headers.
func (h *Handler) write(c *call, body any, err error) {
	if err != nil {
		e := toAPIError(err)
		if e.code == errSystem.code {
			h.log.Error("wecom: internal error", "route", c.route, "err", err)
		}
		httpx.RecordOf(c.r.Context()).Set(func(rec *httpx.Record) { rec.Code, rec.Err = strconv.Itoa(e.code), err })
		body = envelope{Errcode: e.code, Errmsg: e.message(c.r)}
	}
	env := ok
	if b, isBody := body.(interface{ head() envelope }); isBody {
		env = b.head() // envelope, or an answer embedding it
	}
	c.w.Header().Set("Error-Code", strconv.Itoa(env.Errcode))
	c.w.Header().Set("Error-Msg", env.Errmsg)
	httpx.WriteJSON(c.w, http.StatusOK, contentType, body)
}

func (e envelope) head() envelope { return e }

// message is the errmsg of e as WeCom writes it: the text, a hint with a
// request ID, the caller's IP and where to look the code up.
func (e apiError) message(r *http.Request) string {
	b := make([]byte, 16)
	rand.Read(b)
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return fmt.Sprintf("%s, hint: [%d_%d_%s], from ip: %s, more info at https://open.work.weixin.qq.com/devtool/query?e=%d",
		e.text, time.Now().Unix(), 1+int(b[0])%99, hex.EncodeToString(b), ip, e.code)
}
