package feishu

import (
	"net/http"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// tokenRequest is the body of the internal token endpoints.
type tokenRequest struct {
	AppID     string `json:"app_id"`
	AppSecret string `json:"app_secret"`
}

type tenantTokenBody struct {
	Code              int    `json:"code"`
	Msg               string `json:"msg"`
	TenantAccessToken string `json:"tenant_access_token"`
	Expire            int    `json:"expire"`
}

type appTokenBody struct {
	Code              int    `json:"code"`
	Msg               string `json:"msg"`
	AppAccessToken    string `json:"app_access_token"`
	TenantAccessToken string `json:"tenant_access_token"`
	Expire            int    `json:"expire"`
}

// tokenErrorBody is how the token endpoints fail: HTTP 200, a code, no
// "error" object.
type tokenErrorBody struct {
	Code int      `json:"code"`
	Data struct{} `json:"data"`
	Msg  string   `json:"msg"`
}

// tenantAccessToken serves POST /open-apis/auth/v3/tenant_access_token/internal.
func (h *Handler) tenantAccessToken(w http.ResponseWriter, r *http.Request) {
	logID := newLogID()
	httpx.Annotate(r, "feishu", "POST /open-apis/auth/v3/tenant_access_token/internal", logID)
	req, ok := h.credentials(w, r, logID)
	if !ok {
		return
	}
	tok, ok := h.issue(w, r, logID, req, qun.TenantToken)
	if !ok {
		return
	}
	w.Header().Set("X-Tt-Logid", logID)
	httpx.WriteJSON(w, http.StatusOK, contentType, tenantTokenBody{Msg: "ok", TenantAccessToken: tok.Value, Expire: tok.SecondsLeft(h.svc.Now())})
}

// appAccessToken serves POST /open-apis/auth/v3/app_access_token/internal.
// Like Feishu's, its answer carries a tenant_access_token too.
func (h *Handler) appAccessToken(w http.ResponseWriter, r *http.Request) {
	logID := newLogID()
	httpx.Annotate(r, "feishu", "POST /open-apis/auth/v3/app_access_token/internal", logID)
	req, ok := h.credentials(w, r, logID)
	if !ok {
		return
	}
	app, ok := h.issue(w, r, logID, req, qun.AppToken)
	if !ok {
		return
	}
	tenant, ok := h.issue(w, r, logID, req, qun.TenantToken)
	if !ok {
		return
	}
	w.Header().Set("X-Tt-Logid", logID)
	httpx.WriteJSON(w, http.StatusOK, contentType, appTokenBody{Msg: "ok", AppAccessToken: app.Value, TenantAccessToken: tenant.Value, Expire: app.SecondsLeft(h.svc.Now())})
}

// tokenError writes a token endpoint's error answer.
func tokenError(w http.ResponseWriter, r *http.Request, logID string, e apiError, err error) {
	httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code, rec.Err = statusText(e.code), err })
	w.Header().Set("X-Tt-Logid", logID)
	httpx.WriteJSON(w, e.status, contentType, tokenErrorBody{Code: e.code, Msg: e.msg})
}

// credentials reads the app's credentials from the body, or writes the
// error answer and reports false.
func (h *Handler) credentials(w http.ResponseWriter, r *http.Request, logID string) (tokenRequest, bool) {
	var req tokenRequest
	body, err := httpx.ReadBody(w, r, h.cfg.MaxBody)
	if err == nil {
		err = httpx.Unmarshal(body, &req)
	}
	if err != nil || req.AppID == "" || req.AppSecret == "" {
		tokenError(w, r, logID, errTokenInvalidParam, err)
		return req, false
	}
	return req, true
}

// issue issues a token of kind, or writes the error answer and reports
// false.
func (h *Handler) issue(w http.ResponseWriter, r *http.Request, logID string, req tokenRequest, kind qun.TokenKind) (qun.Token, bool) {
	tokenError := func(e apiError, err error) (qun.Token, bool) {
		tokenError(w, r, logID, e, err)
		return qun.Token{}, false
	}
	tok, err := h.svc.IssueToken(r.Context(), qun.TokenRequest{
		Kind: kind, Platform: qun.Feishu, AppKey: req.AppID, Secret: req.AppSecret,
		TTL: h.cfg.TokenTTL, Reuse: h.cfg.TokenReuse,
	})
	if err != nil {
		e := qun.AsError(err)
		switch {
		case e.Reason == qun.ReasonBadCredentials && e.Field == "app_secret":
			return tokenError(errTokenBadSecret, err)
		case e.Reason == qun.ReasonBadCredentials:
			return tokenError(errTokenInvalidParam, err)
		}
		h.log.Error("feishu: issue token", "log_id", logID, "err", err)
		return tokenError(errInternal, err)
	}
	return tok, true
}
