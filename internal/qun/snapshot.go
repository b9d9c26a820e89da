package qun

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Snapshots. The whole state a test builds (the directory with its apps'
// subscriptions, chats, members and messages) as one document in public
// identifiers only, in a stable order: exported from one store and
// imported into an empty one of any kind, it exports again byte for byte.
// Tokens, dedupe claims, the event outbox and the journal are not part of
// it: they are the traffic, not the state.

// SnapshotVersion is the version of the document Export writes.
const SnapshotVersion = 1

// Snapshot is the state of a deployment.
type Snapshot struct {
	Version     int              `json:"qun_snapshot"`
	Tenants     []SnapshotTenant `json:"tenants"`
	Friendships [][2]string      `json:"friendships"`
	Links       []Link           `json:"links"`
	Chats       []SnapshotChat   `json:"chats"`
}

// SnapshotTenant is a tenant with its apps and users.
type SnapshotTenant struct {
	Tenant Tenant `json:"tenant"`
	Apps   []App  `json:"apps"`
	Users  []User `json:"users"`
}

// SnapshotChat is a chat with its members and messages. Users are named
// as "platform:tenant/user_id" (UserRef), bots by app key.
type SnapshotChat struct {
	Chat      Chat              `json:"chat"`
	Tenant    string            `json:"tenant"`
	Creator   string            `json:"creator_app,omitempty"`
	OwnerUser string            `json:"owner_user,omitempty"`
	OwnerApp  string            `json:"owner_app,omitempty"`
	Members   []SnapshotMember  `json:"members"`
	Messages  []SnapshotMessage `json:"messages"`
}

// SnapshotMember is a member of a chat.
type SnapshotMember struct {
	User     string    `json:"user,omitempty"`
	App      string    `json:"app,omitempty"`
	Role     Role      `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// SnapshotMessage is a message with its sender and mentions named.
type SnapshotMessage struct {
	Message    Message           `json:"message"`
	SenderUser string            `json:"sender_user,omitempty"`
	SenderApp  string            `json:"sender_app,omitempty"`
	Mentions   []SnapshotMention `json:"mentions,omitempty"`
}

// SnapshotMention is a mention in a message.
type SnapshotMention struct {
	Key  string `json:"key"`
	User string `json:"user,omitempty"`
	App  string `json:"app,omitempty"`
	All  bool   `json:"all,omitempty"`
	Name string `json:"name"`
}

// snapshotPage is how many chats, members or messages are read at once.
const snapshotPage = 1000

// Export reads the whole state, in one transaction.
func (s *Service) Export(ctx context.Context) (Snapshot, error) {
	out := Snapshot{Version: SnapshotVersion, Friendships: [][2]string{}, Links: []Link{}, Tenants: []SnapshotTenant{}, Chats: []SnapshotChat{}}
	err := s.store.View(ctx, func(tx Tx) error {
		n := namer{tx: tx, users: map[int64]string{}, apps: map[int64]string{}, tenants: map[int64]Tenant{}}
		friends := map[[2]string]bool{}
		for _, p := range Platforms {
			ts, err := tx.Tenants(p)
			if err != nil {
				return err
			}
			for _, t := range ts {
				st := SnapshotTenant{Tenant: t, Apps: []App{}, Users: []User{}}
				if st.Apps, err = tx.Apps(p, t.ID); err != nil {
					return err
				}
				users, err := tx.Users(p, t.ID)
				if err != nil {
					return err
				}
				for _, u := range users {
					slices.SortFunc(u.Aliases, func(a, b Alias) int {
						return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Value, b.Value))
					})
					st.Users = append(st.Users, u)
					ids, err := tx.FriendsOf(u.ID)
					if err != nil {
						return err
					}
					for _, f := range ids {
						a, err := n.user(u.ID)
						if err != nil {
							return err
						}
						b, err := n.user(f)
						if err != nil {
							return err
						}
						if a > b {
							a, b = b, a
						}
						friends[[2]string{a, b}] = true
					}
				}
				slices.SortFunc(st.Apps, func(a, b App) int { return cmp.Compare(a.Key, b.Key) })
				slices.SortFunc(st.Users, func(a, b User) int { return cmp.Compare(a.UserID, b.UserID) })
				out.Tenants = append(out.Tenants, st)
			}
			links, err := tx.Links(p)
			if err != nil {
				return err
			}
			out.Links = append(out.Links, links...)
		}
		slices.SortFunc(out.Tenants, func(a, b SnapshotTenant) int {
			return cmp.Or(cmp.Compare(a.Tenant.Platform, b.Tenant.Platform), cmp.Compare(a.Tenant.Key, b.Tenant.Key))
		})
		slices.SortFunc(out.Links, func(a, b Link) int { return cmp.Or(cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Key, b.Key)) })
		for f := range friends {
			out.Friendships = append(out.Friendships, f)
		}
		slices.SortFunc(out.Friendships, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
		for after := int64(0); ; {
			chats, err := tx.Chats(ChatFilter{After: ChatCursor{ID: after}, Limit: snapshotPage})
			if err != nil {
				return err
			}
			for _, c := range chats {
				sc, err := n.chat(c)
				if err != nil {
					return err
				}
				out.Chats = append(out.Chats, sc)
			}
			if len(chats) < snapshotPage {
				break
			}
			after = chats[len(chats)-1].ID
		}
		slices.SortFunc(out.Chats, func(a, b SnapshotChat) int { return cmp.Compare(a.Chat.ChatID, b.Chat.ChatID) })
		return nil
	})
	return out, err
}

// namer names users, apps and tenants by their public identifiers.
type namer struct {
	tx      Tx
	users   map[int64]string
	apps    map[int64]string
	tenants map[int64]Tenant
}

func (n namer) tenant(id int64) (Tenant, error) {
	if t, ok := n.tenants[id]; ok {
		return t, nil
	}
	t, err := n.tx.Tenant(id)
	n.tenants[id] = t
	return t, err
}

func (n namer) user(id int64) (string, error) {
	if r, ok := n.users[id]; ok {
		return r, nil
	}
	u, err := n.tx.User(id)
	if err != nil {
		return "", err
	}
	t, err := n.tenant(u.TenantID)
	if err != nil {
		return "", err
	}
	r := UserRef{Platform: t.Platform, Tenant: t.Key, UserID: u.UserID}.String()
	n.users[id] = r
	return r, nil
}

func (n namer) app(id int64) (string, error) {
	if id == 0 {
		return "", nil
	}
	if k, ok := n.apps[id]; ok {
		return k, nil
	}
	a, err := n.tx.App(id)
	if err != nil {
		return "", err
	}
	t, err := n.tenant(a.TenantID)
	if err != nil {
		return "", err
	}
	// App keys repeat across WeCom corporations: a key names an app with
	// its tenant.
	k := t.Key + "/" + a.Key
	n.apps[id] = k
	return k, nil
}

func (n namer) chat(c Chat) (SnapshotChat, error) {
	t, err := n.tenant(c.TenantID)
	if err != nil {
		return SnapshotChat{}, err
	}
	sc := SnapshotChat{Chat: c, Tenant: t.Key, Members: []SnapshotMember{}, Messages: []SnapshotMessage{}}
	if sc.Creator, err = n.app(c.CreatorApp); err != nil {
		return sc, err
	}
	if sc.OwnerApp, err = n.app(c.OwnerApp); err != nil {
		return sc, err
	}
	if c.OwnerUser != 0 {
		if sc.OwnerUser, err = n.user(c.OwnerUser); err != nil {
			return sc, err
		}
	}
	for after := int64(0); ; {
		ms, err := n.tx.Members(MemberFilter{Chat: c.ID, After: after, Limit: snapshotPage})
		if err != nil {
			return sc, err
		}
		for _, m := range ms {
			sm := SnapshotMember{Role: m.Role, JoinedAt: m.JoinedAt}
			if m.User != 0 {
				sm.User, err = n.user(m.User)
			} else {
				sm.App, err = n.app(m.App)
			}
			if err != nil {
				return sc, err
			}
			sc.Members = append(sc.Members, sm)
		}
		if len(ms) < snapshotPage {
			break
		}
		after = ms[len(ms)-1].Seq
	}
	var cursor *MessageCursor
	for {
		ms, err := n.tx.Messages(MessageFilter{Chat: c.ID, After: cursor, Limit: snapshotPage})
		if err != nil {
			return sc, err
		}
		for _, m := range ms {
			sm := SnapshotMessage{Message: m}
			if m.SenderUser != 0 {
				sm.SenderUser, err = n.user(m.SenderUser)
			} else {
				sm.SenderApp, err = n.app(m.SenderApp)
			}
			if err != nil {
				return sc, err
			}
			for _, x := range m.Mentions {
				sx := SnapshotMention{Key: x.Key, All: x.All, Name: x.Name}
				switch {
				case x.User != 0:
					sx.User, err = n.user(x.User)
				case x.App != 0:
					sx.App, err = n.app(x.App)
				}
				if err != nil {
					return sc, err
				}
				sm.Mentions = append(sm.Mentions, sx)
			}
			sm.Message.SenderUser, sm.Message.SenderApp, sm.Message.Mentions = 0, 0, nil
			sc.Messages = append(sc.Messages, sm)
		}
		if len(ms) < snapshotPage {
			break
		}
		last := ms[len(ms)-1]
		cursor = &MessageCursor{At: last.CreatedAt, ID: last.ID}
	}
	return sc, nil
}

// Restore replaces the whole state with a snapshot's, in one transaction
// (as Reset does with fixtures); the directory's caches are renewed on
// every node.
func (s *Service) Restore(ctx context.Context, snap Snapshot) error {
	return s.importSnapshot(ctx, snap, true)
}

// Import loads a snapshot into a store with no tenants, in one
// transaction.
func (s *Service) Import(ctx context.Context, snap Snapshot) error {
	return s.importSnapshot(ctx, snap, false)
}

func (s *Service) importSnapshot(ctx context.Context, snap Snapshot, wipe bool) error {
	if snap.Version != SnapshotVersion {
		return Invalid(ReasonField, "qun_snapshot", fmt.Sprintf("snapshot version %d: this qun reads version %d", snap.Version, SnapshotVersion))
	}
	return s.updateDirectory(ctx, func(tx Tx) error {
		if wipe {
			if err := tx.Reset(); err != nil {
				return err
			}
			if err := tx.SetMeta(metaFixtures, "snapshot"); err != nil {
				return err
			}
		}
		if ts, err := tx.Tenants(""); err != nil {
			return err
		} else if len(ts) > 0 {
			return Errorf(EConflict, ReasonField, "the store is not empty: import into an empty one, or restore")
		}
		d := Directory{Links: snap.Links}
		for _, st := range snap.Tenants {
			d.Tenants = append(d.Tenants, TenantDirectory(st))
		}
		for _, f := range snap.Friendships {
			a, err := parseRef(f[0])
			if err != nil {
				return err
			}
			b, err := parseRef(f[1])
			if err != nil {
				return err
			}
			d.Friendships = append(d.Friendships, Friendship{A: a, B: b})
		}
		if err := loadDirectory(tx, d); err != nil {
			return err
		}
		r := refs{tx: tx, tenants: map[string]Tenant{}}
		for _, sc := range snap.Chats {
			if err := r.chat(sc); err != nil {
				return fmt.Errorf("chat %s: %w", sc.Chat.ChatID, err)
			}
		}
		return nil
	})
}

func parseRef(s string) (UserRef, error) {
	p, rest, ok := strings.Cut(s, ":")
	tenant, user, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return UserRef{}, Invalid(ReasonField, "user", fmt.Sprintf("%q is no platform:tenant/user_id", s))
	}
	return UserRef{Platform: Platform(p), Tenant: tenant, UserID: user}, nil
}

// refs resolves a snapshot's public identifiers in the store.
type refs struct {
	tx      Tx
	tenants map[string]Tenant
}

func (r refs) tenant(p Platform, key string) (Tenant, error) {
	k := string(p) + ":" + key
	if t, ok := r.tenants[k]; ok {
		return t, nil
	}
	t, err := r.tx.TenantByKey(p, key)
	r.tenants[k] = t
	return t, err
}

func (r refs) user(ref string) (int64, error) {
	u, err := parseRef(ref)
	if err != nil {
		return 0, err
	}
	t, err := r.tenant(u.Platform, u.Tenant)
	if err != nil {
		return 0, fmt.Errorf("user %s: %w", ref, err)
	}
	x, err := r.tx.UserByUserID(t.ID, u.UserID)
	if err != nil {
		return 0, fmt.Errorf("user %s: %w", ref, err)
	}
	return x.ID, nil
}

func (r refs) app(p Platform, ref string) (int64, error) {
	if ref == "" {
		return 0, nil
	}
	tenant, key, ok := strings.Cut(ref, "/")
	if !ok {
		return 0, Invalid(ReasonField, "app", fmt.Sprintf("%q is no tenant/app_key", ref))
	}
	t, err := r.tenant(p, tenant)
	if err != nil {
		return 0, fmt.Errorf("app %s: %w", ref, err)
	}
	a, err := r.tx.AppByKey(p, t.ID, key)
	if err != nil {
		return 0, fmt.Errorf("app %s: %w", ref, err)
	}
	return a.ID, nil
}

func (r refs) chat(sc SnapshotChat) error {
	c := sc.Chat
	p := c.Platform
	t, err := r.tenant(p, sc.Tenant)
	if err != nil {
		return err
	}
	c.ID, c.TenantID = 0, t.ID
	if c.CreatorApp, err = r.app(p, sc.Creator); err != nil {
		return err
	}
	if c.OwnerApp, err = r.app(p, sc.OwnerApp); err != nil {
		return err
	}
	if sc.OwnerUser != "" {
		if c.OwnerUser, err = r.user(sc.OwnerUser); err != nil {
			return err
		}
	}
	var members []Member
	for _, m := range sc.Members {
		x := Member{Role: m.Role, JoinedAt: m.JoinedAt}
		if m.User != "" {
			x.User, err = r.user(m.User)
		} else {
			x.App, err = r.app(p, m.App)
		}
		if err != nil {
			return err
		}
		members = append(members, x)
	}
	if err := r.tx.CreateChatWithMembers(&c, members); err != nil {
		return err
	}
	for _, sm := range sc.Messages {
		m := sm.Message
		m.ID, m.Chat, m.ChatID, m.Platform = 0, c.ID, c.ChatID, p
		if sm.SenderUser != "" {
			m.SenderUser, err = r.user(sm.SenderUser)
		} else {
			m.SenderApp, err = r.app(p, sm.SenderApp)
		}
		if err != nil {
			return err
		}
		for _, sx := range sm.Mentions {
			x := Mention{Key: sx.Key, All: sx.All, Name: sx.Name}
			switch {
			case sx.User != "":
				x.User, err = r.user(sx.User)
			case sx.App != "":
				x.App, err = r.app(p, sx.App)
			}
			if err != nil {
				return err
			}
			m.Mentions = append(m.Mentions, x)
		}
		if err := r.tx.AddMessage(&m); err != nil {
			return err
		}
	}
	return nil
}
