package qun

import (
	"context"
	"slices"
)

// CorpRef names a member of a linked corporation.
type CorpRef struct {
	Corp string // the corporation's tenant key
	Ref  Ref    // UserID, or OpenUserID for third-party apps
}

// CorpGroupRequest is a member's request, made from the WeCom client, to
// create a chat with people of its own and of linked corporations
// (wx.qy.createCorpGroupChat).
type CorpGroupRequest struct {
	// Initiator is the user ID of the signed-in member; it owns the chat.
	Initiator string
	Name      string
	// Users are members of the initiator's corporation: UserID refs from
	// self-built apps, OpenUserID refs from third-party ones.
	Users []Ref
	// Contacts are external_userids of the initiator's corporation; those
	// who are not the initiator's friends are left out.
	Contacts []string
	// CorpUsers are members of linked corporations.
	CorpUsers []CorpRef
	// InterconnectOnly is set for clients that predate chains (上下游):
	// only corporations linked by an interconnect are reachable.
	InterconnectOnly bool
}

// CreateCorpGroupChat creates a corp-group chat for the member signed in to
// the actor's app, applying WeCom's rules in this order: the member is in
// the app's visible range (ReasonNotVisible); the corporation has corp-group
// chats on and is linked to another (ReasonCorpGroupDisabled); at most 2000
// people including the initiator (ReasonTooManyMembers); somebody besides
// the initiator; external contacts who are not the initiator's friends
// dropped; at most 40 people when a WeChat contact remains
// (ReasonTooManyWithWeChat); every other ID names an active member, of a
// corporation the initiator's sees through a link (ReasonUnavailableIDs).
func (s *Service) CreateCorpGroupChat(ctx context.Context, actor Actor, in CorpGroupRequest) (ChatView, error) {
	var view ChatView
	err := s.updatePinned(ctx, func(tx Tx) error {
		var err error
		view, err = s.createCorpGroupChat(tx, actor, in)
		return err
	})
	return view, err
}

func (s *Service) createCorpGroupChat(tx Tx, actor Actor, in CorpGroupRequest) (ChatView, error) {
	app, tenant := actor.App, actor.Tenant
	rules := rulesOf[app.Platform]
	initiator, err := tx.UserByUserID(tenant.ID, in.Initiator)
	if ErrorCode(err) == ENotFound || (err == nil && initiator.Kind != MemberUser) {
		return ChatView{}, Errorf(EUnavailable, ReasonNoSession, "the signed-in member does not exist")
	} else if err != nil {
		return ChatView{}, err
	}
	if initiator.Status == Resigned || !app.Sees(initiator) {
		return ChatView{}, Errorf(EForbidden, ReasonNotVisible, "the member is not in the app's visible range")
	}
	links, err := tx.Links(app.Platform)
	if err != nil {
		return ChatView{}, err
	}
	links = slices.DeleteFunc(links, func(l Link) bool { return !l.Has(tenant.Key) })
	if !tenant.Policy.CorpGroupChat || len(links) == 0 {
		return ChatView{}, Errorf(EForbidden, ReasonCorpGroupDisabled, "the corporation has no corp-group chats")
	}

	users, corpUsers, contacts := distinct(in.Users, initiatorRef(in.Users, initiator)), distinct(in.CorpUsers), distinct(in.Contacts)
	if 1+len(users)+len(corpUsers)+len(contacts) > rules.maxMembers {
		return ChatView{}, Errorf(EInvalid, ReasonTooManyMembers, "a chat holds at most %d people", rules.maxMembers)
	}
	if len(users)+len(corpUsers) == 0 {
		return ChatView{}, Invalid(ReasonField, "userIds", "name at least one member besides the initiator")
	}

	var kept []User
	wechat := false
	for _, id := range contacts {
		c, err := tx.UserByUserID(tenant.ID, id)
		if ErrorCode(err) == ENotFound || (err == nil && c.Kind != ExternalUser) {
			continue // not a contact of the corporation: not a friend either
		} else if err != nil {
			return ChatView{}, err
		}
		friends, err := tx.Friends(initiator.ID, c.ID)
		if err != nil {
			return ChatView{}, err
		}
		if friends {
			kept = append(kept, c)
			wechat = wechat || c.Contact == WeChatContact
		}
	}
	if wechat && 1+len(users)+len(corpUsers)+len(kept) > maxWithWeChat {
		return ChatView{}, Errorf(EInvalid, ReasonTooManyWithWeChat, "a chat with WeChat contacts holds at most %d people", maxWithWeChat)
	}

	var (
		members []User
		bad     []string
	)
	r := newResolver(tx, actor, &s.users)
	for _, ref := range users {
		u, err := r.member(ref, tenant.ID)
		if ErrorReason(err) == ReasonUnavailableIDs {
			bad = append(bad, ref.Value)
			continue
		} else if err != nil {
			return ChatView{}, err
		}
		members = append(members, u)
	}
	for _, cr := range corpUsers {
		if !reachable(links, tenant.Key, cr.Corp, in.InterconnectOnly) {
			bad = append(bad, cr.Corp+"/"+cr.Ref.Value)
			continue
		}
		corp, err := tx.TenantByKey(app.Platform, cr.Corp)
		if err != nil {
			return ChatView{}, err
		}
		u, err := r.member(cr.Ref, corp.ID)
		if ErrorReason(err) == ReasonUnavailableIDs {
			bad = append(bad, cr.Corp+"/"+cr.Ref.Value)
			continue
		} else if err != nil {
			return ChatView{}, err
		}
		members = append(members, u)
	}
	if len(bad) > 0 {
		return ChatView{}, &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, IDs: bad, Message: "these IDs name no reachable member"}
	}
	members = dedupeUsers(append(members, kept...), initiator.ID)

	now := s.now()
	chat := Chat{
		ChatID: rules.newChatID(), Class: CorpGroup, Platform: app.Platform, TenantID: tenant.ID, CreatorApp: app.ID,
		OwnerUser: initiator.ID, Name: in.Name, Settings: DefaultSettings(), External: len(corpUsers)+len(kept) > 0,
		Status: Normal, CreatedAt: now, UpdatedAt: now,
	}
	joining := []Member{{User: initiator.ID, Role: RoleOwner, JoinedAt: now}}
	for _, u := range members {
		joining = append(joining, Member{User: u.ID, Role: RoleMember, JoinedAt: now})
	}
	tx.Last() // the insert is the update's last call
	if err := tx.CreateChatWithMembers(&chat, joining); err != nil {
		return ChatView{}, err
	}
	return ChatView{Chat: chat, Tenant: tenant, Owner: &initiator}, nil
}

// member resolves ref to an active member of the tenant tenantID.
func (r *resolver) member(ref Ref, tenantID int64) (User, error) {
	unavailable := &Error{Code: EInvalid, Reason: ReasonUnavailableIDs, IDs: []string{ref.Value}, Message: "the ID names no member"}
	var (
		u   User
		err error
	)
	switch ref.Kind {
	case OpenUserID:
		u, err = r.tx.UserByAlias(OpenUserID, r.actor.App.Developer, ref.Value)
	default:
		u, err = r.tx.UserByUserID(tenantID, ref.Value)
	}
	if ErrorCode(err) == ENotFound {
		return User{}, unavailable
	} else if err != nil {
		return User{}, err
	}
	if u.TenantID != tenantID || u.Kind != MemberUser || u.Status != Active {
		return User{}, unavailable
	}
	return u, nil
}

// reachable reports whether a member of corporation from may be put in a
// chat with members of corporation to through one of links.
func reachable(links []Link, from, to string, interconnectOnly bool) bool {
	for _, l := range links {
		if interconnectOnly && l.Kind != Interconnect {
			continue
		}
		if l.Sees(from, to) {
			return true
		}
	}
	return false
}

// initiatorRef is how refs would name the initiator, to leave it out.
func initiatorRef(refs []Ref, u User) Ref {
	for _, r := range refs {
		if r.Kind == OpenUserID {
			for _, a := range u.Aliases {
				if a.Kind == OpenUserID && a.Value == r.Value {
					return r
				}
			}
		}
	}
	return Ref{Kind: UserID, Value: u.UserID}
}

// distinct returns xs without repeats and without drop, in first-seen order.
func distinct[T comparable](xs []T, drop ...T) []T {
	seen := make(map[T]bool, len(xs)+len(drop))
	for _, d := range drop {
		seen[d] = true
	}
	var out []T
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// dedupeUsers drops repeated users and the user skip.
func dedupeUsers(users []User, skip int64) []User {
	seen := map[int64]bool{skip: true}
	var out []User
	for _, u := range users {
		if !seen[u.ID] {
			seen[u.ID] = true
			out = append(out, u)
		}
	}
	return out
}
