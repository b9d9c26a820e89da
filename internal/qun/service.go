package qun

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Service applies the domain's rules to a Store. It is safe for concurrent
// use; several Services (on several nodes) may share one Store.
type Service struct {
	store Store
	// now is clock.now: the base clock with the deployment's setting.
	now   func() time.Time
	clock clock

	mu     sync.RWMutex
	tokens map[string]Token // cache of issued tokens, which never change
	// actors caches the app and tenant of each token's app, valid at the
	// directory version it was read at (see updateDirectory).
	actors map[actorKey]cachedActor
	// users caches what references name, per directory version.
	users userCache
	// subs caches the apps with a subscription, per directory version.
	subs subscriberCache
	// formats render events, per platform; wake tells the delivery
	// workers that events may have been written.
	formats map[Platform]EventFormat
	wake    chan struct{}
	// faults are the fault-injection rules, as of clock.seen.
	faults atomic.Pointer[[]Fault]
	// authenticated observes the actors Authenticate returns.
	authenticated atomic.Pointer[func(context.Context, Actor)]
	// count shares the reads of the directory count among the requests
	// that ask for it at once.
	count sharedRead
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the Service read time from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.clock.base = now }
}

// NewService returns a Service over store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, tokens: make(map[string]Token), actors: make(map[actorKey]cachedActor), wake: make(chan struct{}, 1)}
	s.clock.base = time.Now
	s.clock.seen.Store(-1)
	s.count.read = func(ctx context.Context) (string, error) { return s.store.Meta(ctx, metaDirectory) }
	for _, o := range opts {
		o(s)
	}
	s.now = func() time.Time { return s.clock.now().Truncate(Precision) }
	return s
}

// Precision is the resolution of every time the core records (creation,
// updates, joins, token lifetimes, dedupe windows): milliseconds, what the
// platforms' APIs show and what every store keeps exactly.
const Precision = time.Millisecond

// Store returns the Service's store.
func (s *Service) Store() Store { return s.store }

// Now returns the Service's current time.
func (s *Service) Now() time.Time { return s.now() }

// Actor is who performs an operation: an app in a tenant, acting as its bot.
type Actor struct {
	App    App
	Tenant Tenant
}

// TokenRequest asks for an access token for an app.
type TokenRequest struct {
	Kind     TokenKind
	Platform Platform
	// AppKey names the app; with TenantKey set and AppKey empty, the app of
	// that tenant whose secret is Secret (WeCom's corpid + corpsecret).
	AppKey    string
	TenantKey string
	Secret    string
	// TTL is the lifetime of a new token.
	TTL time.Duration
	// Reuse returns the newest existing token instead of a new one while at
	// least this much of its lifetime is left.
	Reuse time.Duration
	// Renew gives a reused token a whole TTL again.
	Renew bool
	// AppKinds, when set, are the only kinds of app the credentials may
	// name (WeCom: corpsecrets are self-built apps', suite secrets
	// third-party apps').
	AppKinds []AppKind
}

// IssueToken checks an app's credentials and returns an access token for it.
// An unknown app is EInvalid/ReasonBadCredentials with Field "app_id", a wrong
// secret the same with Field "app_secret".
func (s *Service) IssueToken(ctx context.Context, r TokenRequest) (Token, error) {
	// A token's lifetime is counted on the deployment's clock as it is now.
	if err := s.RefreshClock(ctx); err != nil {
		return Token{}, err
	}
	// Most requests get the current token back: try that as a read first.
	var tok Token
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		tok, err = s.issueToken(tx, r, false)
		return err
	})
	if err == nil && tok.Value == "" {
		err = s.store.Update(ctx, func(tx Tx) error {
			var err error
			tok, err = s.issueToken(tx, r, true)
			return err
		})
	}
	if err != nil {
		return Token{}, err
	}
	s.cacheToken(tok)
	return tok, nil
}

// issueToken checks the credentials and returns the reusable token; when
// there is none it issues one if write is set, else returns a zero Token.
func (s *Service) issueToken(tx Tx, r TokenRequest, write bool) (Token, error) {
	app, err := credentials(tx, r)
	if err != nil {
		return Token{}, err
	}
	t, err := tx.Tenant(app.TenantID)
	if err != nil {
		return Token{}, err
	}
	now := s.now()
	latest, err := tx.LatestToken(r.Kind, r.Platform, app.Key, t.Key, "")
	switch {
	case err == nil && latest.ExpiresAt.Sub(now) >= r.Reuse && r.Renew:
		if !write {
			return Token{}, nil
		}
		latest.ExpiresAt = now.Add(r.TTL)
		return latest, tx.ExtendToken(latest.Value, latest.ExpiresAt)
	case err == nil && latest.ExpiresAt.Sub(now) >= r.Reuse:
		return latest, nil
	case err != nil && ErrorCode(err) != ENotFound:
		return Token{}, err
	}
	if !write {
		return Token{}, nil
	}
	tok := Token{
		Value:     newTokenValue(r.Platform, r.Kind),
		Kind:      r.Kind,
		Platform:  r.Platform,
		AppKey:    app.Key,
		TenantKey: t.Key,
		IssuedAt:  now,
		ExpiresAt: now.Add(r.TTL),
	}
	return tok, tx.PutToken(tok)
}

// credentials finds the app a token request names and checks its secret.
// An unknown app is ReasonBadCredentials with Field "app_id" (or "tenant"
// for an unknown tenant), a wrong secret the same with Field "app_secret".
func credentials(tx Tx, r TokenRequest) (App, error) {
	if r.TenantKey != "" && r.AppKey == "" {
		t, err := tx.TenantByKey(r.Platform, r.TenantKey)
		if ErrorCode(err) == ENotFound {
			return App{}, Invalid(ReasonBadCredentials, "tenant", "no tenant with this key")
		} else if err != nil {
			return App{}, err
		}
		apps, err := tx.Apps(r.Platform, t.ID)
		if err != nil {
			return App{}, err
		}
		for _, a := range apps {
			if a.Secret == r.Secret && r.Secret != "" && kindOK(r, a) {
				return a, nil
			}
		}
		return App{}, Invalid(ReasonBadCredentials, "app_secret", "no app of the tenant has this secret")
	}
	app, err := tx.AppByKey(r.Platform, 0, r.AppKey)
	if ErrorCode(err) == ENotFound || (err == nil && !kindOK(r, app)) {
		return App{}, Invalid(ReasonBadCredentials, "app_id", "no app with this id")
	} else if err != nil {
		return App{}, err
	}
	if app.Secret != r.Secret {
		return App{}, Invalid(ReasonBadCredentials, "app_secret", "wrong app secret")
	}
	return app, nil
}

func kindOK(r TokenRequest, a App) bool {
	return len(r.AppKinds) == 0 || slices.Contains(r.AppKinds, a.Kind)
}

func (s *Service) cacheToken(t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= 10000 {
		now := s.now()
		for v, c := range s.tokens {
			if !c.ExpiresAt.After(now) {
				delete(s.tokens, v)
			}
		}
	}
	s.tokens[t.Value] = t
}

// Authenticate returns the acting app and tenant of an access token of one
// of kinds. An unknown, expired or wrong-kind token is
// EUnavailable/ReasonTokenInvalid; a token whose app was deleted is
// ReasonAppMissing; an app not installed in its tenant ReasonAppNotInstalled.
func (s *Service) Authenticate(ctx context.Context, value string, kinds ...TokenKind) (Actor, error) {
	a, err := s.authenticate(ctx, value, kinds...)
	if err == nil {
		if hook := s.authenticated.Load(); hook != nil {
			(*hook)(ctx, a)
		}
	}
	return a, err
}

// OnAuthenticated calls fn with every actor Authenticate returns, in the
// request's context (the server journals who called).
func (s *Service) OnAuthenticated(fn func(context.Context, Actor)) { s.authenticated.Store(&fn) }

func (s *Service) authenticate(ctx context.Context, value string, kinds ...TokenKind) (Actor, error) {
	// The directory's version in one read, outside a transaction: a
	// cached actor of that version answers, and the deployment's clock is
	// as of that version.
	raw, err := s.directoryCount(ctx)
	if err != nil {
		return Actor{}, err
	}
	s.mu.RLock()
	tok, ok := s.tokens[value]
	s.mu.RUnlock()
	// A token that looks expired may have been renewed, here or by another
	// node: ask the store before refusing it.
	if !ok || !tok.ExpiresAt.After(s.now()) {
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			tok, err = tx.Token(value)
			return err
		})
		if ErrorCode(err) == ENotFound {
			return Actor{}, Errorf(EUnavailable, ReasonTokenInvalid, "unknown access token")
		} else if err != nil {
			return Actor{}, err
		}
		s.cacheToken(tok)
	}
	if !tok.ExpiresAt.After(s.now()) {
		return Actor{}, Errorf(EUnavailable, ReasonTokenExpired, "access token expired")
	}
	kindOK := len(kinds) == 0
	for _, k := range kinds {
		kindOK = kindOK || tok.Kind == k
	}
	if !kindOK {
		return Actor{}, Errorf(EUnavailable, ReasonTokenInvalid, "a %s token cannot be used here", tok.Kind)
	}
	key := actorKey{tok.Platform, tok.TenantKey, tok.AppKey}
	if v, err := parseVersion(raw); err == nil {
		s.mu.RLock()
		c, ok := s.actors[key]
		s.mu.RUnlock()
		if ok && c.version == v {
			return c.actor, nil
		}
	}
	var a Actor
	err = s.store.View(ctx, func(tx Tx) error {
		v, err := directoryVersion(tx)
		if err != nil {
			return err
		}
		if a, err = actorOf(tx, tok); err != nil {
			return err
		}
		s.mu.Lock()
		s.actors[key] = cachedActor{version: v, actor: a}
		s.mu.Unlock()
		return nil
	})
	return a, err
}

// actorKey names the app of a token; cachedActor is its actor as read at
// a directory version.
type (
	actorKey struct {
		platform          Platform
		tenantKey, appKey string
	}
	cachedActor struct {
		version int64
		actor   Actor
	}
)

// actorOf loads the app and tenant a token acts for.
func actorOf(tx Tx, tok Token) (Actor, error) {
	t, err := tx.TenantByKey(tok.Platform, tok.TenantKey)
	if ErrorCode(err) == ENotFound {
		return Actor{}, Errorf(EUnavailable, ReasonAppMissing, "the token's tenant no longer exists")
	} else if err != nil {
		return Actor{}, err
	}
	app, err := tx.AppByKey(tok.Platform, t.ID, tok.AppKey)
	if ErrorCode(err) == ENotFound {
		return Actor{}, Errorf(EUnavailable, ReasonAppMissing, "the token's app no longer exists")
	} else if err != nil {
		return Actor{}, err
	}
	if !app.Installed {
		return Actor{}, Errorf(EUnavailable, ReasonAppNotInstalled, "the app is not installed or is disabled in the tenant")
	}
	return Actor{App: app, Tenant: t}, nil
}
