package wecom

import (
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// The simulated WeCom client. In real life the WeCom app on a phone or a
// desktop runs a page's JS-SDK calls for the signed-in member; here a
// script served by qun (client.js) plays that app inside an ordinary
// browser: it installs window.WeixinJSBridge, which the official
// @wecom/jssdk talks to, and wx.qy for mini-program-style pages, and
// forwards every call to POST /wecom/client/v1/invoke, where the rules are
// applied. Who is signed in, and which client version and platform run the
// page, come from the script's query string or window.QUN_WECOM.

//go:embed client.js
var clientJS []byte

//go:embed demo.html
var demoHTML []byte

func (h *Handler) clientRoutes() {
	static := func(body []byte, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			httpx.Annotate(r, "wecom", "client", "")
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(body)
		}
	}
	h.mux.Handle("GET /wecom/client/client.js", static(clientJS, "text/javascript; charset=utf-8"))
	h.mux.Handle("GET /wecom/client/demo", static(demoHTML, "text/html; charset=utf-8"))
	h.mux.HandleFunc("OPTIONS /wecom/client/v1/invoke", func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		w.WriteHeader(http.StatusNoContent)
	})
	h.mux.Handle("POST /wecom/client/v1/invoke", httpx.Recover(h.log, http.HandlerFunc(h.invoke), func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		httpx.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", answer{ErrMsg: "system:fail", ErrMsgRaw: "system:fail"})
	}))
}

func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
}

// clientContext is who runs the page: the signed-in member of a
// corporation, the app a mini-program is bound to (agentid, or suite_id for
// third-party apps), and the client's version and platform.
type clientContext struct {
	Corp     string `json:"corp"`
	User     string `json:"user"`
	Agent    string `json:"agent"`
	Suite    string `json:"suite"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
}

// invocation is one call the page made. Surface is "jsbridge" for
// WeixinJSBridge.invoke and "miniprogram" for wx.qy; URL is the page's
// address without its fragment (what JS-SDK signatures cover); Agent is the
// agentid the page registered with a successful agentConfig, which the
// client remembers for the page.
type invocation struct {
	Surface string          `json:"surface"`
	Name    string          `json:"name"`
	Args    json.RawMessage `json:"args"`
	Context clientContext   `json:"context"`
	URL     string          `json:"url"`
	Agent   string          `json:"agent"`
}

// answer is what the page's callback receives. Both errMsg and err_msg
// carry the result, as WeCom clients differ in which they set.
type answer struct {
	ErrMsg      string          `json:"errMsg"`
	ErrMsgRaw   string          `json:"err_msg"`
	ChatID      string          `json:"chatId,omitempty"`
	Code        string          `json:"code,omitempty"`
	ExpireIn    *int            `json:"expireIn,omitempty"`
	CheckResult map[string]bool `json:"checkResult,omitempty"`
}

func result(api, outcome string) answer {
	msg := api + ":" + outcome
	return answer{ErrMsg: msg, ErrMsgRaw: msg}
}

// Outcomes of createCorpGroupChat (and their siblings), as the seed
// document and @wecom/jssdk list them.
const (
	outOK             = "ok"
	outNoSession      = "fail no session or expired"
	outNoPermission   = "fail no permission"
	outTooMany        = "fail exceed user id list size"
	outTooManyWeChat  = "fail exceed external user id list size"
	outInvalid        = "fail invalid parameter"
	outNeedCorpGroup  = "fail need open corp group chat"
	outNoFunction     = "function not exist"
	outBadSignature   = "fail invalid signature"
	outBadCorpID      = "fail invalid corpid"
	outBadAgentID     = "fail invalid agentid"
	outNotSignedIn    = "fail not signed in"
	outInvalidRequest = "fail invalid request"
)

// Client versions that brought the APIs: createCorpGroupChat, then chains
// (上下游) and external contacts in it.
var (
	sinceCorpGroupChat = version{3, 1, 8}
	sinceChains        = version{3, 1, 20}
)

// version is a client version, major.minor.patch.
type version [3]int

func parseVersion(s string) (version, bool) {
	var v version
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		if i < 3 {
			v[i] = n
		}
	}
	return v, true
}

func (v version) before(w version) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

// supported reports whether the client can run createCorpGroupChat at all:
// WeCom 3.1.8 or later, on iOS, Android or Windows.
func (cc clientContext) supported() (version, bool) {
	v, ok := parseVersion(cc.Version)
	switch strings.ToLower(cc.Platform) {
	case "ios", "android", "windows":
	default:
		return v, false
	}
	return v, ok && !v.before(sinceCorpGroupChat)
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "wecom", "client invoke", "")
	cors(w)
	raw, err := httpx.ReadBody(w, r, h.cfg.MaxBody)
	var in invocation
	if err == nil {
		err = httpx.Unmarshal(raw, &in)
	}
	var out answer
	switch {
	case err != nil:
		out = result("system", outInvalidRequest)
	case in.Surface == "miniprogram":
		out = h.miniProgram(r, in)
	default:
		out = h.bridge(r, in)
	}
	if !strings.HasSuffix(out.ErrMsg, ":"+outOK) {
		httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code = out.ErrMsg })
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", out)
}

// bridge answers WeixinJSBridge.invoke: JS-SDK calls signed by agentConfig.
func (h *Handler) bridge(r *http.Request, in invocation) answer {
	switch in.Name {
	case "agentConfig":
		return h.agentConfig(r, in)
	case "preVerifyJSAPI":
		return h.corpConfig(r, in)
	case "createCorpGroupChat":
		v, ok := in.Context.supported()
		if !ok {
			return result(in.Name, outNoFunction)
		}
		actor, ok := h.verifiedAgent(r, in)
		if !ok {
			return result(in.Name, outNoPermission)
		}
		return h.createCorpGroupChat(r, in, actor, v)
	}
	return result(in.Name, outNoFunction)
}

// agentConfigArgs are the arguments of the agentConfig bridge call.
type agentConfigArgs struct {
	CorpID    string   `json:"corpid"`
	AgentID   string   `json:"agentid"`
	Timestamp string   `json:"timestamp"`
	NonceStr  string   `json:"nonceStr"`
	Signature string   `json:"signature"`
	JSAPIList []string `json:"jsApiList"`
}

// agentConfig checks an app identity registration: the corporation is the
// signed-in member's, the agent one of its apps, and the signature sha1 of
// the app's agent_config ticket, the nonce, the timestamp and the page URL.
func (h *Handler) agentConfig(r *http.Request, in invocation) answer {
	var a agentConfigArgs
	if httpx.Unmarshal(in.Args, &a) != nil {
		return result(in.Name, outInvalid)
	}
	if a.CorpID == "" || !strings.EqualFold(a.CorpID, in.Context.Corp) {
		return result(in.Name, outBadCorpID)
	}
	actor, err := h.svc.ClientActor(r.Context(), qun.WeCom, in.Context.Corp, a.AgentID)
	if err != nil {
		return result(in.Name, outBadAgentID)
	}
	if !h.signedWith(r, actor, qun.AgentTicket, a.NonceStr, a.Timestamp, in.URL, a.Signature) {
		return result(in.Name, outBadSignature)
	}
	return configured(in.Name, a.JSAPIList)
}

// configured is a successful registration, every API it asked for allowed.
func configured(api string, jsAPIList []string) answer {
	out := result(api, outOK)
	out.CheckResult = map[string]bool{}
	for _, name := range jsAPIList {
		out.CheckResult[name] = true
	}
	return out
}

// corpConfigArgs are the arguments of the preVerifyJSAPI bridge call
// (ww.register with getConfigSignature, wx.config).
type corpConfigArgs struct {
	AppID     string   `json:"verifyAppId"`
	Timestamp string   `json:"verifyTimestamp"`
	NonceStr  string   `json:"verifyNonceStr"`
	Signature string   `json:"verifySignature"`
	JSAPIList []string `json:"verifyJsApiList"`
}

// corpConfig checks a corporation identity registration against the
// jsapi_ticket of any of the corporation's apps.
func (h *Handler) corpConfig(r *http.Request, in invocation) answer {
	var a corpConfigArgs
	if httpx.Unmarshal(in.Args, &a) != nil {
		return result("config", outInvalid)
	}
	if a.AppID == "" || !strings.EqualFold(a.AppID, in.Context.Corp) {
		return result("config", outBadCorpID)
	}
	tenant, apps, err := h.svc.TenantApps(r.Context(), qun.WeCom, in.Context.Corp)
	if err != nil {
		return result("config", outBadCorpID)
	}
	for _, app := range apps {
		if h.signedWith(r, qun.Actor{App: app, Tenant: tenant}, qun.CorpTicket, a.NonceStr, a.Timestamp, in.URL, a.Signature) {
			return configured("config", a.JSAPIList)
		}
	}
	return result("config", outBadSignature)
}

// verifyParams are what @wecom/jssdk merges into every call after a
// registration.
type verifyParams struct {
	AppID     string `json:"verifyAppId"`
	SignType  string `json:"verifySignType"`
	Timestamp string `json:"verifyTimestamp"`
	NonceStr  string `json:"verifyNonceStr"`
	Signature string `json:"verifySignature"`
}

// verifiedAgent returns the app a JS-SDK call acts as: the agent the page
// registered with agentConfig, when the call's verify parameters are a
// valid signature of that agent's ticket for the page. APIs that need the
// app identity (应用身份) fail without one.
func (h *Handler) verifiedAgent(r *http.Request, in invocation) (qun.Actor, bool) {
	var vp verifyParams
	if httpx.Unmarshal(in.Args, &vp) != nil || in.Agent == "" || vp.SignType != "sha1" || !strings.EqualFold(vp.AppID, in.Context.Corp) {
		return qun.Actor{}, false
	}
	actor, err := h.svc.ClientActor(r.Context(), qun.WeCom, in.Context.Corp, in.Agent)
	if err != nil {
		return qun.Actor{}, false
	}
	return actor, h.signedWith(r, actor, qun.AgentTicket, vp.NonceStr, vp.Timestamp, in.URL, vp.Signature)
}

// signedWith reports whether signature is the JS-SDK signature of the
// app's current ticket of kind for the page at url.
func (h *Handler) signedWith(r *http.Request, actor qun.Actor, kind qun.TokenKind, nonce, timestamp, url, signature string) bool {
	if signature == "" {
		return false
	}
	tok, err := h.svc.Ticket(r.Context(), qun.WeCom, actor.Tenant.Key, actor.App.Key, kind)
	if err != nil {
		return false
	}
	want := Signature(tok.Value, nonce, timestamp, url)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(signature))) == 1
}

// Signature is the JS-SDK signature: the hex sha1 of
// "jsapi_ticket=T&noncestr=N&timestamp=TS&url=U", unescaped, in this order.
func Signature(ticket, nonce, timestamp, url string) string {
	sum := sha1.Sum([]byte("jsapi_ticket=" + ticket + "&noncestr=" + nonce + "&timestamp=" + timestamp + "&url=" + url))
	return hex.EncodeToString(sum[:])
}

// miniProgram answers wx.qy calls: login, checkSession and
// createCorpGroupChat, which need the member's session.
func (h *Handler) miniProgram(r *http.Request, in invocation) answer {
	cc := in.Context
	appKey := cc.Agent
	if cc.Suite != "" {
		appKey = cc.Suite
	}
	switch in.Name {
	case "login":
		var args struct {
			SuiteID string `json:"suiteId"`
		}
		if len(in.Args) > 0 && httpx.Unmarshal(in.Args, &args) != nil {
			return result(in.Name, outInvalid)
		}
		if args.SuiteID != "" {
			appKey = args.SuiteID
		}
		code, err := h.svc.Login(r.Context(), qun.WeCom, cc.Corp, cc.User, appKey, h.cfg.CodeTTL)
		if err != nil {
			return result(in.Name, outNotSignedIn)
		}
		out := result(in.Name, outOK)
		out.Code = code.Value
		return out
	case "checkSession":
		_, s, err := h.svc.SessionOf(r.Context(), qun.WeCom, cc.Corp, cc.User, appKey)
		if err != nil {
			return result(in.Name, outNoSession)
		}
		out := result(in.Name, outOK)
		left := s.SecondsLeft(h.svc.Now())
		out.ExpireIn = &left
		return out
	case "createCorpGroupChat":
		v, ok := cc.supported()
		if !ok {
			return result(in.Name, outNoFunction)
		}
		actor, _, err := h.svc.SessionOf(r.Context(), qun.WeCom, cc.Corp, cc.User, appKey)
		if err != nil {
			return result(in.Name, outNoSession)
		}
		return h.createCorpGroupChat(r, in, actor, v)
	}
	return result(in.Name, outNoFunction)
}

// corpGroupArgs are createCorpGroupChat's parameters. Lists stay raw so
// that a wrong type is an invalid parameter, not a decoding failure.
type corpGroupArgs struct {
	GroupName        json.RawMessage `json:"groupName"`
	UserIDs          json.RawMessage `json:"userIds"`
	OpenUserIDs      json.RawMessage `json:"openUserIds"`
	ExternalUserIDs  json.RawMessage `json:"externalUserIds"`
	CorpGroupUserIDs json.RawMessage `json:"corpGroupUserIds"`
}

type corpGroupUser struct {
	CorpID     string `json:"corpId"`
	UserID     string `json:"userId"`
	OpenUserID string `json:"openUserId"`
}

// parseCorpGroup turns the parameters into a request for the app's kind:
// self-built apps read userIds and corpGroupUserIds[].userId, third-party
// apps openUserIds and corpGroupUserIds[].openUserId; the other fields are
// ignored. Clients before 3.1.20 ignore externalUserIds and reach only
// interconnected corporations. Anything malformed is reported as false.
func parseCorpGroup(raw json.RawMessage, app qun.App, v version) (qun.CorpGroupRequest, bool) {
	var (
		a   corpGroupArgs
		req qun.CorpGroupRequest
	)
	if httpx.Unmarshal(raw, &a) != nil {
		return req, false
	}
	var (
		name                         string
		users, open, external        []string
		corpUsers                    []corpGroupUser
		okName, okU, okO, okE, okCGU = optional(a.GroupName, &name), optional(a.UserIDs, &users), optional(a.OpenUserIDs, &open), optional(a.ExternalUserIDs, &external), optional(a.CorpGroupUserIDs, &corpUsers)
	)
	if !okName || !okU || !okO || !okE || !okCGU {
		return req, false
	}
	third := app.Kind == qun.ThirdParty
	req.Name = name
	kind, mine := qun.UserID, users
	if third {
		kind, mine = qun.OpenUserID, open
	}
	for _, lists := range [][]string{users, open, external} {
		if slices.Contains(lists, "") {
			return req, false
		}
	}
	for _, id := range mine {
		req.Users = append(req.Users, qun.Ref{Kind: kind, Value: id})
	}
	for _, cu := range corpUsers {
		if cu.CorpID == "" || (cu.UserID == "" && cu.OpenUserID == "") {
			return req, false
		}
		id := cu.UserID
		if third {
			id = cu.OpenUserID
		}
		if id == "" {
			continue // only the field the other kind of app reads
		}
		req.CorpUsers = append(req.CorpUsers, qun.CorpRef{Corp: cu.CorpID, Ref: qun.Ref{Kind: kind, Value: id}})
	}
	if v.before(sinceChains) {
		req.InterconnectOnly = true
	} else {
		req.Contacts = external
	}
	return req, true
}

// optional decodes raw into v unless it is absent or null.
func optional(raw json.RawMessage, v any) bool {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return true
	}
	return httpx.Unmarshal(raw, v) == nil
}

// createCorpGroupChat applies the seed's rules through the core and
// answers the seed's errMsg strings.
func (h *Handler) createCorpGroupChat(r *http.Request, in invocation, actor qun.Actor, v version) answer {
	req, ok := parseCorpGroup(in.Args, actor.App, v)
	if !ok {
		return result(in.Name, outInvalid)
	}
	req.Initiator = in.Context.User
	view, err := h.svc.CreateCorpGroupChat(r.Context(), actor, req)
	if err != nil {
		outcome := outInvalid
		switch qun.ErrorReason(err) {
		case qun.ReasonNoSession:
			outcome = outNoSession
		case qun.ReasonNotVisible:
			outcome = outNoPermission
		case qun.ReasonCorpGroupDisabled:
			outcome = outNeedCorpGroup
		case qun.ReasonTooManyMembers:
			outcome = outTooMany
		case qun.ReasonTooManyWithWeChat:
			outcome = outTooManyWeChat
		}
		if qun.ErrorCode(err) == qun.EInternal {
			h.log.Error("wecom: createCorpGroupChat", "err", err)
			outcome = "fail system error"
		}
		return result(in.Name, outcome)
	}
	out := result(in.Name, outOK)
	out.ChatID = view.Chat.ChatID
	return out
}
