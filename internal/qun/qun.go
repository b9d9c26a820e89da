// Package qun is the platform-neutral domain core of the qun server.
//
// It holds the directory (tenants, apps, users, friendships), chats and their
// members, access tokens and dedupe records; the rules that govern them
// (Service); and the Store interface that persists them. Dialect packages
// translate a vendor's wire format to calls on Service and map the *Error
// values it returns to the vendor's envelope. This package imports no dialect
// and no storage driver.
package qun

import (
	"math"
	"slices"
	"time"
)

// Platform names one of the three vendor platforms whose chat service qun
// implements. Tenants, apps, users and chats each belong to one platform.
type Platform string

// The platforms qun serves.
const (
	Feishu   Platform = "feishu"
	DingTalk Platform = "dingtalk"
	WeCom    Platform = "wecom"
)

// Platforms are the platforms qun serves, in a stable order.
var Platforms = []Platform{DingTalk, Feishu, WeCom}

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool {
	return p == Feishu || p == DingTalk || p == WeCom
}

// Tenant is an organisation on one platform: a Feishu tenant, a DingTalk
// organisation or a WeCom corporation.
type Tenant struct {
	ID       int64    `json:"-"`
	Platform Platform `json:"platform"`
	// Key is the platform's identifier of the tenant: Feishu tenant_key,
	// DingTalk corpId, WeCom corpid.
	Key    string `json:"key"`
	Name   string `json:"name"`
	Policy Policy `json:"policy"`
}

// Policy is what a tenant's administrators allow, and which paid features
// its edition has.
type Policy struct {
	// PublicChats allows public (searchable) chats.
	PublicChats bool `json:"public_chats"`
	// RestrictedMode allows chats in restricted (confidential) mode.
	RestrictedMode bool `json:"restricted_mode"`
	// HideMemberCount allows hiding a chat's member count from members.
	HideMemberCount bool `json:"hide_member_count"`
	// BlockedWords fail content review when they appear in a chat's name or
	// description.
	BlockedWords []string `json:"blocked_words,omitempty"`
	// CorpGroupChat lets members create chats with linked corporations
	// (WeCom's 互联群 switch).
	CorpGroupChat bool `json:"corp_group_chat"`
}

// AppKind tells how an app is distributed.
type AppKind string

// App kinds.
const (
	SelfBuilt  AppKind = "self_built"  // built by the tenant for itself
	StoreApp   AppKind = "store"       // Feishu app-store (marketplace) app
	ThirdParty AppKind = "third_party" // WeCom third-party (suite) app
)

// App is an application registered in a tenant. Its bot, when it has bot
// ability, is the acting identity of tenant-token calls.
type App struct {
	ID       int64    `json:"-"`
	TenantID int64    `json:"-"`
	Platform Platform `json:"platform"`
	// Key is the platform's app identifier: Feishu app_id, DingTalk appKey,
	// WeCom agentid.
	Key    string  `json:"key"`
	Secret string  `json:"secret"`
	Name   string  `json:"name"`
	Kind   AppKind `json:"kind"`
	// Developer names the developer organisation behind the app; users have
	// one union_id per developer.
	Developer string `json:"developer"`
	// Bot is true when the app's bot ability is enabled.
	Bot bool `json:"bot"`
	// Installed is true when the app is installed and enabled in its tenant.
	Installed bool `json:"installed"`
	// ExternalChats allows the app to create and manage chats with users of
	// other tenants.
	ExternalChats bool `json:"external_chats"`
	// Scopes are the permissions granted to the app.
	Scopes []string `json:"scopes"`
	// AgentID is the app's agent ID in its tenant (DingTalk agentId).
	AgentID string `json:"agent_id,omitempty"`
	// Visible lists the user IDs of the app's visible range; empty means
	// the whole tenant.
	Visible []string `json:"visible,omitempty"`
	// StandardGroups allows creating standard (not internal) groups, an
	// allowlist DingTalk keeps.
	StandardGroups bool `json:"standard_groups,omitempty"`
	// Events is the app's event subscription; nil: it receives none.
	Events *Subscription `json:"events,omitempty"`
}

// Sees reports whether a user of the app's tenant is in its visible range.
func (a App) Sees(u User) bool {
	return len(a.Visible) == 0 || slices.Contains(a.Visible, u.UserID)
}

// HasScope reports whether the app was granted any of scopes.
func (a App) HasScope(scopes ...string) bool {
	for _, s := range scopes {
		if slices.Contains(a.Scopes, s) {
			return true
		}
	}
	return false
}

// UserKind separates a tenant's own people from its external contacts.
type UserKind string

// User kinds.
const (
	MemberUser   UserKind = "member"   // a member of the tenant
	ExternalUser UserKind = "external" // an external contact of the tenant
)

// UserStatus is a user's employment status.
type UserStatus string

// User statuses.
const (
	Active   UserStatus = "active"
	Resigned UserStatus = "resigned"
)

// User is a person in a tenant's directory.
type User struct {
	ID       int64 `json:"-"`
	TenantID int64 `json:"-"`
	// UserID is the tenant-scoped identifier: Feishu user_id, DingTalk
	// userId, WeCom userid.
	UserID string     `json:"user_id"`
	Name   string     `json:"name"`
	Kind   UserKind   `json:"kind"`
	Status UserStatus `json:"status"`
	// Aliases are the user's other identifiers, each valid in one scope.
	Aliases []Alias `json:"aliases,omitempty"`
	// Contact says how an external contact is reached: a WeChat user or a
	// user of another WeCom corporation.
	Contact ContactType `json:"contact,omitempty"`
}

// ContactType is how an external contact is reached.
type ContactType string

// Contact types.
const (
	WeChatContact ContactType = "wechat" // a WeChat user (WeCom external_userid wm…)
	WeComContact  ContactType = "wecom"  // a WeCom user of another corporation (wo…)
)

// Alias returns the user's identifier of kind in scope, or "".
func (u User) Alias(kind IDKind, scope string) string {
	for _, a := range u.Aliases {
		if a.Kind == kind && a.Scope == scope {
			return a.Value
		}
	}
	return ""
}

// IDKind names a kind of identifier a client may use for a user or a bot.
type IDKind string

// Identifier kinds. Each is valid in a scope: OpenID per app, UnionID per
// developer, UserID (a tenant's members) and ExternalID (its external
// contacts) per tenant, AppID globally per platform.
const (
	OpenID     IDKind = "open_id"
	UnionID    IDKind = "union_id"
	UserID     IDKind = "user_id"
	ExternalID IDKind = "external_id"
	AppID      IDKind = "app_id"
	// OpenUserID is WeCom's open_userid: one per third-party provider.
	OpenUserID IDKind = "open_userid"
)

// Alias is one identifier of a user, valid in one scope.
type Alias struct {
	Kind  IDKind `json:"kind"`
	Scope string `json:"scope"`
	Value string `json:"value"`
}

// Ref is a reference to a user or bot as a client wrote it.
type Ref struct {
	Kind  IDKind
	Value string
}

// ChatStatus is a chat's life-cycle state.
type ChatStatus string

// Chat statuses.
const (
	Normal    ChatStatus = "normal"
	Dissolved ChatStatus = "dissolved"
)

// Visibility tells who can find a chat.
type Visibility string

// Visibilities.
const (
	Private Visibility = "private" // found only by its members
	Public  Visibility = "public"  // searchable within the tenant
)

// Audience says who may do something in a chat, or who sees something.
type Audience string

// Audiences.
const (
	Everyone   Audience = "everyone"   // every member
	Owners     Audience = "owners"     // the owner and managers
	NoOne      Audience = "no_one"     // nobody
	Moderators Audience = "moderators" // a chosen list of members
)

// Restricted is a chat's restricted (confidential) mode.
type Restricted struct {
	On          bool     `json:"on"`
	Screenshot  Audience `json:"screenshot"`
	Download    Audience `json:"download"`
	CopyForward Audience `json:"copy_forward"`
}

// Settings are a chat's configurable behaviours, whatever the platform that
// set them.
type Settings struct {
	Visibility       Visibility `json:"visibility"`
	Threaded         bool       `json:"threaded"`
	JoinNotice       Audience   `json:"join_notice"`
	LeaveNotice      Audience   `json:"leave_notice"`
	ApprovalRequired bool       `json:"approval_required"`
	HistoryVisible   bool       `json:"history_visible"`
	WhoCanUrgent     Audience   `json:"who_can_urgent"`
	WhoCanVideo      Audience   `json:"who_can_video"`
	WhoCanEdit       Audience   `json:"who_can_edit"`
	WhoCanPin        Audience   `json:"who_can_pin"`
	WhoCanAddMembers Audience   `json:"who_can_add_members"`
	WhoCanMentionAll Audience   `json:"who_can_mention_all"`
	WhoCanSpeak      Audience   `json:"who_can_speak"`
	MemberCountFor   Audience   `json:"member_count_for"`
	ShareAllowed     bool       `json:"share_allowed"`
	Restricted       Restricted `json:"restricted"`
	Labels           []string   `json:"labels,omitempty"`
	Toolkits         []string   `json:"toolkits,omitempty"`
	Tags             []string   `json:"tags,omitempty"`
}

// DefaultSettings returns the settings of a chat created with none given.
func DefaultSettings() Settings {
	return Settings{
		Visibility:       Private,
		JoinNotice:       Everyone,
		LeaveNotice:      Everyone,
		WhoCanUrgent:     Everyone,
		WhoCanVideo:      Everyone,
		WhoCanEdit:       Everyone,
		WhoCanPin:        Everyone,
		WhoCanAddMembers: Everyone,
		WhoCanMentionAll: Everyone,
		WhoCanSpeak:      Everyone,
		MemberCountFor:   Everyone,
		ShareAllowed:     true,
		Restricted:       Restricted{Screenshot: Everyone, Download: Everyone, CopyForward: Everyone},
	}
}

// I18nNames are a chat's localised names.
type I18nNames struct {
	ZhCN string `json:"zh_cn,omitempty"`
	EnUS string `json:"en_us,omitempty"`
	JaJP string `json:"ja_jp,omitempty"`
}

// ChatClass is what kind of group a chat is.
type ChatClass string

// Chat classes.
const (
	// Internal groups are the default (DingTalk 内部群, Feishu chat_tag inner).
	Internal ChatClass = "internal"
	// Standard groups need an allowlisted app on DingTalk (普通群).
	Standard ChatClass = "standard"
	// CorpGroup chats join members of linked corporations (WeCom 互联群).
	CorpGroup ChatClass = "corp_group"
	// P2P is a bot's one-to-one chat with a user (Feishu p2p): the user is
	// its only member and the bot its creator. It is no group: the chat
	// APIs do not see it, only the message APIs.
	P2P ChatClass = "p2p"
)

// Chat is a group chat.
type Chat struct {
	ID int64 `json:"-"`
	// ChatID is the platform's public identifier of the chat.
	ChatID string `json:"chat_id"`
	// ConversationID is a second public identifier, where the platform has
	// one (DingTalk openConversationId).
	ConversationID string    `json:"conversation_id,omitempty"`
	Class          ChatClass `json:"class"`
	Platform       Platform  `json:"platform"`
	TenantID       int64     `json:"-"`
	// CreatorApp is the app whose bot created the chat (0 if none).
	CreatorApp int64 `json:"-"`
	// OwnerUser is the owning user, or 0 when the bot OwnerApp owns it.
	OwnerUser   int64      `json:"-"`
	OwnerApp    int64      `json:"-"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Avatar      string     `json:"avatar"`
	I18nNames   I18nNames  `json:"i18n_names"`
	Settings    Settings   `json:"settings"`
	External    bool       `json:"external"`
	Status      ChatStatus `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Role is a member's role in a chat.
type Role string

// Roles.
const (
	RoleOwner   Role = "owner"
	RoleManager Role = "manager"
	RoleMember  Role = "member"
)

// Roster is a chat's counts of users and bots and its managers, in join
// order (Tx.Roster).
type Roster struct {
	Users, Bots int
	Managers    []Member
}

// Member is a user or a bot in a chat: exactly one of User and App is set.
type Member struct {
	// Seq orders members by the time they joined; the store assigns it.
	Seq      int64     `json:"-"`
	Chat     int64     `json:"-"`
	User     int64     `json:"-"`
	App      int64     `json:"-"`
	Role     Role      `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// IsBot reports whether the member is a bot.
func (m Member) IsBot() bool { return m.App != 0 }

// TokenKind names what an access token grants.
type TokenKind string

// Token kinds.
const (
	// TenantToken is a Feishu tenant_access_token: an app acting in a tenant.
	TenantToken TokenKind = "tenant"
	// AppToken is a Feishu app_access_token: an app acting as itself.
	AppToken TokenKind = "app"
	// CorpToken is an app's token for its organisation: DingTalk's
	// accessToken (new and legacy APIs alike), WeCom's access_token.
	CorpToken TokenKind = "corp"
	// SuiteToken is a WeCom third-party suite_access_token.
	SuiteToken TokenKind = "suite"
	// LoginCode is a single-use code a client's login hands a member (WeCom
	// wx.qy.login).
	LoginCode TokenKind = "login_code"
	// Session is a member's login session in an app; its value is the
	// session_key.
	Session TokenKind = "session"
	// CorpTicket and AgentTicket are WeCom JS-SDK tickets, for config and
	// agentConfig signatures.
	CorpTicket  TokenKind = "jsapi_ticket"
	AgentTicket TokenKind = "agent_ticket"
	// ConnTicket admits an app's long connection for events (Feishu long
	// connection, DingTalk Stream): handed out with the endpoint, checked
	// when the WebSocket is opened.
	ConnTicket TokenKind = "connection_ticket"
)

// Token is an access token, ticket, code or session issued to an app (and,
// for codes and sessions, to one of its tenant's members).
type Token struct {
	Value     string
	Kind      TokenKind
	Platform  Platform
	AppKey    string
	TenantKey string
	// UserID is the member a code or session belongs to ("" otherwise).
	UserID    string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SecondsLeft is the token's remaining lifetime at now in whole seconds,
// as the platforms' expire fields give it (never negative).
func (t Token) SecondsLeft(now time.Time) int {
	return max(0, int(math.Round(t.ExpiresAt.Sub(now).Seconds())))
}

// LinkKind is how corporations are linked.
type LinkKind string

// Link kinds.
const (
	// Interconnect is WeCom 企业互联: every corporation sees every other.
	Interconnect LinkKind = "interconnect"
	// Chain is WeCom 上下游: upstream corporations and their downstream
	// ones; downstream ones see each other only when the chain allows.
	Chain LinkKind = "chain"
)

// Link ties corporations together so their members may share chats.
type Link struct {
	ID       int64    `json:"-"`
	Platform Platform `json:"platform"`
	Key      string   `json:"key"`
	Name     string   `json:"name"`
	Kind     LinkKind `json:"kind"`
	// MutualVisible lets downstream corporations of a chain see each other
	// (WeCom's "允许外部单位之间互相查看").
	MutualVisible bool `json:"mutual_visible"`
	// Upstream and Downstream list tenant keys; an interconnect lists all
	// its corporations as Upstream.
	Upstream   []string `json:"upstream"`
	Downstream []string `json:"downstream,omitempty"`
}

// Has reports whether the link includes the tenant key.
func (l Link) Has(key string) bool {
	return slices.Contains(l.Upstream, key) || slices.Contains(l.Downstream, key)
}

// Sees reports whether members of tenant a may be put in a chat with
// members of tenant b through this link.
func (l Link) Sees(a, b string) bool {
	if !l.Has(a) || !l.Has(b) {
		return false
	}
	if l.Kind != Chain || slices.Contains(l.Upstream, a) || slices.Contains(l.Upstream, b) {
		return true
	}
	return l.MutualVisible // both downstream
}

// Dedupe is the claim of a client-chosen request key on the chat a request
// created. Claims expire; a later request with the same key then creates
// again.
type Dedupe struct {
	Scope     string
	Key       string
	ChatID    string
	CreatedAt time.Time
}
