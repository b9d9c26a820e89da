package qun

import (
	"context"
	"slices"
)

// UserAction is something a user does to a chat in the platform's client:
// what a bot cannot do through the API but must hear of. The admin API
// simulates them so that tests can make them happen.
type UserAction struct {
	ChatID string
	// User acts: a user ID of the chat's tenant.
	User string
	Kind UserActionKind
	// Users are the users added, removed, or (Transfer) the new owner.
	Users []string
	// Name is the new name (Rename).
	Name string
}

// UserActionKind is what a user does.
type UserActionKind string

// User actions.
const (
	ActJoin     UserActionKind = "join"     // joins by a share link or QR code
	ActAdd      UserActionKind = "add"      // invites Users
	ActLeave    UserActionKind = "leave"    // leaves
	ActRemove   UserActionKind = "remove"   // removes Users (owner, manager)
	ActRename   UserActionKind = "rename"   // renames the chat to Name
	ActTransfer UserActionKind = "transfer" // hands the chat to Users[0] (owner)
	ActDissolve UserActionKind = "dissolve" // dissolves the chat (owner)
)

// Simulate performs a user's action in the client, with the client's
// rules (who may do what), and tells the bots as the platform would.
func (s *Service) Simulate(ctx context.Context, in UserAction) (Chat, error) {
	if !slices.Contains(UserActionKinds, in.Kind) {
		return Chat{}, Invalid(ReasonField, "action", "action must be one of "+joinKinds())
	}
	var out Chat
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := tx.ChatByChatID(in.ChatID)
		if err != nil {
			return Errorf(ENotFound, ReasonChatNotFound, "no chat %q", in.ChatID)
		}
		if err := tx.LockChat(c.ID); err != nil {
			return err
		}
		if c, err = tx.Chat(c.ID); err != nil {
			return err
		}
		if c.Status == Dissolved {
			return Errorf(EInvalid, ReasonChatDissolved, "the chat is dissolved")
		}
		u, err := tx.UserByUserID(c.TenantID, in.User)
		if err != nil {
			return Errorf(ENotFound, ReasonNotExisted, "no user %q in the chat's tenant", in.User)
		}
		m, err := tx.Member(c.ID, u.ID, 0)
		member := err == nil
		if err != nil && ErrorCode(err) != ENotFound {
			return err
		}
		if !member && in.Kind != ActJoin {
			return Errorf(EForbidden, ReasonNotInChat, "%s is not in the chat", in.User)
		}
		admin := member && (m.Role == RoleOwner || m.Role == RoleManager)
		now := s.now()
		op := operatorOf{user: u.ID, source: FromClient}
		var changes []Change
		targets := func() ([]User, error) {
			if len(in.Users) == 0 {
				return nil, Invalid(ReasonNoValidMembers, "users", "name the users")
			}
			us, err := tx.UsersByUserID(c.TenantID, in.Users)
			if err != nil {
				return nil, err
			}
			if len(us) != len(in.Users) {
				return nil, Errorf(EInvalid, ReasonNotExisted, "some users name nobody in the chat's tenant")
			}
			return us, nil
		}
		switch in.Kind {
		case ActJoin, ActAdd:
			join := []User{u}
			if in.Kind == ActAdd {
				if c.Settings.WhoCanAddMembers != Everyone && !admin {
					return Errorf(EForbidden, ReasonNeedAdmin, "only the owner and managers may add members to this chat")
				}
				if join, err = targets(); err != nil {
					return err
				}
			} else if member {
				return Errorf(EInvalid, ReasonNoValidMembers, "%s is in the chat already", in.User)
			}
			var ms []Member
			var added []User
			for _, j := range join {
				if j.Status == Resigned {
					return Errorf(EInvalid, ReasonUserResigned, "%s has resigned", j.UserID)
				}
				ms = append(ms, Member{Chat: c.ID, User: j.ID, Role: RoleMember, JoinedAt: now})
			}
			ok, err := tx.AddMembers(ms)
			if err != nil {
				return err
			}
			for i, j := range join {
				if ok[i] {
					added = append(added, j)
				}
			}
			if len(added) == 0 {
				return Errorf(EInvalid, ReasonNoValidMembers, "everyone named is in the chat already")
			}
			users, _, err := tx.CountMembers(c.ID)
			if err != nil {
				return err
			}
			if users > rulesOf[c.Platform].maxMembers {
				return Errorf(EInvalid, ReasonTooManyMembers, "a chat holds at most %d users", rulesOf[c.Platform].maxMembers)
			}
			ch := op.change(UsersAdded, c, now)
			for _, a := range added {
				ch.Users = append(ch.Users, a.ID)
			}
			changes = append(changes, ch)
		case ActLeave, ActRemove:
			leave := []User{u}
			kind := UsersLeft
			if in.Kind == ActRemove {
				if !admin {
					return Errorf(EForbidden, ReasonCannotRemove, "only the owner and managers may remove others")
				}
				if leave, err = targets(); err != nil {
					return err
				}
				kind = UsersRemoved
			}
			ch := op.change(kind, c, now)
			for _, l := range leave {
				if l.ID == c.OwnerUser {
					return Errorf(EForbidden, ReasonOwnerCannotLeave, "the owner cannot leave or be removed; transfer the chat first")
				}
				gone, err := tx.RemoveMember(c.ID, l.ID, 0)
				if err != nil {
					return err
				}
				if !gone {
					return Errorf(EInvalid, ReasonNotMember, "%s is not in the chat", l.UserID)
				}
				ch.Users = append(ch.Users, l.ID)
			}
			changes = append(changes, ch)
		case ActRename:
			if c.Settings.WhoCanEdit != Everyone && !admin {
				return Errorf(EForbidden, ReasonEditOwnersOnly, "only the owner and managers may edit this chat")
			}
			if in.Name == "" {
				return Invalid(ReasonField, "name", "the new name is required")
			}
			before := c
			c.Name = in.Name
			ch := op.change(ChatUpdated, c, now)
			ch.Before = before
			changes = append(changes, ch)
		case ActTransfer:
			if m.Role != RoleOwner {
				return Errorf(EForbidden, ReasonNeedOwner, "only the owner may transfer the chat")
			}
			to, err := targets()
			if err != nil {
				return err
			}
			if _, err := tx.Member(c.ID, to[0].ID, 0); err != nil {
				return Errorf(EInvalid, ReasonNewOwnerNotInChat, "%s is not in the chat", to[0].UserID)
			}
			before := c
			if err := tx.UpdateMember(Member{Chat: c.ID, User: u.ID, Role: RoleMember}); err != nil {
				return err
			}
			if err := tx.UpdateMember(Member{Chat: c.ID, User: to[0].ID, Role: RoleOwner}); err != nil {
				return err
			}
			c.OwnerUser, c.OwnerApp = to[0].ID, 0
			ch := op.change(ChatUpdated, c, now)
			ch.Before = before
			changes = append(changes, ch)
		case ActDissolve:
			if m.Role != RoleOwner {
				return Errorf(EForbidden, ReasonNeedOwner, "only the owner may dissolve the chat")
			}
			c.Status = Dissolved
			changes = append(changes, op.change(ChatDisbanded, c, now))
		default:
			return Invalid(ReasonField, "action", "action must be one of "+joinKinds())
		}
		c.UpdatedAt = now
		if err := tx.UpdateChat(c); err != nil {
			return err
		}
		for i := range changes {
			changes[i].Chat = c
		}
		out = c
		return s.emit(tx, changes...)
	})
	return out, err
}

// UserActionKinds lists the actions Simulate knows.
var UserActionKinds = []UserActionKind{ActJoin, ActAdd, ActLeave, ActRemove, ActRename, ActTransfer, ActDissolve}

func joinKinds() string {
	var s string
	for i, k := range UserActionKinds {
		if i > 0 {
			s += ", "
		}
		s += string(k)
	}
	return s
}
