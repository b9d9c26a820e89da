package qun

import (
	"context"
	"time"
)

// Store persists the domain. It is deliberately thin: it runs functions in
// transactions and offers plain reads and writes inside them; every rule is
// written once in Service, above it, so that all Store implementations agree.
//
// Implementations report a missing row as an *Error of class ENotFound and a
// taken unique key as EConflict. The storetest package holds the conformance
// suite every implementation must pass.
type Store interface {
	// View runs fn in a read-only transaction that sees one consistent
	// state of the store.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed durably before
	// it returns nil, and rolled back when fn returns an error.
	//
	// The contract every store keeps (the conformance suite checks it):
	//   - An Update is serializable with respect to every other Update:
	//     the outcome is as if they ran one at a time, in some order (no
	//     lost update, no write skew, a member cap read under LockChat
	//     holds).
	//   - A store may run fn more than once (it retries serialization
	//     failures), so fn has no effects outside its transaction: it
	//     returns what it computed through variables it sets afresh.
	//   - A cancelled ctx makes the Update fail with ctx's error and write
	//     nothing; once fn's writes may have committed, Update reports the
	//     commit's outcome, never a false failure.
	//   - Search, time precision and order are the core's (SearchText,
	//     Precision, the ChatFilter's documented orders), not a store's SQL.
	Update(ctx context.Context, fn func(Tx) error) error
	// Meta reads a store-wide setting ("" when unset) outside any
	// transaction: the newest committed value, in one read (the directory
	// version every request checks its caches against).
	Meta(ctx context.Context, key string) (string, error)
	// Close releases the store's resources.
	Close() error
}

// Tx is a transaction of a Store. Its methods use the context the
// transaction was started with.
type Tx interface {
	// CreateTenant inserts t and sets its ID.
	CreateTenant(t *Tenant) error
	// UpdateTenant replaces the tenant with t's ID.
	UpdateTenant(t Tenant) error
	Tenant(id int64) (Tenant, error)
	TenantByKey(p Platform, key string) (Tenant, error)
	// Tenants lists the tenants of p ("" for all), oldest first.
	Tenants(p Platform) ([]Tenant, error)

	// CreateApp inserts a and sets its ID. App keys are unique per platform,
	// except WeCom agentids, which are unique per tenant.
	CreateApp(a *App) error
	UpdateApp(a App) error
	DeleteApp(id int64) error
	App(id int64) (App, error)
	// AppByKey finds an app by key; tenantID 0 searches every tenant.
	AppByKey(p Platform, tenantID int64, key string) (App, error)
	// Apps lists apps of p ("" for all) in tenantID (0 for all), oldest first.
	Apps(p Platform, tenantID int64) ([]App, error)

	// CreateUser inserts u with its aliases and sets its ID.
	CreateUser(u *User) error
	// UpdateUser replaces the name, kind and status of the user with u's ID.
	UpdateUser(u User) error
	// AddAliases gives user the aliases; an alias already held by the same
	// user is left alone, one held by another user is EConflict.
	AddAliases(user int64, aliases []Alias) error
	User(id int64) (User, error)
	// UsersByID returns the users with the given IDs, in no particular
	// order, skipping IDs that do not exist.
	UsersByID(ids []int64) ([]User, error)
	UserByUserID(tenantID int64, userID string) (User, error)
	// UserByAlias finds the user holding an alias; scope "" matches any
	// scope.
	UserByAlias(kind IDKind, scope, value string) (User, error)
	// UsersByAlias finds, in one read, the users holding the aliases of
	// kind in scope with the given values (values naming nobody are left
	// out), in no particular order.
	UsersByAlias(kind IDKind, scope string, values []string) ([]User, error)
	// UsersByUserID finds, in one read, the users of a tenant with the
	// given user IDs (IDs naming nobody are left out), in no particular
	// order.
	UsersByUserID(tenantID int64, userIDs []string) ([]User, error)
	// Users lists the users of p ("" for all) in tenantID (0 for all),
	// oldest first.
	Users(p Platform, tenantID int64) ([]User, error)
	// UsersAfter lists at most limit users of p ("" for all) in tenantID (0
	// for all) whose ID is above after, oldest first: a page of Users.
	UsersAfter(p Platform, tenantID, after int64, limit int) ([]User, error)

	// AddFriendship makes a and b friends; it is symmetric and idempotent.
	AddFriendship(a, b int64) error
	Friends(a, b int64) (bool, error)
	// FriendsOf lists the IDs of a user's friends.
	FriendsOf(user int64) ([]int64, error)

	PutToken(t Token) error
	// ExtendToken moves a token's expiry.
	ExtendToken(value string, expires time.Time) error
	Token(value string) (Token, error)
	// ConsumeToken deletes a token and returns it: of concurrent consumers,
	// one gets it and the others ENotFound.
	ConsumeToken(value string) (Token, error)
	// LatestToken returns the token of kind for the app, tenant and user
	// ("" for tokens of no user) that expires last.
	LatestToken(kind TokenKind, p Platform, appKey, tenantKey, userID string) (Token, error)
	// LiveTokens lists up to limit tokens that expire after now, the
	// latest to expire first.
	LiveTokens(now time.Time, limit int) ([]Token, error)

	// PutLink inserts or replaces the link with l's platform and key.
	PutLink(l *Link) error
	// Links lists the links of p, oldest first.
	Links(p Platform) ([]Link, error)

	// CreateChat inserts c and sets its ID; ChatID must be unique.
	CreateChat(c *Chat) error
	// CreateChatWithMembers inserts c, sets its ID, and adds members (their
	// Chat is set to it) in their order, as CreateChat and AddMembers do, in
	// one write: a new chat's first members.
	CreateChatWithMembers(c *Chat, members []Member) error
	UpdateChat(c Chat) error
	Chat(id int64) (Chat, error)
	ChatByChatID(chatID string) (Chat, error)
	ChatByConversationID(id string) (Chat, error)
	// LockChat makes the calling transaction the only writer of the chat
	// until it ends. Rules that read members and then write must call it.
	LockChat(id int64) error
	// Chats lists chats matching f, ordered by ID.
	Chats(f ChatFilter) ([]Chat, error)

	// AddMember inserts m; it reports false when the user or bot was
	// already a member (and leaves the existing row alone).
	AddMember(m Member) (bool, error)
	// AddMembers inserts ms in one write, in order (their join order), and
	// reports for each whether it was added (false: already a member).
	AddMembers(ms []Member) ([]bool, error)
	// UpdateMember changes the role of an existing member.
	UpdateMember(m Member) error
	// RemoveMember deletes a member; it reports false when there was none.
	RemoveMember(chat, user, app int64) (bool, error)
	// Member returns the membership of user (or bot app) in chat.
	Member(chat, user, app int64) (Member, error)
	// MembersOf returns, in one read, the memberships in chat of the given
	// users and bots (those not in the chat are left out), in join order.
	MembersOf(chat int64, users, apps []int64) ([]Member, error)
	// Members lists a chat's members in the order they joined.
	Members(f MemberFilter) ([]Member, error)
	// CountMembers counts a chat's users and bots.
	CountMembers(chat int64) (users, bots int, err error)
	// Roster is what a chat's answer says of its members, in one read: its
	// counts of users and bots (as CountMembers) and its managers in the
	// order they joined (as Members with RoleManager).
	Roster(chat int64) (Roster, error)

	// ClaimDedupe claims d.Key in d.Scope for d.ChatID unless a claim made
	// after notBefore holds it. It returns the chat ID that holds the key
	// afterwards: d.ChatID when the claim succeeded.
	ClaimDedupe(d Dedupe, notBefore time.Time) (string, error)

	// PurgeDedupe deletes up to limit dedupe claims made before t and
	// reports how many it deleted.
	PurgeDedupe(before time.Time, limit int) (int, error)
	// PurgeTokens deletes up to limit tokens (and codes, sessions,
	// tickets) that expired before t and reports how many it deleted.
	PurgeTokens(before time.Time, limit int) (int, error)

	// AddEvents writes events to the outbox and sets their IDs.
	AddEvents(es []Event) error
	// DueEvents lists the pending events d asks for, oldest due first.
	DueEvents(d Due) ([]Event, error)
	// UpdateEvent replaces the event with e's ID.
	UpdateEvent(e Event) error
	Event(id int64) (Event, error)
	// Events lists events matching f, newest first.
	Events(f EventFilter) ([]Event, error)
	// AddAttempt journals an attempt and sets its ID.
	AddAttempt(a *Attempt) error
	// Attempts lists the attempts at the given events, oldest first.
	Attempts(events []int64) ([]Attempt, error)

	// AddMessage inserts m and sets its ID; MessageID must be unique.
	AddMessage(m *Message) error
	// MessageByID finds a message by its public ID.
	MessageByID(messageID string) (Message, error)
	// UpdateMessage replaces the message with m's ID.
	UpdateMessage(m Message) error
	// Messages lists a chat's messages matching f, by creation (then ID).
	Messages(f MessageFilter) ([]Message, error)

	// PurgeEvents deletes up to limit events no longer due (delivered or
	// failed) created before t, with their attempts, and reports how many
	// it deleted.
	PurgeEvents(before time.Time, limit int) (int, error)

	// Meta reads a store-wide setting ("" when unset); SetMeta writes one.
	Meta(key string) (string, error)
	SetMeta(key, value string) error
	// ExpectMeta holds the transaction to a setting read before it began:
	// unless key's value, as this transaction sees it, is value ("" when
	// unset), the transaction fails with ErrMoved and writes nothing. A
	// store may compare at once (the error is then returned here) or send
	// the comparison with the transaction's next statement or its commit,
	// sparing the read a round trip of its own; so, after ExpectMeta, any
	// statement may fail with ErrMoved, which fn returns as it is, and an
	// Update that failed the comparison returns ErrMoved whatever fn did.
	ExpectMeta(key, value string) error
	// Last says that fn's next call of this Tx is its last one and that
	// fn returns nil once that call succeeds. A store may send its commit
	// with that call, in the same round trip (a network store saves one):
	// the call then also answers for the commit, so its error may be a
	// failure to serialise, which the store retries as any, and once it
	// succeeded the transaction has committed. A store may ignore it.
	Last()
	// Reset deletes the directory, links, chats, events and dedupe records; tokens
	// and meta settings survive.
	Reset() error
}

// ChatFilter selects chats. Zero fields do not filter.
type ChatFilter struct {
	Platform Platform
	TenantID int64
	// MemberUser and MemberApp select chats the user or bot is in.
	MemberUser int64
	MemberApp  int64
	// OrPublicIn widens MemberApp to the public chats of this tenant.
	OrPublicIn int64
	// Public selects public chats only.
	Public bool
	Status ChatStatus
	// Name selects chats of exactly this name.
	Name string
	// Query selects chats whose name or localised names contain it
	// (case-insensitively).
	Query string
	// Order, After and Limit page through the result.
	Order ChatOrder
	After ChatCursor
	Limit int
}

// MemberFilter selects members of one chat.
type MemberFilter struct {
	Chat int64
	// UsersOnly leaves out bots.
	UsersOnly bool
	// Role selects one role ("" for all).
	Role Role
	// After and Limit page through the result by join order; After is the
	// JoinSeq of the last member seen.
	After int64
	Limit int
}
