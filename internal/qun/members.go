package qun

import (
	"context"
	"time"
)

// AddMode says what AddMembers does with IDs it cannot add.
type AddMode int

// Add modes (Feishu's succeed_type 0, 1 and 2).
const (
	// AddSkipResigned fails on IDs that name nobody or nobody reachable,
	// skips resigned users and adds the rest.
	AddSkipResigned AddMode = iota
	// AddWhatCan adds what it can and reports the rest.
	AddWhatCan
	// AddAllOrNothing fails when any ID cannot be added.
	AddAllOrNothing
)

// AddResult reports what AddMembers did not add, by the IDs the caller
// wrote.
type AddResult struct {
	// Invalid: resigned users, unreachable users, apps without a usable bot.
	Invalid []string
	// NotExisted: IDs that name nobody.
	NotExisted []string
	// Pending: users waiting for the owner's or a manager's approval.
	Pending []string
}

// AddMembers adds users and bots to a chat. Its error, when mode makes the
// call fail, comes with the result listing the IDs at fault.
func (s *Service) AddMembers(ctx context.Context, actor Actor, chatID string, refs []Ref, mode AddMode) (AddResult, error) {
	var res AddResult
	err := s.updatePinned(ctx, func(tx Tx) error {
		var err error
		res, err = s.addMembers(tx, actor, chatID, refs, mode)
		return err
	})
	return res, err
}

func (s *Service) addMembers(tx Tx, actor Actor, chatID string, refs []Ref, mode AddMode) (AddResult, error) {
	a, err := enter(tx, actor, chatID, memberOnly, true)
	if err != nil {
		return AddResult{}, err
	}
	return s.addMembersTx(tx, actor, a, refs, mode)
}

// addMembersTx adds members to the chat a was entered for.
func (s *Service) addMembersTx(tx Tx, actor Actor, a access, refs []Ref, mode AddMode) (AddResult, error) {
	c := a.chat
	if c.Settings.WhoCanAddMembers != Everyone && !a.admin {
		return AddResult{}, Errorf(EForbidden, ReasonNeedAdmin, "only the owner and managers may add members to this chat")
	}
	if len(refs) == 0 {
		return AddResult{}, Errorf(EInvalid, ReasonNoValidMembers, "the ID list is empty")
	}
	r := newResolver(tx, actor, &s.users)
	found, err := r.resolve(refs)
	if err != nil {
		return AddResult{}, err
	}
	var (
		res                            AddResult
		resigned, unreachable, foreign []string
		badBots                        []string
		addUsers                       []User
		addBots                        []App
	)
	res.NotExisted = found.missing
	var owner *User
	if c.OwnerUser != 0 {
		u, err := tx.User(c.OwnerUser)
		if err != nil {
			return AddResult{}, err
		}
		owner = &u
	}
	inUsers, inBots, err := memberships(tx, c.ID, found)
	if err != nil {
		return AddResult{}, err
	}
	for _, u := range found.users {
		if _, in := inUsers[u.ID]; in {
			continue // already in
		}
		switch {
		case u.Status == Resigned:
			resigned = append(resigned, r.written[u.ID])
		case u.TenantID != c.TenantID && !c.External:
			foreign = append(foreign, r.written[u.ID])
		case u.TenantID != c.TenantID:
			ok := false
			if owner != nil {
				if ok, err = tx.Friends(owner.ID, u.ID); err != nil {
					return AddResult{}, err
				}
			}
			if !ok {
				unreachable = append(unreachable, r.written[u.ID])
				continue
			}
			addUsers = append(addUsers, u)
		case c.Settings.ApprovalRequired && !a.admin:
			res.Pending = append(res.Pending, r.written[u.ID])
		default:
			addUsers = append(addUsers, u)
		}
	}
	for _, b := range found.bots {
		if _, in := inBots[b.ID]; in {
			continue
		}
		if !b.Bot || !b.Installed || b.TenantID != c.TenantID || (c.External && !b.ExternalChats) {
			badBots = append(badBots, r.writtenBot[b.ID])
			continue
		}
		addBots = append(addBots, b)
	}

	switch mode {
	case AddSkipResigned:
		switch {
		case len(res.NotExisted) > 0 && refs[0].Kind == AppID:
			return res, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "id_list", IDs: res.NotExisted, Message: "these app IDs name no app"}
		case len(res.NotExisted) > 0:
			return res, notExisted(refs[0].Kind, res.NotExisted)
		case len(foreign) > 0:
			return res, &Error{Code: EForbidden, Reason: ReasonExternalInInternal, Field: "id_list", IDs: foreign, Message: "users of other tenants cannot join an internal chat"}
		case len(unreachable) > 0:
			return res, &Error{Code: EForbidden, Reason: ReasonInvisible, Field: "id_list", IDs: unreachable, Message: "these users are not reachable (external users must be friends of the owner)"}
		case len(badBots) > 0:
			return res, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "id_list", IDs: badBots, Message: "these apps have no usable bot"}
		}
		res.Invalid = resigned
	case AddWhatCan:
		res.Invalid = concat(resigned, unreachable, foreign, badBots)
	case AddAllOrNothing:
		res.Invalid = concat(resigned, unreachable, foreign, badBots)
		if bad := concat(res.Invalid, res.NotExisted); len(bad) > 0 {
			return res, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, Field: "id_list", IDs: bad, Message: "some IDs cannot be added"}
		}
	}

	users, bots, err := tx.CountMembers(c.ID)
	if err != nil {
		return res, err
	}
	if users+len(addUsers) > a.rules.maxMembers {
		return res, Errorf(EInvalid, ReasonTooManyMembers, "a chat holds at most %d users", a.rules.maxMembers)
	}
	if bots+len(addBots) > a.rules.maxBots {
		return res, Errorf(EInvalid, ReasonTooManyBots, "a chat holds at most %d bots", a.rules.maxBots)
	}
	now := s.now()
	joining := make([]Member, 0, len(addUsers)+len(addBots))
	for _, u := range addUsers {
		joining = append(joining, Member{Chat: c.ID, User: u.ID, Role: RoleMember, JoinedAt: now})
	}
	for _, b := range addBots {
		joining = append(joining, Member{Chat: c.ID, App: b.ID, Role: RoleMember, JoinedAt: now})
	}
	if _, err := tx.AddMembers(joining); err != nil {
		return res, err
	}
	if len(addUsers)+len(addBots) > 0 {
		if err := touch(tx, c.ID, now); err != nil {
			return res, err
		}
	}
	return res, s.emit(tx, joined(actor, c, addUsers, addBots, now)...)
}

// joined is the changes of users and bots joining c, made by actor's app.
func joined(actor Actor, c Chat, users []User, bots []App, now time.Time) []Change {
	var out []Change
	op := operator(actor)
	if len(users) > 0 {
		ch := op.change(UsersAdded, c, now)
		for _, u := range users {
			ch.Users = append(ch.Users, u.ID)
		}
		out = append(out, ch)
	}
	for _, b := range bots {
		ch := op.change(BotAdded, c, now)
		ch.Bot = b.ID
		out = append(out, ch)
	}
	return out
}

// operatorOf is who makes a change: an app through the API, or a user
// in the client (Simulate).
type operatorOf struct {
	user, app int64
	source    Source
}

// operator is the actor's app, acting through the API.
func operator(actor Actor) operatorOf {
	return operatorOf{app: actor.App.ID, source: FromAPI}
}

func (o operatorOf) change(k EventKind, c Chat, now time.Time) Change {
	return Change{Kind: k, Chat: c, OperatorUser: o.user, OperatorApp: o.app, Source: o.source, At: now}
}

// touch marks a chat active now.
func touch(tx Tx, chat int64, now time.Time) error {
	c, err := tx.Chat(chat)
	if err != nil {
		return err
	}
	c.UpdatedAt = now
	return tx.UpdateChat(c)
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// RemoveMembers removes users and bots from a chat and returns the IDs
// that named no member. Anyone may remove itself; removing others takes the
// owner, a manager or the creator; the owner cannot be removed.
func (s *Service) RemoveMembers(ctx context.Context, actor Actor, chatID string, refs []Ref) ([]string, error) {
	var invalid []string
	err := s.updatePinned(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, memberOnly, true)
		if err != nil {
			return err
		}
		invalid, err = s.removeMembersTx(tx, actor, a, refs)
		return err
	})
	return invalid, err
}

// removeMembersTx removes members from the chat a was entered for.
func (s *Service) removeMembersTx(tx Tx, actor Actor, a access, refs []Ref) ([]string, error) {
	c := a.chat
	if len(refs) == 0 {
		return nil, Errorf(EInvalid, ReasonNoValidMembers, "the ID list is empty")
	}
	r := newResolver(tx, actor, &s.users)
	found, err := r.resolve(refs)
	if err != nil {
		return nil, err
	}
	invalid := found.missing
	var remove []Member
	consider := func(m Member, err error, written string, self bool) error {
		if ErrorCode(err) == ENotFound {
			invalid = append(invalid, written)
			return nil
		} else if err != nil {
			return err
		}
		if m.Role == RoleOwner {
			return &Error{Code: EForbidden, Reason: ReasonOwnerCannotLeave, IDs: []string{written}, Message: "the owner cannot be removed"}
		}
		if !self && !a.admin {
			return Errorf(EForbidden, ReasonCannotRemove, "only the owner, managers or the creator may remove others")
		}
		remove = append(remove, m)
		return nil
	}
	inUsers, inBots, err := memberships(tx, c.ID, found)
	if err != nil {
		return nil, err
	}
	for _, u := range found.users {
		m, err := lookup(inUsers, u.ID)
		if err := consider(m, err, r.written[u.ID], false); err != nil {
			return nil, err
		}
	}
	for _, b := range found.bots {
		m, err := lookup(inBots, b.ID)
		if err := consider(m, err, r.writtenBot[b.ID], b.ID == actor.App.ID); err != nil {
			return nil, err
		}
	}
	if len(remove) == 0 {
		return nil, &Error{Code: EInvalid, Reason: ReasonNoValidMembers, IDs: invalid, Message: "no ID names a member of the chat"}
	}
	now := s.now()
	op := operator(actor)
	gone := op.change(UsersRemoved, c, now)
	var changes []Change
	for _, m := range remove {
		if _, err := tx.RemoveMember(c.ID, m.User, m.App); err != nil {
			return nil, err
		}
		if m.App != 0 {
			ch := op.change(BotRemoved, c, now)
			ch.Bot = m.App
			changes = append(changes, ch)
		} else {
			gone.Users = append(gone.Users, m.User)
		}
	}
	if len(gone.Users) > 0 {
		changes = append(changes, gone)
	}
	if err := touch(tx, c.ID, now); err != nil {
		return nil, err
	}
	return invalid, s.emit(tx, changes...)
}

// MemberPage is a page of a chat's users.
type MemberPage struct {
	Users []ChatUser
	// Total counts the chat's users (bots excluded).
	Total int
	// Next continues the listing; 0 when this is the last page.
	Next int64
}

// ChatUser is a user in a chat, with its tenant.
type ChatUser struct {
	User   User
	Tenant Tenant
}

// Members lists the users (not the bots) of a chat in the order they
// joined, after the member whose join sequence is after.
func (s *Service) Members(ctx context.Context, actor Actor, chatID string, after int64, limit int) (MemberPage, error) {
	var page MemberPage
	err := s.store.View(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, memberOnly, false)
		if err != nil {
			return err
		}
		if page.Total, _, err = tx.CountMembers(a.chat.ID); err != nil {
			return err
		}
		ms, err := tx.Members(MemberFilter{Chat: a.chat.ID, UsersOnly: true, After: after, Limit: limit + 1})
		if err != nil {
			return err
		}
		if len(ms) > limit {
			ms = ms[:limit]
			page.Next = ms[len(ms)-1].Seq
		}
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.User
		}
		users, err := usersInOrder(tx, ids)
		if err != nil {
			return err
		}
		tenants := map[int64]Tenant{}
		for _, u := range users {
			t, ok := tenants[u.TenantID]
			if !ok {
				if t, err = tx.Tenant(u.TenantID); err != nil {
					return err
				}
				tenants[u.TenantID] = t
			}
			page.Users = append(page.Users, ChatUser{User: u, Tenant: t})
		}
		return nil
	})
	return page, err
}

// IsInChat reports whether the actor's bot is in a chat.
func (s *Service) IsInChat(ctx context.Context, actor Actor, chatID string) (bool, error) {
	var in bool
	err := s.store.View(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, anyone, false)
		in = a.member != nil
		return err
	})
	return in, err
}

// Managers are a chat's managers after a change.
type Managers struct {
	Users []User
	Bots  []App
}

// SetManagers makes members managers (add) or plain members again. Only
// the owner may. IDs that name no member (or the owner) are ignored, and a
// list with none left fails; strict fails on any ID that names nobody
// (ReasonNotExisted) or no member (ReasonNotMember) instead.
func (s *Service) SetManagers(ctx context.Context, actor Actor, chatID string, refs []Ref, add, strict bool) (Managers, error) {
	var out Managers
	err := s.updatePinned(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, memberOnly, true)
		if err != nil {
			return err
		}
		if !a.owner {
			return Errorf(EForbidden, ReasonNeedOwner, "only the owner may change managers")
		}
		c := a.chat
		r := newResolver(tx, actor, &s.users)
		found, err := r.resolve(refs)
		if err != nil {
			return err
		}
		if strict && len(found.missing) > 0 {
			return notExisted(refs[0].Kind, found.missing)
		}
		var (
			change  []Member
			outside []string
		)
		pick := func(m Member, err error, written string) error {
			if ErrorCode(err) == ENotFound {
				outside = append(outside, written)
				return nil
			}
			if err != nil || m.Role == RoleOwner {
				return err
			}
			change = append(change, m)
			return nil
		}
		inUsers, inBots, err := memberships(tx, c.ID, found)
		if err != nil {
			return err
		}
		for _, u := range found.users {
			m, err := lookup(inUsers, u.ID)
			if err := pick(m, err, r.written[u.ID]); err != nil {
				return err
			}
		}
		for _, b := range found.bots {
			m, err := lookup(inBots, b.ID)
			if err := pick(m, err, r.writtenBot[b.ID]); err != nil {
				return err
			}
		}
		if strict && len(outside) > 0 {
			return &Error{Code: EInvalid, Reason: ReasonNotMember, IDs: outside, Message: "these users are not members of the chat"}
		}
		if len(change) == 0 {
			return Errorf(EInvalid, ReasonNoValidMembers, "no ID names a member of the chat")
		}
		role := RoleMember
		if add {
			role = RoleManager
		}
		for _, m := range change {
			m.Role = role
			if err := tx.UpdateMember(m); err != nil {
				return err
			}
		}
		if out.Users, out.Bots, err = managers(tx, c.ID); err != nil {
			return err
		}
		if n := len(out.Users) + len(out.Bots); add && n > a.rules.maxManagers {
			return Errorf(EInvalid, ReasonTooManyManagers, "a chat has at most %d managers", a.rules.maxManagers)
		}
		return nil
	})
	return out, err
}
