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
	members, err := d.tx.Members(MemberFilter{Chat: c.ID})
	if err != nil {
		return ChatDetail{}, err
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
