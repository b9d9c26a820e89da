package qun

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Directory is a whole directory, as a fixtures file describes it.
type Directory struct {
	Tenants     []TenantDirectory
	Friendships []Friendship
	Links       []Link
}

// TenantDirectory is one tenant with its apps and users.
type TenantDirectory struct {
	Tenant Tenant
	Apps   []App
	Users  []User
}

// UserRef names a user across tenants: platform, tenant key and the
// tenant-scoped user ID.
type UserRef struct {
	Platform Platform `json:"platform"`
	Tenant   string   `json:"tenant"`
	UserID   string   `json:"user_id"`
}

func (r UserRef) String() string {
	return string(r.Platform) + ":" + r.Tenant + "/" + r.UserID
}

// Friendship makes two users friends (contacts across tenants).
type Friendship struct {
	A, B UserRef
}

// LoadDirectory adds a directory to the store in one transaction.
func (s *Service) LoadDirectory(ctx context.Context, d Directory) error {
	return s.updateDirectory(ctx, func(tx Tx) error { return loadDirectory(tx, d) })
}

// Reset deletes every tenant, app, user, chat and dedupe record and loads d
// instead, in one transaction. Issued tokens stay valid for apps d keeps.
func (s *Service) Reset(ctx context.Context, d Directory, fingerprint string) error {
	return s.updateDirectory(ctx, func(tx Tx) error {
		if err := tx.Reset(); err != nil {
			return err
		}
		if err := loadDirectory(tx, d); err != nil {
			return err
		}
		return tx.SetMeta(metaFixtures, fingerprint)
	})
}

func loadDirectory(tx Tx, d Directory) error {
	platforms := map[Platform]bool{}
	for _, td := range d.Tenants {
		t := td.Tenant
		if err := validateTenant(&t); err != nil {
			return err
		}
		if err := tx.CreateTenant(&t); err != nil {
			return fmt.Errorf("tenant %s: %w", t.Key, err)
		}
		platforms[t.Platform] = true
		for _, a := range td.Apps {
			a.TenantID, a.Platform = t.ID, t.Platform
			if err := validateApp(&a, t); err != nil {
				return err
			}
			if err := tx.CreateApp(&a); err != nil {
				return fmt.Errorf("app %s: %w", a.Key, err)
			}
		}
		for _, u := range td.Users {
			u.TenantID = t.ID
			if err := validateUser(&u, t.Platform); err != nil {
				return err
			}
			if err := tx.CreateUser(&u); err != nil {
				return fmt.Errorf("user %s of tenant %s: %w", u.UserID, t.Key, err)
			}
		}
	}
	for p := range platforms {
		if err := ensureAliases(tx, p); err != nil {
			return err
		}
	}
	for _, f := range d.Friendships {
		if err := addFriendship(tx, f.A, f.B); err != nil {
			return err
		}
	}
	for _, l := range d.Links {
		if err := putLink(tx, &l); err != nil {
			return err
		}
	}
	return nil
}

// putLink checks a link's corporations exist and stores it.
func putLink(tx Tx, l *Link) error {
	if l.Kind != Interconnect && l.Kind != Chain {
		return Invalid(ReasonField, "kind", fmt.Sprintf("link %s: kind %q: want interconnect or chain", l.Key, l.Kind))
	}
	if len(l.Upstream)+len(l.Downstream) < 2 {
		return Invalid(ReasonField, "corps", fmt.Sprintf("link %s needs at least two corporations", l.Key))
	}
	for _, key := range append(slices.Clone(l.Upstream), l.Downstream...) {
		if _, err := tx.TenantByKey(l.Platform, key); err != nil {
			return fmt.Errorf("link %s: corporation %s: %w", l.Key, key, err)
		}
	}
	return tx.PutLink(l)
}

// PutLink creates or replaces a link between corporations.
func (s *Service) PutLink(ctx context.Context, l Link) (Link, error) {
	err := s.updateDirectory(ctx, func(tx Tx) error { return putLink(tx, &l) })
	return l, err
}

// UpdateLink applies change to the link of p with key key, in one
// transaction; the platform and key stay as they are.
func (s *Service) UpdateLink(ctx context.Context, p Platform, key string, change func(*Link)) (Link, error) {
	var out Link
	err := s.updateDirectory(ctx, func(tx Tx) error {
		links, err := tx.Links(p)
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Key == key {
				change(&l)
				l.Platform, l.Key = p, key
				out = l
				return putLink(tx, &out)
			}
		}
		return Errorf(ENotFound, "", "no link %s of %s", key, p)
	})
	return out, err
}

// Links lists the links of p ("" for all).
func (s *Service) Links(ctx context.Context, p Platform) ([]Link, error) {
	var out []Link
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Links(p)
		return err
	})
	return out, err
}

// scopedIDs says which per-scope identifiers users hold because of an app:
// Feishu users an open_id per app and a union_id per developer, DingTalk
// users a unionId per developer, WeCom users an open_userid per
// third-party provider.
func scopedIDs(a App) (perApp, perDeveloper IDKind) {
	switch {
	case a.Platform == Feishu:
		return OpenID, UnionID
	case a.Platform == DingTalk:
		return "", UnionID
	case a.Platform == WeCom && a.Kind == ThirdParty:
		return "", OpenUserID
	}
	return "", ""
}

// ensureAliases gives every user of p an identifier in every app's and
// every developer's scope, where the platform has such identifiers (see
// scopedIDs): after an app changes, all users need looking at.
func ensureAliases(tx Tx, p Platform) error {
	users, err := tx.Users(p, 0)
	if err != nil {
		return err
	}
	return ensureAliasesOf(tx, p, users)
}

// ensureAliasesOf gives users of p their identifiers in every app's and
// developer's scope. Identifiers set explicitly are kept; missing ones are
// derived from the user's tenant and user ID, so a reload yields the same
// ones. Its cost is that of the users given, not of the directory.
func ensureAliasesOf(tx Tx, p Platform, users []User) error {
	apps, err := tx.Apps(p, 0)
	if err != nil {
		return err
	}
	apps = slices.DeleteFunc(apps, func(a App) bool {
		perApp, perDeveloper := scopedIDs(a)
		return perApp == "" && perDeveloper == ""
	})
	if len(apps) == 0 {
		return nil
	}
	tenants, err := tx.Tenants(p)
	if err != nil {
		return err
	}
	keys := map[int64]string{}
	for _, t := range tenants {
		keys[t.ID] = t.Key
	}
	for _, u := range users {
		var add []Alias
		need := func(kind IDKind, scope string) {
			if u.Alias(kind, scope) == "" && !slices.ContainsFunc(add, func(a Alias) bool { return a.Kind == kind && a.Scope == scope }) {
				add = append(add, Alias{Kind: kind, Scope: scope, Value: derivedAlias(p, kind, scope, keys[u.TenantID], u.UserID)})
			}
		}
		for _, a := range apps {
			perApp, perDeveloper := scopedIDs(a)
			if perApp != "" {
				need(perApp, a.Key)
			}
			if perDeveloper != "" {
				need(perDeveloper, a.Developer)
			}
		}
		if len(add) > 0 {
			if err := tx.AddAliases(u.ID, add); err != nil {
				return fmt.Errorf("aliases of user %s: %w", u.UserID, err)
			}
		}
	}
	return nil
}

func addFriendship(tx Tx, a, b UserRef) error {
	ua, err := userByRef(tx, a)
	if err != nil {
		return err
	}
	ub, err := userByRef(tx, b)
	if err != nil {
		return err
	}
	if ua.ID == ub.ID {
		return Invalid(ReasonField, "friendship", "a user cannot befriend themselves")
	}
	return tx.AddFriendship(ua.ID, ub.ID)
}

func userByRef(tx Tx, r UserRef) (User, error) {
	t, err := tx.TenantByKey(r.Platform, r.Tenant)
	if err != nil {
		return User{}, fmt.Errorf("user %s: tenant: %w", r, err)
	}
	u, err := tx.UserByUserID(t.ID, r.UserID)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", r, err)
	}
	return u, nil
}

func validateTenant(t *Tenant) error {
	if !t.Platform.Valid() {
		return Invalid(ReasonField, "platform", fmt.Sprintf("unknown platform %q (want feishu, dingtalk or wecom)", t.Platform))
	}
	if t.Key == "" {
		t.Key = NewTenantKey(t.Platform)
	}
	if t.Name == "" {
		t.Name = t.Key
	}
	return nil
}

func validateApp(a *App, t Tenant) error {
	if a.Key == "" {
		a.Key = NewAppKey(t.Platform)
	}
	if a.Secret == "" {
		return Invalid(ReasonField, "secret", fmt.Sprintf("app %s needs a secret", a.Key))
	}
	switch a.Kind {
	case "":
		a.Kind = SelfBuilt
	case SelfBuilt, StoreApp, ThirdParty:
	default:
		return Invalid(ReasonField, "kind", fmt.Sprintf("app %s: unknown kind %q (want self_built, store or third_party)", a.Key, a.Kind))
	}
	if a.Developer == "" {
		a.Developer = t.Key
	}
	if a.Name == "" {
		a.Name = a.Key
	}
	if a.Events != nil {
		if err := validateSubscription(t.Platform, *a.Events); err != nil {
			return Invalid(ReasonField, "events", fmt.Sprintf("app %s: %s", a.Key, err.Message))
		}
	}
	return nil
}

// validateSubscription applies each platform's rules to a subscription:
// Feishu and DingTalk have both modes, WeCom only callbacks; DingTalk's
// and WeCom's callbacks are encrypted with a 43-character key and signed
// with a token.
func validateSubscription(p Platform, sub Subscription) *Error {
	switch sub.Mode {
	case Connection:
		if p == WeCom {
			return Invalid(ReasonField, "events.mode", "WeCom apps receive events at a callback URL (mode webhook)")
		}
	case Webhook:
		u, err := url.Parse(sub.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Invalid(ReasonField, "events.url", "a webhook subscription needs an http(s) URL")
		}
		if p != Feishu {
			if sub.Token == "" {
				return Invalid(ReasonField, "events.token", "a callback needs its token")
			}
			if len(sub.Key) != 43 {
				return Invalid(ReasonField, "events.key", "the EncodingAESKey / aes_key must be 43 characters")
			}
		}
	default:
		return Invalid(ReasonField, "events.mode", fmt.Sprintf("unknown mode %q (want connection or webhook)", sub.Mode))
	}
	for _, t := range sub.Types {
		if !slices.Contains(EventTypes(p), t) {
			return Invalid(ReasonField, "events.types", fmt.Sprintf("%s has no event type %q qun emits (it has %s)", p, t, strings.Join(EventTypes(p), ", ")))
		}
	}
	return nil
}

func validateUser(u *User, p Platform) error {
	if u.UserID == "" {
		return Invalid(ReasonField, "user_id", "a user needs a user_id")
	}
	if utf8.RuneCountInString(u.UserID) > 64 || strings.ContainsAny(u.UserID, " /\t\n") {
		return Invalid(ReasonField, "user_id", fmt.Sprintf("user_id %q must be at most 64 characters without spaces or slashes", u.UserID))
	}
	switch u.Kind {
	case "":
		u.Kind = MemberUser
	case MemberUser, ExternalUser:
	default:
		return Invalid(ReasonField, "kind", fmt.Sprintf("user %s: unknown kind %q (want member or external)", u.UserID, u.Kind))
	}
	switch u.Status {
	case "":
		u.Status = Active
	case Active, Resigned:
	default:
		return Invalid(ReasonField, "status", fmt.Sprintf("user %s: unknown status %q (want active or resigned)", u.UserID, u.Status))
	}
	switch {
	case u.Contact != "" && (p != WeCom || u.Kind != ExternalUser):
		return Invalid(ReasonField, "contact", fmt.Sprintf("user %s: only WeCom external contacts have a contact type", u.UserID))
	case p == WeCom && u.Kind == ExternalUser && u.Contact == "":
		// WeCom's own convention: wo… IDs are WeCom users, others WeChat.
		u.Contact = WeChatContact
		if strings.HasPrefix(u.UserID, "wo") {
			u.Contact = WeComContact
		}
	case u.Contact != "" && u.Contact != WeChatContact && u.Contact != WeComContact:
		return Invalid(ReasonField, "contact", fmt.Sprintf("user %s: unknown contact type %q (want wechat or wecom)", u.UserID, u.Contact))
	}
	if u.Name == "" {
		u.Name = u.UserID
	}
	return nil
}

// CreateTenant adds a tenant; an empty key is generated.
func (s *Service) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	err := s.updateDirectory(ctx, func(tx Tx) error {
		if err := validateTenant(&t); err != nil {
			return err
		}
		return tx.CreateTenant(&t)
	})
	return t, err
}

// UpdateTenant applies change to the tenant of platform p with key key.
// The platform and key stay as they are.
func (s *Service) UpdateTenant(ctx context.Context, p Platform, key string, change func(*Tenant)) (Tenant, error) {
	var t Tenant
	err := s.updateDirectory(ctx, func(tx Tx) error {
		old, err := tx.TenantByKey(p, key)
		if err != nil {
			return err
		}
		t = old
		change(&t)
		t.ID, t.Platform, t.Key = old.ID, old.Platform, old.Key
		if err := validateTenant(&t); err != nil {
			return err
		}
		return tx.UpdateTenant(t)
	})
	return t, err
}

// CreateApp adds an app to the tenant of platform p with key tenantKey; an
// empty app key is generated. Every user of the platform gets an identifier
// in the new app's scope.
func (s *Service) CreateApp(ctx context.Context, p Platform, tenantKey string, a App) (App, error) {
	err := s.updateDirectory(ctx, func(tx Tx) error {
		t, err := tx.TenantByKey(p, tenantKey)
		if err != nil {
			return err
		}
		a.TenantID, a.Platform = t.ID, t.Platform
		if err := validateApp(&a, t); err != nil {
			return err
		}
		if err := tx.CreateApp(&a); err != nil {
			return err
		}
		return ensureAliases(tx, p)
	})
	return a, err
}

// DeleteApp removes an app. Its tokens stop working (ReasonAppMissing).
func (s *Service) DeleteApp(ctx context.Context, p Platform, tenantID int64, appKey string) error {
	return s.updateDirectory(ctx, func(tx Tx) error {
		a, err := tx.AppByKey(p, tenantID, appKey)
		if err != nil {
			return err
		}
		return tx.DeleteApp(a.ID)
	})
}

// UpdateApp changes an existing app (found by platform, key and, when set,
// tenant ID) to a.
func (s *Service) UpdateApp(ctx context.Context, a App) (App, error) {
	err := s.updateDirectory(ctx, func(tx Tx) error {
		old, err := tx.AppByKey(a.Platform, a.TenantID, a.Key)
		if err != nil {
			return err
		}
		t, err := tx.Tenant(old.TenantID)
		if err != nil {
			return err
		}
		a.ID, a.TenantID = old.ID, old.TenantID
		if err := validateApp(&a, t); err != nil {
			return err
		}
		if err := tx.UpdateApp(a); err != nil {
			return err
		}
		return ensureAliases(tx, a.Platform)
	})
	return a, err
}

// CreateUser adds a user to a tenant and gives it its identifiers.
func (s *Service) CreateUser(ctx context.Context, p Platform, tenantKey string, u User) (User, error) {
	users, err := s.CreateUsers(ctx, []NewUser{{Platform: p, Tenant: tenantKey, User: u}})
	if err != nil {
		return User{}, err
	}
	return users[0], nil
}

// NewUser is a user to create in the tenant of a platform.
type NewUser struct {
	Platform Platform
	Tenant   string
	User     User
}

// MaxNewUsers is the most users one CreateUsers call takes.
const MaxNewUsers = 10000

// CreateUsers adds users, of any tenants, in one transaction: all of them
// or, when one is invalid, none. It returns them with their identifiers, in
// the order given.
func (s *Service) CreateUsers(ctx context.Context, in []NewUser) ([]User, error) {
	if len(in) > MaxNewUsers {
		return nil, Invalid(ReasonField, "users", fmt.Sprintf("at most %d users at once, got %d", MaxNewUsers, len(in)))
	}
	out := make([]User, len(in))
	err := s.updateDirectory(ctx, func(tx Tx) error {
		tenants := map[Platform]map[string]Tenant{}
		byPlatform := map[Platform][]User{}
		for i, n := range in {
			if tenants[n.Platform] == nil {
				tenants[n.Platform] = map[string]Tenant{}
			}
			t, ok := tenants[n.Platform][n.Tenant]
			if !ok {
				var err error
				if t, err = tx.TenantByKey(n.Platform, n.Tenant); err != nil {
					return err
				}
				tenants[n.Platform][n.Tenant] = t
			}
			u := n.User
			u.TenantID = t.ID
			if err := validateUser(&u, n.Platform); err != nil {
				return err
			}
			if err := tx.CreateUser(&u); err != nil {
				return err
			}
			out[i] = u
			byPlatform[n.Platform] = append(byPlatform[n.Platform], u)
		}
		ids := make([]int64, len(out))
		for p, users := range byPlatform {
			if err := ensureAliasesOf(tx, p, users); err != nil {
				return err
			}
		}
		for i, u := range out {
			ids[i] = u.ID
		}
		stored, err := tx.UsersByID(ids)
		if err != nil {
			return err
		}
		byID := make(map[int64]User, len(stored))
		for _, u := range stored {
			byID[u.ID] = u
		}
		for i, u := range out {
			out[i] = byID[u.ID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetUserStatus changes a user's status (active or resigned).
func (s *Service) SetUserStatus(ctx context.Context, r UserRef, status UserStatus) (User, error) {
	var u User
	err := s.updateDirectory(ctx, func(tx Tx) error {
		var err error
		if u, err = userByRef(tx, r); err != nil {
			return err
		}
		u.Status = status
		if err := validateUser(&u, r.Platform); err != nil {
			return err
		}
		return tx.UpdateUser(u)
	})
	return u, err
}

// AddFriendship makes two users friends.
func (s *Service) AddFriendship(ctx context.Context, a, b UserRef) error {
	return s.updateDirectory(ctx, func(tx Tx) error { return addFriendship(tx, a, b) })
}

// Tenants lists the tenants of p ("" for all).
func (s *Service) Tenants(ctx context.Context, p Platform) ([]Tenant, error) {
	var ts []Tenant
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		ts, err = tx.Tenants(p)
		return err
	})
	return ts, err
}

// DirectoryEntry is a tenant with its apps and its first users.
type DirectoryEntry struct {
	Tenant Tenant
	Apps   []App
	Users  []User
	// MoreUsers says the tenant has users after those listed.
	MoreUsers bool
}

// Directory returns the tenants of p ("" for all) with their apps and, of
// each, its first maxUsers users (oldest first): a view whose cost does not
// grow with the users; UsersAfter pages through the rest.
func (s *Service) Directory(ctx context.Context, p Platform, maxUsers int) ([]DirectoryEntry, error) {
	var out []DirectoryEntry
	err := s.store.View(ctx, func(tx Tx) error {
		out = nil
		ts, err := tx.Tenants(p)
		if err != nil {
			return err
		}
		for _, t := range ts {
			apps, err := tx.Apps(t.Platform, t.ID)
			if err != nil {
				return err
			}
			users, err := tx.UsersAfter(t.Platform, t.ID, 0, maxUsers+1)
			if err != nil {
				return err
			}
			more := len(users) > maxUsers
			if more {
				users = users[:maxUsers]
			}
			out = append(out, DirectoryEntry{Tenant: t, Apps: apps, Users: users, MoreUsers: more})
		}
		return nil
	})
	return out, err
}

// Friends lists the users a user is friends with.
func (s *Service) Friends(ctx context.Context, r UserRef) ([]UserRef, error) {
	var out []UserRef
	err := s.store.View(ctx, func(tx Tx) error {
		u, err := userByRef(tx, r)
		if err != nil {
			return err
		}
		ids, err := tx.FriendsOf(u.ID)
		if err != nil {
			return err
		}
		users, err := tx.UsersByID(ids)
		if err != nil {
			return err
		}
		for _, f := range users {
			t, err := tx.Tenant(f.TenantID)
			if err != nil {
				return err
			}
			out = append(out, UserRef{Platform: t.Platform, Tenant: t.Key, UserID: f.UserID})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b UserRef) int { return strings.Compare(a.String(), b.String()) })
	return out, err
}

// metaFixtures is the meta key holding the fingerprint of the loaded
// directory.
const metaFixtures = "directory_fingerprint"

// Bootstrap loads d into an empty store and records its fingerprint, in one
// transaction. A store that already holds a directory keeps it; stale
// reports whether that directory came from other fixtures.
func (s *Service) Bootstrap(ctx context.Context, d Directory, fingerprint string) (loaded, stale bool, err error) {
	err = s.updateDirectory(ctx, func(tx Tx) error {
		loaded, stale = false, false // fn may run more than once
		tenants, err := tx.Tenants("")
		if err != nil {
			return err
		}
		if len(tenants) > 0 {
			old, err := tx.Meta(metaFixtures)
			stale = old != fingerprint
			return err
		}
		if err := loadDirectory(tx, d); err != nil {
			return fmt.Errorf("load directory: %w", err)
		}
		loaded = true
		return tx.SetMeta(metaFixtures, fingerprint)
	})
	return loaded, stale, err
}
