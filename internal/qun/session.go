package qun

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Reply sessions. A bot told of a message can answer it through a URL
// that carries its own credential (DingTalk's sessionWebhook): the
// session names the app and the chat, expires, and is signed with the
// app's secret, so every node can check it without a lookup, and a new
// secret ends the sessions of the old one.

// SessionTTL is how long a reply session holds (DingTalk: 90 minutes).
const SessionTTL = 90 * time.Minute

type sessionClaims struct {
	App     int64  `json:"a"`
	Chat    string `json:"c"`
	Expires int64  `json:"e"` // Unix milliseconds
}

// NewSession returns a reply session for an app's bot in a chat, valid
// until exp.
func NewSession(app App, chatID string, exp time.Time) string {
	body, _ := json.Marshal(sessionClaims{App: app.ID, Chat: chatID, Expires: exp.UnixMilli()})
	p := base64.RawURLEncoding.EncodeToString(body)
	return p + "." + sessionMAC(app.Secret, p)
}

func sessionMAC(secret, payload string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// OpenSession checks a reply session and returns the bot acting through
// it and its chat's chat_id; an unknown, forged or expired session is
// ReasonTokenInvalid or ReasonTokenExpired.
func (s *Service) OpenSession(ctx context.Context, session string) (Actor, string, error) {
	bad := Errorf(EUnavailable, ReasonTokenInvalid, "no such session")
	p, mac, ok := strings.Cut(session, ".")
	raw, err := base64.RawURLEncoding.DecodeString(p)
	var cl sessionClaims
	if !ok || err != nil || json.Unmarshal(raw, &cl) != nil || cl.App == 0 {
		return Actor{}, "", bad
	}
	var actor Actor
	err = s.store.View(ctx, func(tx Tx) error {
		a, err := tx.App(cl.App)
		if ErrorCode(err) == ENotFound {
			return bad
		} else if err != nil {
			return err
		}
		if !hmac.Equal([]byte(mac), []byte(sessionMAC(a.Secret, p))) {
			return bad
		}
		t, err := tx.Tenant(a.TenantID)
		actor = Actor{App: a, Tenant: t}
		return err
	})
	if err != nil {
		return Actor{}, "", err
	}
	if !s.now().Before(time.UnixMilli(cl.Expires)) {
		return Actor{}, "", Errorf(EUnavailable, ReasonTokenExpired, "the session expired")
	}
	return actor, cl.Chat, nil
}
