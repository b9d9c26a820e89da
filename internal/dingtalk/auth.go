package dingtalk

import (
	"net/http"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// issue returns the app's access token: the current one, renewed, while it
// is valid; a new one otherwise. The new-style and legacy token endpoints
// share it.
func (h *Handler) issue(r *http.Request, appKey, secret string) (qun.Token, error) {
	return h.svc.IssueToken(r.Context(), qun.TokenRequest{
		Kind: qun.CorpToken, Platform: qun.DingTalk, AppKey: appKey, Secret: secret,
		TTL: h.cfg.TokenTTL, Reuse: 1, Renew: true,
	})
}

type accessTokenRequest struct {
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

type accessTokenBody struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int    `json:"expireIn"`
}

// accessToken serves POST /v1.0/oauth2/accessToken.
func (h *Handler) accessToken(w http.ResponseWriter, r *http.Request) {
	c := h.newCall(w, r, "POST /v1.0/oauth2/accessToken")
	raw, err := httpx.ReadBody(w, r, h.cfg.MaxBody)
	var req accessTokenRequest
	if err == nil {
		err = httpx.Unmarshal(raw, &req)
	}
	if err != nil || req.AppKey == "" || req.AppSecret == "" {
		h.writeError(c, &failure{apiError: errParameter, cause: err})
		return
	}
	tok, err := h.issue(r, req.AppKey, req.AppSecret)
	if qun.ErrorReason(err) == qun.ReasonBadCredentials {
		h.writeError(c, &failure{apiError: errBadCredentials, cause: err})
		return
	} else if err != nil {
		h.writeError(c, &failure{apiError: errSystem, cause: err})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, contentType, accessTokenBody{AccessToken: tok.Value, ExpireIn: tok.SecondsLeft(h.svc.Now())})
}

// legacyTokenBody is the answer of GET /gettoken, keys in the documented
// order.
type legacyTokenBody struct {
	Errcode     int    `json:"errcode"`
	AccessToken string `json:"access_token,omitempty"`
	Errmsg      string `json:"errmsg"`
	ExpiresIn   int    `json:"expires_in,omitempty"`
}

// getToken serves the legacy GET /gettoken?appkey=&appsecret=; it answers
// HTTP 200 whatever happens.
func (h *Handler) getToken(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "dingtalk", "GET /gettoken", "")
	q := r.URL.Query()
	key, secret := q.Get("appkey"), q.Get("appsecret")
	body := h.legacyToken(r, key, secret)
	httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) {
		if body.Errcode != 0 {
			rec.Code = itoa(body.Errcode)
		}
	})
	httpx.WriteJSON(w, http.StatusOK, contentType, body)
}

// decode reads a JSON body into v; malformed JSON and wrong types fail with
// bad.
func (h *Handler) decode(c *call, v any, bad error) error {
	if err := httpx.DecodeJSON(c.w, c.r, h.cfg.MaxBody, v); err != nil {
		if f, ok := bad.(*failure); ok {
			f.cause = err
		}
		return bad
	}
	return nil
}

func (h *Handler) legacyToken(r *http.Request, key, secret string) legacyTokenBody {
	if key == "" || secret == "" {
		return legacyTokenBody{Errcode: legacyMissingKey.code, Errmsg: legacyMissingKey.msg}
	}
	tok, err := h.issue(r, key, secret)
	switch {
	case qun.ErrorReason(err) == qun.ReasonBadCredentials:
		return legacyTokenBody{Errcode: legacyBadKey.code, Errmsg: legacyBadKey.msg}
	case err != nil:
		h.log.Error("dingtalk: issue token", "err", err)
		return legacyTokenBody{Errcode: legacySystem.code, Errmsg: legacySystem.msg}
	}
	return legacyTokenBody{AccessToken: tok.Value, Errmsg: "ok", ExpiresIn: tok.SecondsLeft(h.svc.Now())}
}
