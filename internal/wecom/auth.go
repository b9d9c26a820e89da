package wecom

import (
	"time"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

type tokenAnswer struct {
	envelope
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// getToken serves GET /cgi-bin/gettoken?corpid=&corpsecret=: the
// self-built app of the corporation whose secret it is gets its token, the
// same one while it is valid. Other query parameters are ignored.
func (h *Handler) getToken(c *call) (any, error) {
	q := c.r.URL.Query()
	corp, secret := q.Get("corpid"), q.Get("corpsecret")
	switch {
	case corp == "":
		return nil, errMissingCorpID
	case secret == "":
		return nil, errMissingSecret
	}
	tok, err := h.svc.IssueToken(c.r.Context(), qun.TokenRequest{
		Kind: qun.CorpToken, Platform: qun.WeCom, TenantKey: corp, Secret: secret,
		TTL: h.cfg.TokenTTL, Reuse: time.Second, AppKinds: []qun.AppKind{qun.SelfBuilt},
	})
	if e := qun.AsError(err); e != nil && e.Reason == qun.ReasonBadCredentials {
		if e.Field == "tenant" {
			return nil, errBadCorpID
		}
		return nil, errBadCredential
	} else if err != nil {
		return nil, err
	}
	return tokenAnswer{envelope: ok, AccessToken: tok.Value, ExpiresIn: tok.SecondsLeft(h.svc.Now())}, nil
}

type suiteTokenRequest struct {
	SuiteID     string `json:"suite_id"`
	SuiteSecret string `json:"suite_secret"`
	SuiteTicket string `json:"suite_ticket"`
}

type suiteTokenAnswer struct {
	envelope
	SuiteAccessToken string `json:"suite_access_token"`
	ExpiresIn        int    `json:"expires_in"`
}

// getSuiteToken serves POST /cgi-bin/service/get_suite_token. qun pushes no
// suite tickets, so any non-empty suite_ticket is accepted.
func (h *Handler) getSuiteToken(c *call) (any, error) {
	var req suiteTokenRequest
	if err := h.decode(c, &req); err != nil {
		return nil, err
	}
	switch {
	case req.SuiteID == "":
		return nil, errMissingSuiteID
	case req.SuiteSecret == "":
		return nil, errMissingSecret2
	case req.SuiteTicket == "":
		return nil, errMissingTicket
	}
	tok, err := h.svc.IssueToken(c.r.Context(), qun.TokenRequest{
		Kind: qun.SuiteToken, Platform: qun.WeCom, AppKey: req.SuiteID, Secret: req.SuiteSecret,
		TTL: h.cfg.TokenTTL, Reuse: time.Second, AppKinds: []qun.AppKind{qun.ThirdParty},
	})
	if e := qun.AsError(err); e != nil && e.Reason == qun.ReasonBadCredentials {
		if e.Field == "app_id" {
			return nil, errBadSuiteID
		}
		return nil, errBadCredential
	} else if err != nil {
		return nil, err
	}
	return suiteTokenAnswer{envelope: ok, SuiteAccessToken: tok.Value, ExpiresIn: tok.SecondsLeft(h.svc.Now())}, nil
}

type ticketAnswer struct {
	envelope
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"`
}

// jsapiTicket serves GET /cgi-bin/get_jsapi_ticket: the ticket for
// wx.config / ww.register's getConfigSignature.
func (h *Handler) jsapiTicket(c *call) (any, error) {
	return h.ticket(c, qun.CorpTicket)
}

// agentTicket serves GET /cgi-bin/ticket/get?type=agent_config: the ticket
// for agentConfig signatures.
func (h *Handler) agentTicket(c *call) (any, error) {
	if c.r.URL.Query().Get("type") != "agent_config" {
		return nil, errBadParameter
	}
	return h.ticket(c, qun.AgentTicket)
}

func (h *Handler) ticket(c *call, kind qun.TokenKind) (any, error) {
	tok, err := h.svc.IssueTicket(c.r.Context(), c.actor, kind, h.cfg.TicketTTL)
	if err != nil {
		return nil, err
	}
	return ticketAnswer{envelope: ok, Ticket: tok.Value, ExpiresIn: tok.SecondsLeft(h.svc.Now())}, nil
}

// sessionAnswer is the answer of both jscode2session APIs; the
// third-party one adds open_userid.
type sessionAnswer struct {
	CorpID     string `json:"corpid"`
	UserID     string `json:"userid"`
	SessionKey string `json:"session_key"`
	DeviceID   string `json:"deviceid"`
	OpenUserID string `json:"open_userid,omitempty"`
	envelope
}

// codeToSession serves GET /cgi-bin/miniprogram/jscode2session and, with a
// suite_access_token, /cgi-bin/service/miniprogram/jscode2session: it
// consumes a wx.qy.login code (once, within 5 minutes) and opens the
// member's session. Third-party apps see members by open_userid, which is
// also the (encrypted) userid they get.
func (h *Handler) codeToSession(c *call) (any, error) {
	code := c.r.URL.Query().Get("js_code")
	if code == "" {
		return nil, errMissingCode
	}
	res, err := h.svc.ExchangeCode(c.r.Context(), c.actor, code, h.cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	out := sessionAnswer{CorpID: res.Tenant.Key, UserID: res.User.UserID, SessionKey: res.Session.Value, envelope: ok}
	if c.actor.App.Kind == qun.ThirdParty {
		out.OpenUserID = res.User.Alias(qun.OpenUserID, c.actor.App.Developer)
		out.UserID = out.OpenUserID
	}
	return out, nil
}

// decode reads a JSON body into v: a malformed body, a wrong type or one
// too large is 47001; an empty body is an empty object.
func (h *Handler) decode(c *call, v any) error {
	if err := httpx.DecodeJSON(c.w, c.r, h.cfg.MaxBody, v); err != nil {
		return coded{errDataFormat, err}
	}
	return nil
}
