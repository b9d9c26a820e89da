package qun

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// NewChat is a request to create a chat, in platform-neutral terms.
type NewChat struct {
	Name        string
	Description string
	Avatar      string
	I18nNames   I18nNames
	Settings    Settings
	// Class is the kind of group ("" is Internal).
	Class ChatClass
	// External asks for an external chat even without external members.
	External bool
	// Owner names the owner; nil makes the acting bot the owner (or, where
	// apps do not join their chats, the first user).
	Owner *Ref
	// Users and Bots are invited; the acting bot joins where the platform
	// says so.
	Users []Ref
	Bots  []Ref
	// Contacts are external contacts of the actor's tenant to invite.
	Contacts []Ref
	// ChatID is the caller's choice of chat ID; "" generates one.
	ChatID string
	// BotManager makes the acting bot a manager when a user owns the chat.
	BotManager bool
	// Dedupe is the client's request key: within the platform's window, the
	// same key and owner return the chat the first request created. Empty
	// means no dedupe.
	Dedupe string
}

// ChatView is a chat with what a dialect needs to present it.
type ChatView struct {
	Chat   Chat
	Tenant Tenant
	// Owner is the owning user, nil when a bot owns the chat.
	Owner *User
	// Deduplicated is true when an earlier request with the same key
	// created the chat.
	Deduplicated bool
}

// CreateChat creates a chat as actor, applying every rule of the actor's
// platform, in one transaction.
func (s *Service) CreateChat(ctx context.Context, actor Actor, in NewChat) (ChatView, error) {
	rules := rulesOf[actor.App.Platform]
	if err := checkBot(actor); err != nil {
		return ChatView{}, err
	}
	if in.Avatar != "" && !rules.avatar(in.Avatar) {
		return ChatView{}, Invalid(ReasonAvatarInvalid, "avatar", "the avatar is not an image key")
	}
	if err := checkChatFields(actor, rules, &in); err != nil {
		return ChatView{}, err
	}
	var view ChatView
	err := s.updatePinned(ctx, func(tx Tx) error {
		var err error
		view, err = s.createChat(tx, actor, rules, in)
		return err
	})
	return view, err
}

// checkBot fails when the platform needs the actor to act as a bot and the
// app has no bot ability.
func checkBot(actor Actor) error {
	if rulesOf[actor.App.Platform].needsBot && !actor.App.Bot {
		return Errorf(EForbidden, ReasonBotDisabled, "the app's bot ability is not enabled")
	}
	return nil
}

// checkChatFields applies the rules that need no directory lookups.
func checkChatFields(actor Actor, rules chatRules, in *NewChat) error {
	st, policy := &in.Settings, actor.Tenant.Policy
	if in.Class == Standard && !actor.App.StandardGroups {
		return Errorf(EForbidden, ReasonStandardNotAllowed, "the app may not create standard groups")
	}
	if st.Visibility == Public {
		if !policy.PublicChats {
			return Errorf(EForbidden, ReasonPublicNotAllowed, "the tenant does not allow public chats")
		}
		if rules.publicNameMin > 0 && in.Name == "" {
			return Invalid(ReasonPublicNameEmpty, "name", "a public chat needs a name")
		}
		if utf8.RuneCountInString(in.Name) < rules.publicNameMin {
			return Invalid(ReasonPublicNameShort, "name", fmt.Sprintf("a public chat's name needs at least %d characters", rules.publicNameMin))
		}
	} else if in.Name == "" {
		in.Name = rules.defaultName
	}
	r := st.Restricted
	if r.On && !policy.RestrictedMode {
		return Errorf(EForbidden, ReasonRestrictedNotAllowed, "the tenant cannot use restricted mode")
	}
	perms := []Audience{r.Screenshot, r.Download, r.CopyForward}
	if r.On && !slices.Contains(perms, NoOne) {
		return Invalid(ReasonRestrictedInvalid, "restricted_mode_setting", "restricted mode needs at least one permission set to nobody")
	}
	if !r.On && slices.Contains(perms, NoOne) {
		return Invalid(ReasonRestrictedInvalid, "restricted_mode_setting", "permissions can only be withheld in restricted mode")
	}
	if st.MemberCountFor == Owners {
		if !policy.HideMemberCount {
			return Errorf(EForbidden, ReasonHideCountNotAllowed, "the tenant cannot hide member counts")
		}
		if st.Visibility == Public {
			return Invalid(ReasonHideCountChatType, "hide_member_count_setting", "public chats cannot hide their member count")
		}
	}
	if len(st.Labels) > 0 && !actor.App.HasScope(rules.labelScope) {
		return Errorf(EForbidden, ReasonLabelsScope, "the app needs scope %s to set labels", rules.labelScope)
	}
	for _, text := range []string{in.Name, in.Description, in.I18nNames.ZhCN, in.I18nNames.EnUS, in.I18nNames.JaJP} {
		for _, w := range policy.BlockedWords {
			if w != "" && strings.Contains(text, w) {
				return Errorf(EInvalid, ReasonContentReview, "content review failed")
			}
		}
	}
	return nil
}

func (s *Service) createChat(tx Tx, actor Actor, rules chatRules, in NewChat) (ChatView, error) {
	app, tenant := actor.App, actor.Tenant
	res := newResolver(tx, actor, &s.users)
	// The owner and the invitees in one read.
	named := in.Users
	if in.Owner != nil {
		named = append([]Ref{*in.Owner}, in.Users...)
	}
	if err := res.prefetch(named); err != nil {
		return ChatView{}, err
	}

	var owner *User
	if in.Owner == nil && rules.ownerRequired {
		return ChatView{}, Invalid(ReasonOwnerInvalid, "owner", "the owner is required")
	}
	if in.Owner != nil {
		u, err := res.user(*in.Owner)
		if ErrorReason(err) == ReasonUnavailableIDs {
			return ChatView{}, &Error{Code: EInvalid, Reason: ReasonOwnerInvalid, Field: "owner_id", IDs: []string{in.Owner.Value}, Message: "the owner does not exist"}
		} else if err != nil {
			return ChatView{}, err
		}
		if u.TenantID != tenant.ID {
			return ChatView{}, &Error{Code: EInvalid, Reason: ReasonOwnerOtherTenant, Field: "owner_id", IDs: []string{in.Owner.Value}, Message: "the owner must be in the operator's tenant"}
		}
		if u.Status == Resigned {
			return ChatView{}, &Error{Code: EInvalid, Reason: ReasonUserResigned, Field: "owner_id", IDs: []string{in.Owner.Value}, Message: "the owner has resigned"}
		}
		if u.Kind == MemberUser && !app.Sees(u) {
			return ChatView{}, &Error{Code: EForbidden, Reason: ReasonOwnerInvisible, Field: "owner", IDs: []string{in.Owner.Value}, Message: "the owner is not within the app's visible range"}
		}
		owner = &u
	}

	users, outside, err := res.invitees(in.Users, owner)
	if err != nil {
		return ChatView{}, err
	}
	external := len(outside) > 0 || in.External
	if external {
		if !app.ExternalChats {
			return ChatView{}, Errorf(EForbidden, ReasonExternalNotAllowed, "the app may not create external chats")
		}
		if owner == nil {
			return ChatView{}, Invalid(ReasonExternalNeedsOwner, "owner_id", "an external chat needs a user as its owner")
		}
		if in.Settings.Visibility == Public {
			return ChatView{}, Invalid(ReasonExternalPublic, "chat_type", "an external chat cannot be public")
		}
		far, err := res.strangers(outside, *owner)
		if err != nil {
			return ChatView{}, err
		}
		if len(far) > 0 {
			return ChatView{}, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "user_id_list", IDs: far, Message: "external users must be friends of the owner"}
		}
		users = append(users, outside...)
	}
	contacts, err := res.contacts(in.Contacts, owner)
	if err != nil {
		return ChatView{}, err
	}
	users = append(users, contacts...)
	bots, err := res.bots(in.Bots, external)
	if err != nil {
		return ChatView{}, err
	}
	actorBot := 0
	if rules.actorJoins {
		actorBot = 1
	}
	if actorBot+len(bots) > rules.maxBots {
		return ChatView{}, Errorf(EInvalid, ReasonTooManyBots, "a chat holds at most %d bots", rules.maxBots)
	}
	if owner == nil && !rules.actorJoins {
		// Where apps do not join their chats, someone must own the chat.
		if len(users) == 0 {
			return ChatView{}, Invalid(ReasonNoValidMembers, "users", "the chat needs an owner or members")
		}
		owner, users = &users[0], users[1:]
	}
	if len(users)+1 > rules.maxMembers {
		return ChatView{}, Errorf(EInvalid, ReasonTooManyMembers, "a chat holds at most %d users", rules.maxMembers)
	}

	now := s.now()
	class := in.Class
	if class == "" {
		class = Internal
	}
	chat := Chat{
		ChatID:      cmp.Or(in.ChatID, rules.newChatID()),
		Class:       class,
		Platform:    app.Platform,
		TenantID:    tenant.ID,
		CreatorApp:  app.ID,
		Name:        in.Name,
		Description: in.Description,
		Avatar:      in.Avatar,
		I18nNames:   in.I18nNames,
		Settings:    in.Settings,
		External:    external,
		Status:      Normal,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if rules.newConversationID != nil {
		chat.ConversationID = rules.newConversationID()
	}
	if owner != nil {
		chat.OwnerUser = owner.ID
	} else {
		chat.OwnerApp = app.ID
	}

	if in.Dedupe != "" {
		ownerKey := "bot"
		if owner != nil {
			ownerKey = fmt.Sprintf("user:%d", owner.ID)
		}
		d := Dedupe{
			Scope:     fmt.Sprintf("create_chat|%s|%s|%s", app.Platform, app.Key, ownerKey),
			Key:       in.Dedupe,
			ChatID:    chat.ChatID,
			CreatedAt: now,
		}
		holder, err := tx.ClaimDedupe(d, now.Add(-rules.dedupeTTL))
		if err != nil {
			return ChatView{}, err
		}
		if holder != chat.ChatID {
			v, err := chatView(tx, holder)
			v.Deduplicated = true
			return v, err
		}
	}

	members := make([]Member, 0, len(users)+len(bots)+2)
	if owner != nil {
		members = append(members, Member{User: owner.ID, Role: RoleOwner, JoinedAt: now})
	}
	for _, u := range users {
		members = append(members, Member{User: u.ID, Role: RoleMember, JoinedAt: now})
	}
	if rules.actorJoins {
		botRole := RoleMember
		switch {
		case owner == nil:
			botRole = RoleOwner
		case in.BotManager:
			botRole = RoleManager
		}
		members = append(members, Member{App: app.ID, Role: botRole, JoinedAt: now})
	}
	for _, b := range bots {
		members = append(members, Member{App: b.ID, Role: RoleMember, JoinedAt: now})
	}
	if len(bots) == 0 {
		// Nothing follows the insert (no bot to tell): the store may
		// commit with it.
		tx.Last()
	}
	if err := tx.CreateChatWithMembers(&chat, members); ErrorCode(err) == EConflict && in.ChatID != "" {
		return ChatView{}, &Error{Code: EConflict, Reason: ReasonChatIDTaken, Field: "chatid", IDs: []string{in.ChatID}, Message: "the chat ID is in use"}
	} else if err != nil {
		return ChatView{}, err
	}
	// The bots the creator brings are told they were added; the creator
	// and the first users are the chat's making, told to nobody.
	var added []Change
	for _, b := range bots {
		added = append(added, Change{Kind: BotAdded, Chat: chat, OperatorApp: app.ID, Bot: b.ID, Source: FromAPI, At: now})
	}
	if err := s.emit(tx, added...); err != nil {
		return ChatView{}, err
	}
	return ChatView{Chat: chat, Tenant: tenant, Owner: owner}, nil
}

// chatView loads a chat with its tenant and owner.
func chatView(tx Tx, chatID string) (ChatView, error) {
	c, err := tx.ChatByChatID(chatID)
	if err != nil {
		return ChatView{}, err
	}
	t, err := tx.Tenant(c.TenantID)
	if err != nil {
		return ChatView{}, err
	}
	v := ChatView{Chat: c, Tenant: t}
	if c.OwnerUser != 0 {
		u, err := tx.User(c.OwnerUser)
		if err != nil {
			return ChatView{}, err
		}
		v.Owner = &u
	}
	return v, nil
}

// resolver finds the users and bots refs name, as one actor sees them.
type resolver struct {
	tx    Tx
	actor Actor
	// written and writtenBot remember the ID a client wrote for each user
	// and bot resolved.
	written, writtenBot map[int64]string
	// known holds what prefetch found: the user a reference names, or a
	// zero User when it names nobody.
	known map[Ref]User
	// cache, when set, holds users found by earlier transactions at the
	// directory version this one reads (version, -1 until read).
	cache   *userCache
	version int64
	// pin is the directory count the request read, which the resolver
	// works at when it is set (updatePinned).
	pin pin
}

// prefetch resolves refs in one read per kind of ID (UsersByAlias,
// UsersByUserID), so that resolving a list of 50 users costs a statement or
// two, not 50; user then answers from what it found. With a cache, what it
// holds at the transaction's directory version is not read again.
func (r *resolver) prefetch(refs []Ref) error {
	app := r.actor.App
	if r.known == nil {
		r.known = map[Ref]User{}
	}
	if r.cache != nil && r.version < 0 {
		v, err := r.pin.at(r.tx)
		if err != nil {
			return err
		}
		r.version = v
	}
	byKind := map[IDKind][]string{}
	for _, ref := range refs {
		if _, done := r.known[ref]; done || ref.Kind == AppID {
			continue
		}
		if key, ok := r.cacheKey(ref); ok && r.cache != nil {
			if u, hit := r.cache.get(r.version, key); hit {
				r.known[ref] = u
				continue
			}
		}
		byKind[ref.Kind] = append(byKind[ref.Kind], ref.Value)
	}
	for kind, values := range byKind {
		var (
			users []User
			err   error
			key   func(User) string
		)
		switch kind {
		case OpenID:
			users, err = r.tx.UsersByAlias(OpenID, app.Key, values)
			key = func(u User) string { return u.Alias(OpenID, app.Key) }
		case UnionID:
			users, err = r.tx.UsersByAlias(UnionID, app.Developer, values)
			key = func(u User) string { return u.Alias(UnionID, app.Developer) }
		case UserID, ExternalID:
			if app.Kind == StoreApp {
				continue // user answers the error
			}
			users, err = r.tx.UsersByUserID(r.actor.Tenant.ID, values)
			key = func(u User) string { return u.UserID }
		default:
			continue
		}
		if err != nil {
			return err
		}
		for _, v := range values {
			r.known[Ref{Kind: kind, Value: v}] = User{}
		}
		for _, u := range users {
			r.known[Ref{Kind: kind, Value: key(u)}] = u
		}
		if r.cache != nil {
			for _, v := range values {
				ref := Ref{Kind: kind, Value: v}
				k, _ := r.cacheKey(ref)
				r.cache.put(r.version, k, r.known[ref])
			}
		}
	}
	return nil
}

// cacheKey is how the user cache knows the lookup of ref: an alias in the
// app's or developer's scope, or a user ID in the actor's tenant (user_id
// and external IDs are one lookup).
func (r *resolver) cacheKey(ref Ref) (userKey, bool) {
	app := r.actor.App
	switch ref.Kind {
	case OpenID:
		return userKey{kind: OpenID, scope: app.Key, value: ref.Value}, true
	case UnionID:
		return userKey{kind: UnionID, scope: app.Developer, value: ref.Value}, true
	case UserID, ExternalID:
		if app.Kind == StoreApp {
			return userKey{}, false
		}
		return userKey{kind: UserID, tenant: r.actor.Tenant.ID, value: ref.Value}, true
	}
	return userKey{}, false
}

// user resolves one reference to a user, from what prefetch found or with
// a read of its own. A reference that names nobody is
// ReasonUnavailableIDs; another app's open_id is ReasonCrossApp.
func (r *resolver) user(ref Ref) (User, error) {
	app := r.actor.App
	unavailable := &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, IDs: []string{ref.Value}, Message: "the ID names no user"}
	if (ref.Kind == UserID || ref.Kind == ExternalID) && app.Kind == StoreApp {
		return User{}, Invalid(ReasonUserIDNotAllowed, "user_id_type", "store apps cannot use user_id; use open_id or union_id")
	}
	u, known := r.known[ref]
	var err error
	if !known {
		switch ref.Kind {
		case OpenID:
			u, err = r.tx.UserByAlias(OpenID, app.Key, ref.Value)
		case UnionID:
			u, err = r.tx.UserByAlias(UnionID, app.Developer, ref.Value)
		case UserID, ExternalID:
			u, err = r.tx.UserByUserID(r.actor.Tenant.ID, ref.Value)
		default:
			return User{}, Invalid(ReasonField, "user_id_type", fmt.Sprintf("unknown ID type %q", ref.Kind))
		}
		if ErrorCode(err) == ENotFound {
			u, err = User{}, nil
		} else if err != nil {
			return User{}, err
		}
	}
	if u.ID == 0 {
		if ref.Kind == OpenID {
			if _, other := r.tx.UserByAlias(OpenID, "", ref.Value); other == nil {
				return User{}, &Error{Code: EInvalid, Reason: ReasonCrossApp, IDs: []string{ref.Value}, Message: "the open_id belongs to another app"}
			}
		}
		return User{}, unavailable
	}
	if want := map[IDKind]UserKind{UserID: MemberUser, ExternalID: ExternalUser}[ref.Kind]; want != "" && u.Kind != want {
		return User{}, unavailable
	}
	r.written[u.ID] = ref.Value
	return u, nil
}

// invitees resolves the users to invite, dropping duplicates and the owner.
// It returns the actor's own tenant's users and, apart, those of other
// tenants.
func (r *resolver) invitees(refs []Ref, owner *User) (inside, outside []User, err error) {
	var (
		seen              = map[int64]bool{}
		missing, resigned []string
	)
	if owner != nil {
		seen[owner.ID] = true
	}
	if err := r.prefetch(refs); err != nil {
		return nil, nil, err
	}
	for _, ref := range refs {
		u, err := r.user(ref)
		if ErrorReason(err) == ReasonUnavailableIDs {
			missing = append(missing, ref.Value)
			continue
		} else if err != nil {
			return nil, nil, err
		}
		if seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		switch {
		case u.Status == Resigned:
			resigned = append(resigned, ref.Value)
		case u.TenantID != r.actor.Tenant.ID:
			outside = append(outside, u)
		default:
			inside = append(inside, u)
		}
	}
	if len(missing) > 0 {
		return nil, nil, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "user_id_list", IDs: missing, Message: "these IDs name no user"}
	}
	if len(resigned) > 0 {
		return nil, nil, &Error{Code: EInvalid, Reason: ReasonUserResigned, Field: "user_id_list", IDs: resigned, Message: "these users have resigned"}
	}
	return inside, outside, nil
}

// contacts resolves the external contacts to invite, dropping the owner
// and duplicates: they must be the actor's tenant's external contacts.
func (r *resolver) contacts(refs []Ref, owner *User) ([]User, error) {
	var (
		out     []User
		seen    = map[int64]bool{}
		missing []string
	)
	if owner != nil {
		seen[owner.ID] = true
	}
	external := make([]Ref, len(refs))
	for i, ref := range refs {
		external[i] = Ref{Kind: ExternalID, Value: ref.Value}
	}
	if err := r.prefetch(external); err != nil {
		return nil, err
	}
	for _, ref := range external {
		u, err := r.user(ref)
		if ErrorReason(err) == ReasonUnavailableIDs {
			missing = append(missing, ref.Value)
			continue
		} else if err != nil {
			return nil, err
		}
		if !seen[u.ID] {
			seen[u.ID] = true
			out = append(out, u)
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "contacts", IDs: missing, Message: "these IDs name no external contact of the tenant"}
	}
	return out, nil
}

// strangers returns the refs of the users in outside who are not friends of
// owner.
func (r *resolver) strangers(outside []User, owner User) ([]string, error) {
	var far []string
	for _, u := range outside {
		ok, err := r.tx.Friends(owner.ID, u.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			far = append(far, r.written[u.ID])
		}
	}
	return far, nil
}

// bots resolves the bots to invite by app key, dropping duplicates and the
// acting bot itself.
func (r *resolver) bots(refs []Ref, external bool) ([]App, error) {
	var (
		bots            []App
		seen            = map[int64]bool{r.actor.App.ID: true}
		missing, absent []string
	)
	for _, ref := range refs {
		a, err := r.tx.AppByKey(r.actor.App.Platform, 0, ref.Value)
		if ErrorCode(err) == ENotFound {
			missing = append(missing, ref.Value)
			continue
		} else if err != nil {
			return nil, err
		}
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if !a.Bot || !a.Installed || a.TenantID != r.actor.Tenant.ID {
			absent = append(absent, ref.Value)
			continue
		}
		if external && !a.ExternalChats {
			return nil, &Error{Code: EForbidden, Reason: ReasonExternalNotAllowed, IDs: []string{ref.Value}, Message: "an invited bot may not join external chats"}
		}
		bots = append(bots, a)
	}
	if len(missing) > 0 {
		return nil, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "bot_id_list", IDs: missing, Message: "these app IDs name no app"}
	}
	if len(absent) > 0 {
		return nil, &Error{Code: EInvalid, Reason: ReasonBotNotFound, Field: "bot_id_list", IDs: absent, Message: "these apps have no bot in this tenant"}
	}
	return bots, nil
}
