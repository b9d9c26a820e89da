package qun

import (
	"context"
	"time"
)

// ChatDetail is a chat as an operator inspects it, whatever dialect created
// it: the chat, its tenant, creator and members.
type ChatDetail struct {
	Chat
	Tenant  string         `json:"tenant"`
	Creator string         `json:"creator_app,omitempty"`
	Members []MemberDetail `json:"members"`
}

// MemberDetail is one member of a ChatDetail: a user (User set) or a bot
// (Bot set to its app key).
type MemberDetail struct {
	Role     Role      `json:"role"`
	User     *UserRef  `json:"user,omitempty"`
	Bot      string    `json:"bot,omitempty"`
	Name     string    `json:"name"`
	JoinedAt time.Time `json:"joined_at"`
}

// ChatDetails lists the chats matching f with their members.
func (s *Service) ChatDetails(ctx context.Context, f ChatFilter) ([]ChatDetail, error) {
	var out []ChatDetail
	err := s.store.View(ctx, func(tx Tx) error {
		chats, err := tx.Chats(f)
		if err != nil {
			return err
		}
		d := detailer{tx: tx, tenants: map[int64]Tenant{}, apps: map[int64]App{}}
		for _, c := range chats {
			cd, err := d.detail(c)
			if err != nil {
				return err
			}
			out = append(out, cd)
		}
		return nil
	})
	return out, err
}

// ChatDetailByID returns one chat, found by its platform chat ID.
func (s *Service) ChatDetailByID(ctx context.Context, chatID string) (ChatDetail, error) {
	var out ChatDetail
	err := s.store.View(ctx, func(tx Tx) error {
		c, err := tx.ChatByChatID(chatID)
		if err != nil {
			return err
		}
		d := detailer{tx: tx, tenants: map[int64]Tenant{}, apps: map[int64]App{}}
		out, err = d.detail(c)
		return err
	})
	return out, err
}

// detailer builds ChatDetails, caching tenants and apps.
type detailer struct {
	tx      Tx
	tenants map[int64]Tenant
	apps    map[int64]App
}

func (d detailer) tenant(id int64) (Tenant, error) {
	if t, ok := d.tenants[id]; ok {
		return t, nil
	}
	t, err := d.tx.Tenant(id)
	d.tenants[id] = t
	return t, err
}

func (d detailer) app(id int64) (App, error) {
	if a, ok := d.apps[id]; ok {
		return a, nil
	}
	a, err := d.tx.App(id)
	d.apps[id] = a
	return a, err
}

func (d detailer) detail(c Chat) (ChatDetail, error) {
	members, err := d.tx.Members(MemberFilter{Chat: c.ID})
	if err != nil {
		return ChatDetail{}, err
	}
	return d.detailOf(c, members)
}

// detailOf names a chat's members (some of them: a page).
func (d detailer) detailOf(c Chat, members []Member) (ChatDetail, error) {
	t, err := d.tenant(c.TenantID)
	if err != nil {
		return ChatDetail{}, err
	}
	cd := ChatDetail{Chat: c, Tenant: t.Key, Members: []MemberDetail{}}
	if c.CreatorApp != 0 {
		if a, err := d.app(c.CreatorApp); err == nil {
			cd.Creator = a.Key
		}
	}
	var ids []int64
	for _, m := range members {
		if m.User != 0 {
			ids = append(ids, m.User)
		}
	}
	users, err := d.tx.UsersByID(ids)
	if err != nil {
		return ChatDetail{}, err
	}
	byID := map[int64]User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	for _, m := range members {
		md := MemberDetail{Role: m.Role, JoinedAt: m.JoinedAt}
		if m.IsBot() {
			a, err := d.app(m.App)
			if err != nil {
				return ChatDetail{}, err
			}
			md.Bot, md.Name = a.Key, a.Name
		} else {
			u := byID[m.User]
			ut, err := d.tenant(u.TenantID)
			if err != nil {
				return ChatDetail{}, err
			}
			md.User = &UserRef{Platform: ut.Platform, Tenant: ut.Key, UserID: u.UserID}
			md.Name = u.Name
		}
		cd.Members = append(cd.Members, md)
	}
	return cd, nil
}

// ChatSummary is a chat as a listing shows it: its tenant and how many
// users and bots it has, not who.
type ChatSummary struct {
	Chat
	Tenant      string
	Users, Bots int
}

// ChatSummaries lists chats with their member counts (a page of a
// listing: the counts are read per chat).
func (s *Service) ChatSummaries(ctx context.Context, f ChatFilter) ([]ChatSummary, error) {
	var out []ChatSummary
	err := s.store.View(ctx, func(tx Tx) error {
		chats, err := tx.Chats(f)
		if err != nil {
			return err
		}
		d := detailer{tx: tx, tenants: map[int64]Tenant{}, apps: map[int64]App{}}
		for _, c := range chats {
			t, err := d.tenant(c.TenantID)
			if err != nil {
				return err
			}
			users, bots, err := tx.CountMembers(c.ID)
			if err != nil {
				return err
			}
			out = append(out, ChatSummary{Chat: c, Tenant: t.Key, Users: users, Bots: bots})
		}
		return nil
	})
	return out, err
}

// ChatMembers is a chat with one page of its members (in join order, after
// the member of join sequence after) and its member counts; next is the
// sequence to continue from (0: no more).
type ChatMembers struct {
	ChatDetail
	Users, Bots int
	Next        int64
}

// ChatDetailPage reads a chat (by any of its IDs) with a page of limit
// members.
func (s *Service) ChatDetailPage(ctx context.Context, chatID string, after int64, limit int) (ChatMembers, error) {
	var out ChatMembers
	err := s.store.View(ctx, func(tx Tx) error {
		c, err := tx.ChatByChatID(chatID)
		if ErrorCode(err) == ENotFound {
			c, err = tx.ChatByConversationID(chatID)
		}
		if ErrorCode(err) == ENotFound {
			return Errorf(ENotFound, ReasonChatNotFound, "no chat %q", chatID)
		} else if err != nil {
			return err
		}
		d := detailer{tx: tx, tenants: map[int64]Tenant{}, apps: map[int64]App{}}
		members, err := tx.Members(MemberFilter{Chat: c.ID, After: after, Limit: limit + 1})
		if err != nil {
			return err
		}
		if len(members) > limit {
			members, out.Next = members[:limit], members[limit-1].Seq
		}
		if out.ChatDetail, err = d.detailOf(c, members); err != nil {
			return err
		}
		out.Users, out.Bots, err = tx.CountMembers(c.ID)
		return err
	})
	return out, err
}

// LiveTokens lists up to limit unexpired tokens, tickets, codes and
// sessions, the latest to expire first: which app holds what, until when.
func (s *Service) LiveTokens(ctx context.Context, limit int) ([]Token, error) {
	var out []Token
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.LiveTokens(s.now(), limit)
		return err
	})
	return out, err
}
