package qun

import (
	"context"
	"time"
)

// Client sign-in: a member signed in to a platform's client app logs in to
// a mini-program bound to an app and gets a single-use code; the app's
// backend exchanges the code for a session (WeCom wx.qy.login and
// jscode2session). Sessions gate what the client may do for the member.

// Login issues a login code for the member userID of corporation tenantKey
// in the app appKey, valid for ttl.
func (s *Service) Login(ctx context.Context, p Platform, tenantKey, userID, appKey string, ttl time.Duration) (Token, error) {
	var code Token
	err := s.store.Update(ctx, func(tx Tx) error {
		t, err := tx.TenantByKey(p, tenantKey)
		if err != nil {
			return err
		}
		u, err := tx.UserByUserID(t.ID, userID)
		if err != nil {
			return err
		}
		if u.Kind != MemberUser || u.Status != Active {
			return Errorf(EForbidden, ReasonNotVisible, "%s is not an active member", userID)
		}
		app, err := tx.AppByKey(p, t.ID, appKey)
		if err != nil {
			return err
		}
		now := s.now()
		code = Token{Value: newTokenValue(p, LoginCode), Kind: LoginCode, Platform: p, AppKey: app.Key, TenantKey: t.Key, UserID: u.UserID, IssuedAt: now, ExpiresAt: now.Add(ttl)}
		return tx.PutToken(code)
	})
	return code, err
}

// SessionResult is what exchanging a code yields.
type SessionResult struct {
	Session Token
	Tenant  Tenant
	User    User
}

// ExchangeCode consumes a login code for the actor's app and opens a
// session of ttl for its member. A code is good once, for ttl of its own,
// and only for the app it was issued for (a self-built app of the same
// corporation; a third-party suite in any corporation that installed it);
// anything else is ReasonCodeInvalid.
func (s *Service) ExchangeCode(ctx context.Context, actor Actor, code string, ttl time.Duration) (SessionResult, error) {
	var out SessionResult
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := tx.ConsumeToken(code)
		now := s.now()
		invalid := Errorf(EInvalid, ReasonCodeInvalid, "invalid code")
		switch {
		case ErrorCode(err) == ENotFound:
			return invalid
		case err != nil:
			return err
		case c.Kind != LoginCode || c.Platform != actor.App.Platform || c.AppKey != actor.App.Key || !c.ExpiresAt.After(now):
			return invalid
		case actor.App.Kind != ThirdParty && c.TenantKey != actor.Tenant.Key:
			return invalid // the same agentid of another corporation
		}
		if out.Tenant, err = tx.TenantByKey(c.Platform, c.TenantKey); err != nil {
			return err
		}
		if out.User, err = tx.UserByUserID(out.Tenant.ID, c.UserID); err != nil {
			return err
		}
		out.Session = Token{Value: newTokenValue(c.Platform, Session), Kind: Session, Platform: c.Platform, AppKey: c.AppKey, TenantKey: c.TenantKey, UserID: c.UserID, IssuedAt: now, ExpiresAt: now.Add(ttl)}
		return tx.PutToken(out.Session)
	})
	return out, err
}

// SessionOf returns the member's unexpired session in an app, and the
// actor the app's client acts as, or ReasonNoSession.
func (s *Service) SessionOf(ctx context.Context, p Platform, tenantKey, userID, appKey string) (Actor, Token, error) {
	var (
		actor Actor
		tok   Token
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if actor, err = clientActor(tx, p, tenantKey, appKey); ErrorCode(err) == ENotFound {
			return Errorf(EUnavailable, ReasonNoSession, "no such app or corporation")
		} else if err != nil {
			return err
		}
		tok, err = tx.LatestToken(Session, p, appKey, tenantKey, userID)
		if ErrorCode(err) == ENotFound || (err == nil && !tok.ExpiresAt.After(s.now())) {
			return Errorf(EUnavailable, ReasonNoSession, "no session or expired")
		}
		return err
	})
	return actor, tok, err
}

// IssueTicket returns the actor's app's ticket of kind (CorpTicket or
// AgentTicket): the current one while valid, else a new one for ttl.
func (s *Service) IssueTicket(ctx context.Context, actor Actor, kind TokenKind, ttl time.Duration) (Token, error) {
	var tok Token
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.now()
		latest, err := tx.LatestToken(kind, actor.App.Platform, actor.App.Key, actor.Tenant.Key, "")
		if err == nil && latest.ExpiresAt.After(now) {
			tok = latest
			return nil
		} else if err != nil && ErrorCode(err) != ENotFound {
			return err
		}
		tok = Token{Value: newTokenValue(actor.App.Platform, kind), Kind: kind, Platform: actor.App.Platform, AppKey: actor.App.Key, TenantKey: actor.Tenant.Key, IssuedAt: now, ExpiresAt: now.Add(ttl)}
		return tx.PutToken(tok)
	})
	return tok, err
}

// Ticket returns the app's current ticket of kind, or ENotFound when it has
// none that is valid.
func (s *Service) Ticket(ctx context.Context, p Platform, tenantKey, appKey string, kind TokenKind) (Token, error) {
	var tok Token
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		tok, err = tx.LatestToken(kind, p, appKey, tenantKey, "")
		if err == nil && !tok.ExpiresAt.After(s.now()) {
			return Errorf(ENotFound, "", "no valid ticket")
		}
		return err
	})
	return tok, err
}

// ClientActor returns the actor a client acts as: the app appKey of the
// tenant tenantKey.
func (s *Service) ClientActor(ctx context.Context, p Platform, tenantKey, appKey string) (Actor, error) {
	var a Actor
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = clientActor(tx, p, tenantKey, appKey)
		return err
	})
	return a, err
}

func clientActor(tx Tx, p Platform, tenantKey, appKey string) (Actor, error) {
	t, err := tx.TenantByKey(p, tenantKey)
	if err != nil {
		return Actor{}, err
	}
	app, err := tx.AppByKey(p, t.ID, appKey)
	return Actor{App: app, Tenant: t}, err
}

// TenantApps returns the tenant of p with key tenantKey and its apps.
func (s *Service) TenantApps(ctx context.Context, p Platform, tenantKey string) (Tenant, []App, error) {
	var (
		t    Tenant
		apps []App
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if t, err = tx.TenantByKey(p, tenantKey); err != nil {
			return err
		}
		apps, err = tx.Apps(p, t.ID)
		return err
	})
	return t, apps, err
}
