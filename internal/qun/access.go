package qun

// access is what an actor is allowed in one chat: the chat, the actor's
// membership, and whether it counts as the owner or an administrator.
type access struct {
	chat  Chat
	rules chatRules
	// member is the actor's bot's membership; nil when it is not in the chat.
	member *Member
	// owner: the actor's bot owns the chat.
	owner bool
	// admin: owner, manager, or the creator with the platform's
	// operate-as-owner scope.
	admin bool
}

// entry says what an operation needs of the actor.
type entry int

const (
	anyone     entry = iota // non-members may call (a reduced view)
	memberOnly              // the actor's bot must be a member
	// speaker: the bot must be a member, or the bot of a one-to-one chat
	// (the message APIs).
	speaker
)

// enter loads a chat for an actor and applies the checks every chat
// operation shares, in the platform's order: the chat exists (by chat ID,
// or by conversation ID where there are such), is in the actor's tenant (or
// is an external chat the actor is in), the actor may handle external
// chats, the chat is not dissolved, and the actor is a member when the
// operation needs one. Where apps manage their chats without joining them,
// the chat must be one the actor's app created. With lock, the transaction
// becomes the chat's only writer first.
func enter(tx Tx, actor Actor, chatID string, need entry, lock bool) (access, error) {
	app := actor.App
	rules := rulesOf[app.Platform]
	if err := checkBot(actor); err != nil {
		return access{}, err
	}
	c, err := tx.ChatByChatID(chatID)
	if ErrorCode(err) == ENotFound && rules.newConversationID != nil {
		c, err = tx.ChatByConversationID(chatID)
	}
	if ErrorCode(err) == ENotFound || (err == nil && c.Platform != app.Platform) {
		return access{}, &Error{Code: ENotFound, Reason: ReasonChatNotFound, Field: "chat_id", IDs: []string{chatID}, Message: "no chat with this chat_id"}
	} else if err != nil {
		return access{}, err
	}
	if lock {
		if err := tx.LockChat(c.ID); err != nil {
			return access{}, err
		}
		if c, err = tx.Chat(c.ID); err != nil {
			return access{}, err
		}
	}
	a := access{chat: c, rules: rules}
	if c.Class == P2P {
		// A one-to-one chat is its bot's, and only for messages.
		if need != speaker || c.CreatorApp != app.ID {
			return access{}, &Error{Code: ENotFound, Reason: ReasonChatNotFound, Field: "chat_id", IDs: []string{chatID}, Message: "no chat with this chat_id"}
		}
		a.member = &Member{Chat: c.ID, App: app.ID, Role: RoleMember}
		return a, nil
	}
	if rules.appManages {
		// The app is no member: it manages the chats it created, but not
		// the corp-group chats its members created from the client.
		if c.TenantID != actor.Tenant.ID || c.CreatorApp != app.ID || c.Class == CorpGroup {
			return access{}, Errorf(EForbidden, ReasonNotCreator, "the app manages only the chats it created")
		}
		if c.Status == Dissolved {
			return access{}, Errorf(EInvalid, ReasonChatDissolved, "the chat has been dissolved")
		}
		a.owner, a.admin = true, true
		return a, nil
	}
	m, err := tx.Member(c.ID, 0, app.ID)
	switch {
	case err == nil:
		a.member = &m
	case ErrorCode(err) != ENotFound:
		return access{}, err
	}
	if c.TenantID != actor.Tenant.ID && (!c.External || a.member == nil) {
		return access{}, Errorf(EForbidden, ReasonChatOtherTenant, "the chat belongs to another tenant")
	}
	if c.External && !app.ExternalChats {
		return access{}, Errorf(EForbidden, ReasonExternalNotAllowed, "the app may not operate external chats")
	}
	if c.Status == Dissolved {
		return access{}, Errorf(EInvalid, ReasonChatDissolved, "the chat has been dissolved")
	}
	if need != anyone && a.member == nil {
		return access{}, Errorf(EForbidden, ReasonNotInChat, "the operator is not in the chat")
	}
	if a.member != nil {
		a.owner = a.member.Role == RoleOwner
		a.admin = a.owner || a.member.Role == RoleManager
	}
	if a.member != nil && c.CreatorApp == app.ID && rules.operateAsOwner != "" && app.HasScope(rules.operateAsOwner) {
		a.admin = true
	}
	return a, nil
}

// refResult sorts references into what they name.
type refResult struct {
	users []User // distinct users, in the order first named
	bots  []App  // distinct apps, in the order first named
	// missing are references that name nobody.
	missing []string
}

// resolve finds what refs name, as the actor sees them. Another app's
// open_id fails the whole call (ReasonCrossApp), as do user_ids from a
// store app; anything else that names nobody is listed as missing.
func (r *resolver) resolve(refs []Ref) (refResult, error) {
	var (
		out      refResult
		seenUser = map[int64]bool{}
		seenBot  = map[int64]bool{}
	)
	if err := r.prefetch(refs); err != nil {
		return refResult{}, err
	}
	for _, ref := range refs {
		if ref.Kind == AppID {
			a, err := r.tx.AppByKey(r.actor.App.Platform, 0, ref.Value)
			if ErrorCode(err) == ENotFound {
				out.missing = append(out.missing, ref.Value)
				continue
			} else if err != nil {
				return refResult{}, err
			}
			if !seenBot[a.ID] {
				seenBot[a.ID] = true
				r.writtenBot[a.ID] = ref.Value
				out.bots = append(out.bots, a)
			}
			continue
		}
		u, err := r.user(ref)
		if ErrorReason(err) == ReasonUnavailableIDs {
			out.missing = append(out.missing, ref.Value)
			continue
		} else if err != nil {
			return refResult{}, err
		}
		if !seenUser[u.ID] {
			seenUser[u.ID] = true
			out.users = append(out.users, u)
		}
	}
	return out, nil
}

// memberships returns, in one read, the memberships in chat of the users
// and bots found, by user ID and by app ID.
func memberships(tx Tx, chat int64, found refResult) (users, bots map[int64]Member, err error) {
	var uids, aids []int64
	for _, u := range found.users {
		uids = append(uids, u.ID)
	}
	for _, b := range found.bots {
		aids = append(aids, b.ID)
	}
	ms, err := tx.MembersOf(chat, uids, aids)
	if err != nil {
		return nil, nil, err
	}
	users, bots = map[int64]Member{}, map[int64]Member{}
	for _, m := range ms {
		if m.User != 0 {
			users[m.User] = m
		} else {
			bots[m.App] = m
		}
	}
	return users, bots, nil
}

// lookup returns a membership from memberships' answer, or ENotFound, as
// Tx.Member would.
func lookup(in map[int64]Member, id int64) (Member, error) {
	if m, ok := in[id]; ok {
		return m, nil
	}
	return Member{}, &Error{Code: ENotFound, Message: "member not found"}
}

// notExisted is the error for IDs of one kind that name nobody.
func notExisted(kind IDKind, ids []string) *Error {
	return &Error{Code: EInvalid, Reason: ReasonNotExisted, Field: string(kind), IDs: ids, Message: "these IDs do not exist"}
}

func newResolver(tx Tx, actor Actor, cache *userCache) *resolver {
	return &resolver{tx: tx, actor: actor, cache: cache, version: -1, pin: pinned(tx), written: map[int64]string{}, writtenBot: map[int64]string{}}
}
