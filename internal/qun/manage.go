package qun

import (
	"context"
	"reflect"
	"strings"
	"time"
)

// ChatInfo is a chat as one actor sees it.
type ChatInfo struct {
	Chat   Chat
	Tenant Tenant
	// Owner is the owning user; nil when a bot owns the chat.
	Owner *User
	// Managers and BotManagers are the chat's managers.
	Managers    []User
	BotManagers []App
	// Users and Bots count the members.
	Users, Bots int
	// Members are the chat's users in the order they joined, when asked
	// for.
	Members []User
	// Role is the actor's role; "" when it is not a member.
	Role Role
	// Admin is true when the actor may manage the chat.
	Admin bool
}

// GetChat returns a chat for an actor that may not be a member (then Role
// is empty and the caller shows only what non-members may see), with its
// users when withMembers is set.
func (s *Service) GetChat(ctx context.Context, actor Actor, chatID string, withMembers bool) (ChatInfo, error) {
	var info ChatInfo
	err := s.store.View(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, anyone, false)
		if err != nil {
			return err
		}
		if info, err = chatInfo(tx, actor, a); err != nil || !withMembers {
			return err
		}
		ms, err := tx.Members(MemberFilter{Chat: a.chat.ID, UsersOnly: true})
		if err != nil {
			return err
		}
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.User
		}
		info.Members, err = usersInOrder(tx, ids)
		return err
	})
	return info, err
}

// chatInfo reads what a chat's answer shows. The chat's tenant is the
// actor's, already read when the token was checked, unless the chat is
// another tenant's (a linked corporation's).
func chatInfo(tx Tx, actor Actor, a access) (ChatInfo, error) {
	c := a.chat
	info := ChatInfo{Chat: c, Admin: a.admin}
	if a.member != nil {
		info.Role = a.member.Role
	}
	var err error
	if actor.Tenant.ID != 0 && actor.Tenant.ID == c.TenantID {
		info.Tenant = actor.Tenant
	} else if info.Tenant, err = tx.Tenant(c.TenantID); err != nil {
		return ChatInfo{}, err
	}
	// Two reads: the counts with the managers, then the owner with the
	// users among them.
	r, err := tx.Roster(c.ID)
	if err != nil {
		return ChatInfo{}, err
	}
	info.Users, info.Bots = r.Users, r.Bots
	var owner []int64
	if c.OwnerUser != 0 {
		owner = []int64{c.OwnerUser}
	}
	users, bots, err := managerUsers(tx, r.Managers, owner...)
	if err != nil {
		return ChatInfo{}, err
	}
	if c.OwnerUser != 0 {
		if len(users) == 0 || users[0].ID != c.OwnerUser {
			return ChatInfo{}, &Error{Code: ENotFound, Message: "user not found"} // as tx.User says it
		}
		info.Owner, users = &users[0], users[1:]
	}
	info.Managers, info.BotManagers = users, bots
	return info, nil
}

// managers lists a chat's user and bot managers.
func managers(tx Tx, chat int64) ([]User, []App, error) {
	ms, err := tx.Members(MemberFilter{Chat: chat, Role: RoleManager})
	if err != nil {
		return nil, nil, err
	}
	return managerUsers(tx, ms)
}

// managerUsers reads the users and bots behind managers, in their order.
// The users whose IDs are first (a chat's owner) are read in the same
// statement and lead the users returned.
func managerUsers(tx Tx, ms []Member, first ...int64) ([]User, []App, error) {
	var (
		ids  = first
		bots []App
	)
	for _, m := range ms {
		if m.IsBot() {
			a, err := tx.App(m.App)
			if err != nil {
				return nil, nil, err
			}
			bots = append(bots, a)
		} else {
			ids = append(ids, m.User)
		}
	}
	users, err := usersInOrder(tx, ids)
	return users, bots, err
}

// usersInOrder loads users keeping the order of ids.
func usersInOrder(tx Tx, ids []int64) ([]User, error) {
	found, err := tx.UsersByID(ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]User, len(found))
	for _, u := range found {
		byID[u.ID] = u
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		if u, ok := byID[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// ChatChange is an update of a chat: nil fields stay as they are.
type ChatChange struct {
	Name, Description, Avatar *string
	I18nNames                 *I18nNames
	// Settings changes the settings in place; nil leaves them alone.
	Settings func(*Settings)
	// Owner transfers the chat to another member.
	Owner *Ref
	// Add and Remove change the members in the same transaction, in this
	// order: Add, the owner transfer, Remove. Every ID of Add must be
	// usable; removing the owner fails. IDs of Remove that name no member
	// are skipped unless StrictRemove is set.
	Add, Remove  []Ref
	StrictRemove bool
}

// UpdateChat changes a chat. Owners, managers and the creator (with the
// operate-as-owner scope) may change everything; other members only the
// name, description, avatar and localised names, and only when the chat
// lets every member edit it.
func (s *Service) UpdateChat(ctx context.Context, actor Actor, chatID string, ch ChatChange) error {
	return s.store.Update(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, memberOnly, true)
		if err != nil {
			return err
		}
		old, c := a.chat, a.chat
		if ch.Name != nil {
			c.Name = *ch.Name
		}
		if ch.Description != nil {
			c.Description = *ch.Description
		}
		if ch.Avatar != nil {
			if !a.rules.avatar(*ch.Avatar) {
				return Invalid(ReasonAvatarInvalid, "avatar", "the avatar is not an image key")
			}
			c.Avatar = *ch.Avatar
		}
		if ch.I18nNames != nil {
			c.I18nNames = *ch.I18nNames
		}
		c.Settings.Labels = append([]string(nil), old.Settings.Labels...)
		if ch.Settings != nil {
			ch.Settings(&c.Settings)
		}
		basicOnly := reflect.DeepEqual(c.Settings, old.Settings) && ch.Owner == nil
		if !a.admin {
			if old.Settings.WhoCanEdit != Everyone {
				return Errorf(EForbidden, ReasonEditOwnersOnly, "only the owner and managers may edit this chat")
			}
			if !basicOnly {
				return Errorf(EForbidden, ReasonEditBasicOnly, "members may change only the name, description, avatar and localised names")
			}
		}
		if err := checkChange(tx, actor, a.rules, old, &c); err != nil {
			return err
		}
		if len(ch.Add) > 0 {
			if _, err := s.addMembersTx(tx, actor, a, ch.Add, AddAllOrNothing); err != nil {
				return err
			}
		}
		// The new owner may be one of the added members, and the old owner
		// one of the removed.
		if ch.Owner != nil {
			if err := transfer(tx, actor, &c, *ch.Owner); err != nil {
				return err
			}
		}
		if len(ch.Remove) > 0 {
			invalid, err := s.removeMembersTx(tx, actor, a, ch.Remove)
			if err != nil {
				return err
			}
			if ch.StrictRemove && len(invalid) > 0 {
				return &Error{Code: EInvalid, Reason: ReasonNotMember, IDs: invalid, Message: "these IDs name no member of the chat"}
			}
		}
		c.UpdatedAt = s.now()
		if err := tx.UpdateChat(c); err != nil {
			return err
		}
		if changed(old, c) {
			ch := operator(actor).change(ChatUpdated, c, c.UpdatedAt)
			ch.Before = old
			return s.emit(tx, ch)
		}
		return nil
	})
}

// changed reports whether an update changed what chat_updated tells.
func changed(old, c Chat) bool {
	old.UpdatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	return !reflect.DeepEqual(old, c)
}

// checkChange applies the chat rules to the changed chat c.
func checkChange(tx Tx, actor Actor, rules chatRules, old Chat, c *Chat) error {
	if c.Name == "" && c.Settings.Visibility == Private {
		c.Name = rules.defaultName
	}
	in := NewChat{Name: c.Name, Description: c.Description, I18nNames: c.I18nNames, Settings: c.Settings}
	if reflect.DeepEqual(c.Settings.Labels, old.Settings.Labels) {
		in.Settings.Labels = nil // unchanged labels need no scope
	}
	if err := checkChatFields(actor, rules, &in); err != nil {
		return err
	}
	st := c.Settings
	if (st.WhoCanAddMembers == Owners) == st.ShareAllowed {
		return Invalid(ReasonField, "share_card_permission", "share_card_permission must be not_allowed exactly when add_member_permission is only_owner")
	}
	if c.External && st.Visibility == Public {
		return Invalid(ReasonExternalPublic, "chat_type", "an external chat cannot be public")
	}
	if st.Visibility == Public && (old.Settings.Visibility != Public || old.Name != c.Name) {
		same, err := tx.Chats(ChatFilter{Platform: c.Platform, TenantID: c.TenantID, Name: c.Name, Status: Normal, Public: true})
		if err != nil {
			return err
		}
		for _, o := range same {
			if o.ID != c.ID {
				return Errorf(EConflict, ReasonPublicNameTaken, "a public chat named %q exists", c.Name)
			}
		}
	}
	return nil
}

// transfer makes the member named by ref the owner of c; the old owner
// stays a member.
func transfer(tx Tx, actor Actor, c *Chat, ref Ref) error {
	u, err := newResolver(tx, actor, nil).user(ref)
	if ErrorReason(err) == ReasonUnavailableIDs {
		return &Error{Code: EInvalid, Reason: ReasonOwnerInvalid, Field: "owner_id", IDs: []string{ref.Value}, Message: "the new owner does not exist"}
	} else if err != nil {
		return err
	}
	if u.TenantID != c.TenantID {
		return &Error{Code: EForbidden, Reason: ReasonOwnerTransferExternal, Field: "owner_id", IDs: []string{ref.Value}, Message: "the new owner must be in the chat's tenant"}
	}
	m, err := tx.Member(c.ID, u.ID, 0)
	if ErrorCode(err) == ENotFound {
		return &Error{Code: EInvalid, Reason: ReasonNewOwnerNotInChat, Field: "owner_id", IDs: []string{ref.Value}, Message: "the new owner is not in the chat"}
	} else if err != nil {
		return err
	}
	if m.Role == RoleOwner {
		return nil
	}
	if err := tx.UpdateMember(Member{Chat: c.ID, User: c.OwnerUser, App: c.OwnerApp, Role: RoleMember}); err != nil {
		return err
	}
	if err := tx.UpdateMember(Member{Chat: c.ID, User: u.ID, Role: RoleOwner}); err != nil {
		return err
	}
	c.OwnerUser, c.OwnerApp = u.ID, 0
	return nil
}

// DissolveChat dissolves a chat. Only its owner, or its creator with the
// operate-as-owner scope, may. Every later operation on it fails with
// ReasonChatDissolved.
func (s *Service) DissolveChat(ctx context.Context, actor Actor, chatID string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, memberOnly, true)
		if err != nil {
			return err
		}
		creator := a.chat.CreatorApp == actor.App.ID && a.rules.operateAsOwner != "" && actor.App.HasScope(a.rules.operateAsOwner)
		if !a.owner && !creator {
			return Errorf(EForbidden, ReasonNeedAdmin, "only the owner or the creator may dissolve the chat")
		}
		c := a.chat
		c.Status, c.UpdatedAt = Dissolved, s.now()
		if err := tx.UpdateChat(c); err != nil {
			return err
		}
		return s.emit(tx, operator(actor).change(ChatDisbanded, c, c.UpdatedAt))
	})
}

// ChatOrder orders chat listings.
type ChatOrder int

// Chat orders, with the cursor fields each continues after.
const (
	ByCreation ChatOrder = iota // oldest first; After.ID
	ByActivity                  // most recently updated first; After.Active, then After.ID
	ByNewest                    // newest first; After.ID
)

// ChatQuery asks for a page of the chats an actor sees.
type ChatQuery struct {
	Order ChatOrder
	// After continues after the last chat of the previous page.
	After ChatCursor
	Limit int
	// Search lists, besides the actor's chats, the public chats of its
	// tenant, whose names contain Keyword.
	Search  bool
	Keyword string
}

// ChatCursor is a position in a chat listing.
type ChatCursor struct {
	ID     int64
	Active int64 // UpdatedAt in Unix milliseconds, for ByActivity
}

// ChatPage is one page of a listing; Next is set when there is more.
type ChatPage struct {
	Chats []ChatInfo
	Next  *ChatCursor
}

// ListChats lists the chats the actor's bot is in (or, searching, sees),
// dissolved ones left out.
func (s *Service) ListChats(ctx context.Context, actor Actor, q ChatQuery) (ChatPage, error) {
	var page ChatPage
	if err := checkBot(actor); err != nil {
		return page, err
	}
	keyword := strings.TrimSpace(q.Keyword)
	if q.Search && (keyword == "" || len([]rune(keyword)) > 64) {
		return page, nil
	}
	err := s.store.View(ctx, func(tx Tx) error {
		f := ChatFilter{Platform: actor.App.Platform, MemberApp: actor.App.ID, Status: Normal, Order: q.Order, Limit: q.Limit + 1, After: q.After}
		if q.Search {
			f.OrPublicIn, f.Query = actor.Tenant.ID, keyword
		}
		chats, err := tx.Chats(f)
		if err != nil {
			return err
		}
		if len(chats) > q.Limit {
			chats = chats[:q.Limit]
			last := chats[len(chats)-1]
			page.Next = &ChatCursor{ID: last.ID, Active: last.UpdatedAt.UnixMilli()}
		}
		// The page's owners in one read; tenants are few.
		var ownerIDs []int64
		for _, c := range chats {
			if c.OwnerUser != 0 {
				ownerIDs = append(ownerIDs, c.OwnerUser)
			}
		}
		owners, err := tx.UsersByID(ownerIDs)
		if err != nil {
			return err
		}
		byID := make(map[int64]*User, len(owners))
		for i := range owners {
			byID[owners[i].ID] = &owners[i]
		}
		tenants := map[int64]Tenant{}
		for _, c := range chats {
			info := ChatInfo{Chat: c, Owner: byID[c.OwnerUser]}
			t, ok := tenants[c.TenantID]
			if !ok {
				if t, err = tx.Tenant(c.TenantID); err != nil {
					return err
				}
				tenants[c.TenantID] = t
			}
			info.Tenant = t
			page.Chats = append(page.Chats, info)
		}
		return nil
	})
	return page, err
}
