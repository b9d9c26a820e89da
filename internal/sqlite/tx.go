package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlstore"
)

// Tenants.

func (tx *tx) CreateTenant(t *qun.Tenant) error {
	res, err := tx.exec(`INSERT INTO tenants (platform, key, data) VALUES (?, ?, ?)`, t.Platform, t.Key, sqlstore.Encode(t))
	if err != nil {
		return fail("tenant", err)
	}
	t.ID, err = res.LastInsertId()
	return err
}

func (tx *tx) UpdateTenant(t qun.Tenant) error {
	res, err := tx.exec(`UPDATE tenants SET key = ?, data = ? WHERE id = ?`, t.Key, sqlstore.Encode(t), t.ID)
	return affected("tenant", res, err)
}

func (tx *tx) Tenant(id int64) (qun.Tenant, error) {
	return tx.oneTenant(`WHERE id = ?`, id)
}

func (tx *tx) TenantByKey(p qun.Platform, key string) (qun.Tenant, error) {
	return tx.oneTenant(`WHERE platform = ? AND key = ?`, p, key)
}

func (tx *tx) Tenants(p qun.Platform) ([]qun.Tenant, error) {
	return tx.tenants(`WHERE ? IN ('', platform) ORDER BY id`, p)
}

func (tx *tx) oneTenant(where string, args ...any) (qun.Tenant, error) {
	ts, err := tx.tenants(where, args...)
	if err != nil {
		return qun.Tenant{}, err
	}
	if len(ts) == 0 {
		return qun.Tenant{}, fail("tenant", sql.ErrNoRows)
	}
	return ts[0], nil
}

func (tx *tx) tenants(where string, args ...any) ([]qun.Tenant, error) {
	rows, err := tx.query(sqlstore.TenantColumns+where, args...)
	if err != nil {
		return nil, fail("tenants", err)
	}
	defer rows.Close()
	out, err := sqlstore.Tenants(rows)
	return out, fail("tenants", err)
}

// Apps.

func (tx *tx) CreateApp(a *qun.App) error {
	res, err := tx.exec(`INSERT INTO apps (tenant_id, platform, key, data) VALUES (?, ?, ?, ?)`, a.TenantID, a.Platform, a.Key, sqlstore.Encode(a))
	if err != nil {
		return fail("app", err)
	}
	a.ID, err = res.LastInsertId()
	return err
}

func (tx *tx) UpdateApp(a qun.App) error {
	res, err := tx.exec(`UPDATE apps SET key = ?, data = ? WHERE id = ?`, a.Key, sqlstore.Encode(a), a.ID)
	return affected("app", res, err)
}

func (tx *tx) DeleteApp(id int64) error {
	res, err := tx.exec(`DELETE FROM apps WHERE id = ?`, id)
	return affected("app", res, err)
}

func (tx *tx) App(id int64) (qun.App, error) {
	return tx.oneApp(`WHERE id = ?`, id)
}

func (tx *tx) AppByKey(p qun.Platform, tenantID int64, key string) (qun.App, error) {
	return tx.oneApp(`WHERE platform = ? AND key = ? AND ? IN (0, tenant_id) ORDER BY id`, p, key, tenantID)
}

func (tx *tx) Apps(p qun.Platform, tenantID int64) ([]qun.App, error) {
	return tx.apps(`WHERE ? IN ('', platform) AND ? IN (0, tenant_id) ORDER BY id`, p, tenantID)
}

func (tx *tx) oneApp(where string, args ...any) (qun.App, error) {
	as, err := tx.apps(where+` LIMIT 1`, args...)
	if err != nil {
		return qun.App{}, err
	}
	if len(as) == 0 {
		return qun.App{}, fail("app", sql.ErrNoRows)
	}
	return as[0], nil
}

func (tx *tx) apps(where string, args ...any) ([]qun.App, error) {
	rows, err := tx.query(sqlstore.AppColumns+where, args...)
	if err != nil {
		return nil, fail("apps", err)
	}
	defer rows.Close()
	out, err := sqlstore.Apps(rows)
	return out, fail("apps", err)
}

// Users.

func (tx *tx) CreateUser(u *qun.User) error {
	doc := *u
	doc.Aliases = nil
	res, err := tx.exec(`INSERT INTO users (tenant_id, user_id, data) VALUES (?, ?, ?)`, u.TenantID, u.UserID, sqlstore.Encode(doc))
	if err != nil {
		return fail("user", err)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	return tx.AddAliases(u.ID, u.Aliases)
}

func (tx *tx) UpdateUser(u qun.User) error {
	doc := u
	doc.Aliases = nil
	res, err := tx.exec(`UPDATE users SET data = ? WHERE id = ?`, sqlstore.Encode(doc), u.ID)
	return affected("user", res, err)
}

func (tx *tx) AddAliases(user int64, aliases []qun.Alias) error {
	for _, a := range aliases {
		var holder int64
		err := tx.scanRow(`SELECT user_id FROM aliases WHERE kind = ? AND scope = ? AND value = ?`, []any{a.Kind, a.Scope, a.Value}, &holder)
		switch {
		case err == nil && holder == user:
			continue
		case err == nil:
			return &qun.Error{Code: qun.EConflict, Message: fmt.Sprintf("%s %s is held by another user", a.Kind, a.Value)}
		case err != sql.ErrNoRows:
			return fail("alias", err)
		}
		if _, err := tx.exec(`INSERT INTO aliases (kind, scope, value, user_id) VALUES (?, ?, ?, ?)`, a.Kind, a.Scope, a.Value, user); err != nil {
			return fail("alias "+string(a.Kind)+" "+a.Value, err)
		}
	}
	return nil
}

func (tx *tx) User(id int64) (qun.User, error) {
	return tx.oneUser(`u.id = ?`, id)
}

func (tx *tx) UsersByID(ids []int64) ([]qun.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return tx.users(`u.id IN (SELECT value FROM json_each(?))`, sqlstore.Encode(ids))
}

func (tx *tx) UserByUserID(tenantID int64, userID string) (qun.User, error) {
	return tx.oneUser(`u.tenant_id = ? AND u.user_id = ?`, tenantID, userID)
}

func (tx *tx) UserByAlias(kind qun.IDKind, scope, value string) (qun.User, error) {
	var id int64
	err := tx.scanRow(`SELECT user_id FROM aliases WHERE kind = ? AND value = ? AND ? IN ('', scope) LIMIT 1`, []any{kind, value, scope}, &id)
	if err != nil {
		return qun.User{}, fail("user", err)
	}
	return tx.User(id)
}

func (tx *tx) UsersByAlias(kind qun.IDKind, scope string, values []string) ([]qun.User, error) {
	if len(values) == 0 {
		return nil, nil
	}
	return tx.users(`u.id IN (SELECT user_id FROM aliases WHERE kind = ? AND scope = ? AND value IN (SELECT value FROM json_each(?)))`, kind, scope, sqlstore.Encode(values))
}

func (tx *tx) UsersByUserID(tenantID int64, userIDs []string) ([]qun.User, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	return tx.users(`u.tenant_id = ? AND u.user_id IN (SELECT value FROM json_each(?))`, tenantID, sqlstore.Encode(userIDs))
}

func (tx *tx) UsersAfter(p qun.Platform, tenantID, after int64, limit int) ([]qun.User, error) {
	// The page's users first (a LIMIT over users alone), then their
	// aliases: a LIMIT over the join would cut a user's aliases.
	where, args := `? IN ('', t.platform) AND u.id > ?`, []any{p, after}
	if tenantID != 0 {
		where, args = `u.tenant_id = ? AND u.id > ?`, []any{tenantID, after}
	}
	return tx.users(`u.id IN (SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE `+where+` ORDER BY u.id LIMIT ?)`, append(args, limit)...)
}

func (tx *tx) Users(p qun.Platform, tenantID int64) ([]qun.User, error) {
	return tx.users(`? IN ('', t.platform) AND ? IN (0, u.tenant_id)`, p, tenantID)
}

func (tx *tx) oneUser(where string, args ...any) (qun.User, error) {
	us, err := tx.users(where, args...)
	if err != nil {
		return qun.User{}, err
	}
	if len(us) == 0 {
		return qun.User{}, fail("user", sql.ErrNoRows)
	}
	return us[0], nil
}

// users loads the users matching where (over users u joined to tenants t)
// with their aliases, oldest first.
func (tx *tx) users(where string, args ...any) ([]qun.User, error) {
	rows, err := tx.query(sqlstore.UserColumns+where+sqlstore.UserOrder, args...)
	if err != nil {
		return nil, fail("users", err)
	}
	defer rows.Close()
	out, err := sqlstore.Users(rows)
	return out, fail("users", err)
}

// Friendships.

func (tx *tx) AddFriendship(a, b int64) error {
	if a > b {
		a, b = b, a
	}
	_, err := tx.exec(`INSERT INTO friendships (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING`, a, b)
	return fail("friendship", err)
}

func (tx *tx) Friends(a, b int64) (bool, error) {
	if a > b {
		a, b = b, a
	}
	var n int
	err := tx.scanRow(`SELECT count(*) FROM friendships WHERE a = ? AND b = ?`, []any{a, b}, &n)
	return n > 0, fail("friendship", err)
}

func (tx *tx) FriendsOf(user int64) ([]int64, error) {
	rows, err := tx.query(`SELECT b FROM friendships WHERE a = ? UNION SELECT a FROM friendships WHERE b = ? ORDER BY 1`, user, user)
	if err != nil {
		return nil, fail("friendships", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fail("friendships", err)
		}
		out = append(out, id)
	}
	return out, fail("friendships", rows.Err())
}

// Tokens.

func (tx *tx) PutToken(t qun.Token) error {
	_, err := tx.exec(`INSERT INTO tokens (token, kind, platform, app_key, tenant_key, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Value, t.Kind, t.Platform, t.AppKey, t.TenantKey, t.UserID, sqlstore.MS(t.IssuedAt), sqlstore.MS(t.ExpiresAt))
	return fail("token", err)
}

func (tx *tx) ConsumeToken(value string) (qun.Token, error) {
	t, err := tx.Token(value)
	if err != nil {
		return qun.Token{}, err
	}
	// One writer: the read and the delete cannot interleave with another
	// consumer's.
	res, err := tx.exec(`DELETE FROM tokens WHERE token = ?`, value)
	return t, affected("token", res, err)
}

func (tx *tx) ExtendToken(value string, expires time.Time) error {
	res, err := tx.exec(`UPDATE tokens SET expires_at = ? WHERE token = ?`, sqlstore.MS(expires), value)
	return affected("token", res, err)
}

func (tx *tx) Token(value string) (qun.Token, error) {
	return tx.token(`WHERE token = ?`, value)
}

func (tx *tx) LatestToken(kind qun.TokenKind, p qun.Platform, appKey, tenantKey, userID string) (qun.Token, error) {
	return tx.token(`WHERE platform = ? AND kind = ? AND app_key = ? AND tenant_key = ? AND user_id = ? ORDER BY expires_at DESC LIMIT 1`, p, kind, appKey, tenantKey, userID)
}

func (tx *tx) LiveTokens(now time.Time, limit int) ([]qun.Token, error) {
	rows, err := tx.query(sqlstore.TokenColumns+sqlstore.LiveTokensQuery, sqlstore.MS(now), limit)
	if err != nil {
		return nil, fail("tokens", err)
	}
	defer rows.Close()
	ts, err := sqlstore.Tokens(rows)
	return ts, fail("tokens", err)
}

func (tx *tx) token(where string, args ...any) (qun.Token, error) {
	var (
		t               qun.Token
		issued, expires int64
	)
	err := tx.scanRow(`SELECT token, kind, platform, app_key, tenant_key, user_id, issued_at, expires_at FROM tokens `+where, args,
		&t.Value, &t.Kind, &t.Platform, &t.AppKey, &t.TenantKey, &t.UserID, &issued, &expires)
	if err != nil {
		return qun.Token{}, fail("token", err)
	}
	t.IssuedAt, t.ExpiresAt = sqlstore.FromMS(issued), sqlstore.FromMS(expires)
	return t, nil
}

// Chats.

func isPublic(c *qun.Chat) bool { return c.Settings.Visibility == qun.Public }

func (tx *tx) CreateChat(c *qun.Chat) error {
	text := qun.SearchText(*c)
	res, err := tx.exec(`INSERT INTO chats (chat_id, conversation_id, platform, tenant_id, creator_app, owner_user, owner_app, name, status, public, search, active_at, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ChatID, sqlstore.NullString(c.ConversationID), c.Platform, c.TenantID, sqlstore.NullID(c.CreatorApp), sqlstore.NullID(c.OwnerUser), sqlstore.NullID(c.OwnerApp), c.Name, c.Status,
		isPublic(c), text, sqlstore.MS(c.UpdatedAt), sqlstore.Encode(c))
	if err != nil {
		return fail("chat", err)
	}
	if c.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	return tx.postGrams(c.ID, qun.SearchGrams(text))
}

// CreateChatWithMembers is CreateChat then AddMembers: one writer, so
// there is no round trip to save.
func (tx *tx) CreateChatWithMembers(c *qun.Chat, members []qun.Member) error {
	if err := tx.CreateChat(c); err != nil {
		return err
	}
	for i := range members {
		members[i].Chat = c.ID
	}
	_, err := tx.AddMembers(members)
	return err
}

// rarestGram picks, among a keyword's grams, the one posted for the fewest
// chats, counting each at most sqlstore.GramProbe far: the chats posted under it
// are the candidates Chats checks, so a rare gram keeps a search's cost
// that of its matches rather than of the store.
func (tx *tx) rarestGram(grams []string) (string, error) {
	if len(grams) <= 1 {
		return strings.Join(grams, ""), nil
	}
	best, fewest := "", sqlstore.GramProbe+1
	for _, g := range grams[:min(len(grams), sqlstore.MaxProbes)] {
		var n int
		if err := tx.scanRow(`SELECT count(*) FROM (SELECT 1 FROM chat_grams WHERE gram = ? LIMIT ?)`, []any{g, sqlstore.GramProbe}, &n); err != nil {
			return "", fail("chat search index", err)
		}
		if n < fewest {
			best, fewest = g, n
		}
		if n == 0 {
			break // nothing matches
		}
	}
	return best, nil
}

// postGrams posts a chat under grams, in one statement.
func (tx *tx) postGrams(chat int64, grams []string) error {
	if len(grams) == 0 {
		return nil
	}
	_, err := tx.exec(`INSERT OR IGNORE INTO chat_grams (gram, chat_id) SELECT value, ? FROM json_each(?)`, chat, sqlstore.Encode(grams))
	return fail("chat search index", err)
}

func (tx *tx) UpdateChat(c qun.Chat) error {
	var old string
	if err := tx.scanRow(`SELECT search FROM chats WHERE id = ?`, []any{c.ID}, &old); err != nil {
		return fail("chat", err)
	}
	text := qun.SearchText(c)
	res, err := tx.exec(`UPDATE chats SET owner_user = ?, owner_app = ?, name = ?, status = ?, public = ?, search = ?, active_at = ?, data = ? WHERE id = ?`,
		sqlstore.NullID(c.OwnerUser), sqlstore.NullID(c.OwnerApp), c.Name, c.Status, isPublic(&c), text, sqlstore.MS(c.UpdatedAt), sqlstore.Encode(c), c.ID)
	if err := affected("chat", res, err); err != nil {
		return err
	}
	if _, err := tx.exec(`UPDATE members SET active_at = ? WHERE chat_id = ? AND app_id IS NOT NULL`, sqlstore.MS(c.UpdatedAt), c.ID); err != nil {
		return fail("members", err)
	}
	if text == old {
		return nil
	}
	drop, add := qun.GramChanges(old, text)
	if len(drop) > 0 {
		if _, err := tx.exec(`DELETE FROM chat_grams WHERE chat_id = ? AND gram IN (SELECT value FROM json_each(?))`, c.ID, sqlstore.Encode(drop)); err != nil {
			return fail("chat search index", err)
		}
	}
	return tx.postGrams(c.ID, add)
}

func (tx *tx) Chat(id int64) (qun.Chat, error) {
	return tx.oneChat(`chats c WHERE c.id = ?`, id)
}

func (tx *tx) ChatByChatID(chatID string) (qun.Chat, error) {
	return tx.oneChat(`chats c WHERE c.chat_id = ?`, chatID)
}

func (tx *tx) ChatByConversationID(id string) (qun.Chat, error) {
	return tx.oneChat(`chats c WHERE c.conversation_id = ?`, id)
}

// LockChat does nothing: the one writer connection serialises updates.
func (tx *tx) LockChat(int64) error { return nil }

// dialect is how this store's SQL says what sqlstore.ChatQuery needs.
var dialect = sqlstore.Dialect{Public: `c.public = 1`, Contains: func(col string) string { return `instr(` + col + `, ?) > 0` }}

// Chats reads the chats f selects (sqlstore.ChatQuery), driven by the
// keyword's rarest gram when there is a keyword.
func (tx *tx) Chats(f qun.ChatFilter) ([]qun.Chat, error) {
	gram, err := tx.rarestGram(qun.KeyGrams(qun.SearchKey(f.Query)))
	if err != nil {
		return nil, err
	}
	q, args := sqlstore.ChatQuery(dialect, f, gram)
	return tx.chats(q, args...)
}

func (tx *tx) oneChat(where string, args ...any) (qun.Chat, error) {
	cs, err := tx.chats(where, args...)
	if err != nil {
		return qun.Chat{}, err
	}
	if len(cs) == 0 {
		return qun.Chat{}, fail("chat", sql.ErrNoRows)
	}
	return cs[0], nil
}

func (tx *tx) chats(where string, args ...any) ([]qun.Chat, error) {
	rows, err := tx.query(sqlstore.ChatColumns+where, args...)
	if err != nil {
		return nil, fail("chats", err)
	}
	defer rows.Close()
	out, err := sqlstore.Chats(rows)
	return out, fail("chats", err)
}

// Members.

func (tx *tx) AddMember(m qun.Member) (bool, error) {
	res, err := tx.exec(`INSERT INTO members (chat_id, user_id, app_id, role, joined_at, active_at)
		VALUES (?, ?, ?, ?, ?, (SELECT active_at FROM chats WHERE id = ?)) ON CONFLICT DO NOTHING`,
		m.Chat, sqlstore.NullID(m.User), sqlstore.NullID(m.App), m.Role, sqlstore.MS(m.JoinedAt), m.Chat)
	if err != nil {
		return false, fail("member", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// smallBatch is the size up to which AddMembers inserts row by row.
const smallBatch = 4

// memberRow is a member as AddMembers passes it to SQL.
type memberRow struct {
	User   *int64 `json:"u"`
	App    *int64 `json:"a"`
	Role   string `json:"r"`
	Joined int64  `json:"j"`
}

func (tx *tx) AddMembers(members []qun.Member) ([]bool, error) {
	if len(members) == 0 {
		return nil, nil
	}
	byChat := map[int64][]int{}
	var chats []int64
	for i, m := range members {
		if _, ok := byChat[m.Chat]; !ok {
			chats = append(chats, m.Chat)
		}
		byChat[m.Chat] = append(byChat[m.Chat], i)
	}
	added := make([]bool, len(members))
	for _, chat := range chats {
		idx := byChat[chat]
		if len(idx) <= smallBatch {
			// A few rows: single-row inserts, which need no statement
			// journal, cost less than one multi-row insert.
			for _, i := range idx {
				ok, err := tx.AddMember(members[i])
				if err != nil {
					return nil, err
				}
				added[i] = ok
			}
			continue
		}
		rows := make([]memberRow, len(idx))
		for j, i := range idx {
			m := members[i]
			rows[j] = memberRow{Role: string(m.Role), Joined: sqlstore.MS(m.JoinedAt)}
			if m.User != 0 {
				rows[j].User = &members[i].User
			} else {
				rows[j].App = &members[i].App
			}
		}
		tx.wrote = true
		// One statement for the chat's new members, in the order given
		// (json_each keeps it, so seq is the join order); RETURNING names
		// those inserted.
		res, err := tx.query(`INSERT INTO members (chat_id, user_id, app_id, role, joined_at, active_at)
			SELECT ?, json_extract(value, '$.u'), json_extract(value, '$.a'), json_extract(value, '$.r'), json_extract(value, '$.j'),
				(SELECT active_at FROM chats WHERE id = ?)
			FROM json_each(?) WHERE true ORDER BY key
			ON CONFLICT DO NOTHING
			RETURNING coalesce(user_id, 0), coalesce(app_id, 0)`, chat, chat, sqlstore.Encode(rows))
		if err != nil {
			return nil, fail("members", err)
		}
		inserted := map[[2]int64]bool{}
		for res.Next() {
			var u, a int64
			if err := res.Scan(&u, &a); err != nil {
				res.Close()
				return nil, fail("members", err)
			}
			inserted[[2]int64{u, a}] = true
		}
		if err := res.Close(); err != nil {
			return nil, fail("members", err)
		}
		if err := res.Err(); err != nil {
			return nil, fail("members", err)
		}
		for _, i := range idx {
			added[i] = inserted[[2]int64{members[i].User, members[i].App}]
		}
	}
	return added, nil
}

func (tx *tx) UpdateMember(m qun.Member) error {
	res, err := tx.exec(`UPDATE members SET role = ? WHERE chat_id = ? AND (user_id = ? OR app_id = ?)`, m.Role, m.Chat, m.User, m.App)
	return affected("member", res, err)
}

func (tx *tx) RemoveMember(chat, user, app int64) (bool, error) {
	res, err := tx.exec(`DELETE FROM members WHERE chat_id = ? AND (user_id = ? OR app_id = ?)`, chat, user, app)
	if err != nil {
		return false, fail("member", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (tx *tx) Member(chat, user, app int64) (qun.Member, error) {
	found, err := tx.members(`WHERE chat_id = ? AND (user_id = ? OR app_id = ?)`, chat, user, app)
	if err != nil {
		return qun.Member{}, err
	}
	if len(found) == 0 {
		return qun.Member{}, fail("member", sql.ErrNoRows)
	}
	return found[0], nil
}

func (tx *tx) MembersOf(chat int64, users, apps []int64) ([]qun.Member, error) {
	if len(users)+len(apps) == 0 {
		return nil, nil
	}
	return tx.members(`WHERE chat_id = ? AND (user_id IN (SELECT value FROM json_each(?)) OR app_id IN (SELECT value FROM json_each(?))) ORDER BY seq`,
		chat, sqlstore.Encode(sqlstore.OrEmpty(users)), sqlstore.Encode(sqlstore.OrEmpty(apps)))
}

func (tx *tx) Members(f qun.MemberFilter) ([]qun.Member, error) {
	q, args := sqlstore.MemberQuery(f)
	return tx.members(q, args...)
}

func (tx *tx) members(where string, args ...any) ([]qun.Member, error) {
	rows, err := tx.query(sqlstore.MemberColumns+where, args...)
	if err != nil {
		return nil, fail("members", err)
	}
	defer rows.Close()
	out, err := sqlstore.Members(rows)
	return out, fail("members", err)
}

func (tx *tx) CountMembers(chat int64) (users, bots int, err error) {
	err = tx.scanRow(`SELECT count(user_id), count(app_id) FROM members WHERE chat_id = ?`, []any{chat}, &users, &bots)
	return users, bots, fail("members", err)
}

func (tx *tx) Roster(chat int64) (qun.Roster, error) {
	rows, err := tx.query(sqlstore.RosterQuery, chat, chat, string(qun.RoleManager))
	if err != nil {
		return qun.Roster{}, fail("members", err)
	}
	defer rows.Close()
	r, err := sqlstore.Roster(rows)
	return r, fail("members", err)
}

// Dedupe.

func (tx *tx) ClaimDedupe(d qun.Dedupe, notBefore time.Time) (string, error) {
	_, err := tx.exec(`INSERT INTO dedupe (scope, key, chat_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET chat_id = excluded.chat_id, created_at = excluded.created_at
		WHERE dedupe.created_at < ?`, d.Scope, d.Key, d.ChatID, sqlstore.MS(d.CreatedAt), sqlstore.MS(notBefore))
	if err != nil {
		return "", fail("dedupe", err)
	}
	var holder string
	err = tx.scanRow(`SELECT chat_id FROM dedupe WHERE scope = ? AND key = ?`, []any{d.Scope, d.Key}, &holder)
	return holder, fail("dedupe", err)
}

func (tx *tx) PurgeDedupe(before time.Time, limit int) (int, error) {
	res, err := tx.exec(`DELETE FROM dedupe WHERE rowid IN (SELECT rowid FROM dedupe WHERE created_at < ? LIMIT ?)`, sqlstore.MS(before), limit)
	return purged("dedupe", res, err)
}

func (tx *tx) PurgeEvents(before time.Time, limit int) (int, error) {
	res, err := tx.exec(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE due_at IS NULL AND created_at < ? LIMIT ?)`, sqlstore.MS(before), limit)
	return purged("events", res, err)
}

func (tx *tx) PurgeTokens(before time.Time, limit int) (int, error) {
	res, err := tx.exec(`DELETE FROM tokens WHERE rowid IN (SELECT rowid FROM tokens WHERE expires_at < ? LIMIT ?)`, sqlstore.MS(before), limit)
	return purged("tokens", res, err)
}

func purged(what string, res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, fail(what, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Links.

func (tx *tx) PutLink(l *qun.Link) error {
	_, err := tx.exec(`INSERT INTO links (platform, key, data) VALUES (?, ?, ?) ON CONFLICT (platform, key) DO UPDATE SET data = excluded.data`,
		l.Platform, l.Key, sqlstore.Encode(l))
	if err != nil {
		return fail("link", err)
	}
	return tx.scanRow(`SELECT id FROM links WHERE platform = ? AND key = ?`, []any{l.Platform, l.Key}, &l.ID)
}

func (tx *tx) Links(p qun.Platform) ([]qun.Link, error) {
	rows, err := tx.query(sqlstore.LinkColumns+`WHERE ? IN ('', platform) ORDER BY id`, p)
	if err != nil {
		return nil, fail("links", err)
	}
	defer rows.Close()
	out, err := sqlstore.Links(rows)
	return out, fail("links", err)
}

// Meta and reset.

func (tx *tx) Meta(key string) (string, error) {
	if v, ok := tx.meta[key]; ok {
		return v, nil
	}
	var v string
	err := tx.scanRow(`SELECT value FROM meta WHERE key = ?`, []any{key}, &v)
	if err == sql.ErrNoRows {
		err = nil
	}
	if err == nil && tx.meta != nil {
		tx.meta[key] = v
	}
	return v, fail("meta", err)
}

func (tx *tx) SetMeta(key, value string) error {
	_, err := tx.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err == nil && tx.meta != nil {
		tx.meta[key] = value
	}
	return fail("meta", err)
}

// Last changes nothing: the writer commits a group of updates at once.
func (tx *tx) Last() {}

// ExpectMeta compares at once: the writer's transaction sees every
// committed change, and the group's meta values are shared (tx.meta).
func (tx *tx) ExpectMeta(key, value string) error {
	v, err := tx.Meta(key)
	if err != nil {
		return err
	}
	if v != value {
		tx.moved = true
		return qun.ErrMoved
	}
	return nil
}

func (tx *tx) Reset() error {
	clear(tx.meta)
	for _, table := range sqlstore.Reset {
		if _, err := tx.exec(`DELETE FROM ` + table); err != nil {
			return fail("reset "+table, err)
		}
	}
	return nil
}

func affected(what string, res sql.Result, err error) error {
	if err != nil {
		return fail(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail(what, err)
	}
	if n == 0 {
		return fail(what, sql.ErrNoRows)
	}
	return nil
}

// Events.

func (tx *tx) AddEvents(es []qun.Event) error {
	for i := range es {
		e := &es[i]
		conn, due, data := sqlstore.EventRow(*e)
		res, err := tx.exec(`INSERT INTO events (event_id, app_id, chat_id, conn, status, created_at, due_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.EventID, e.App, e.ChatID, conn, string(e.Status), sqlstore.MS(e.CreatedAt), due, data)
		if err != nil {
			return fail("event", err)
		}
		if e.ID, err = res.LastInsertId(); err != nil {
			return fail("event", err)
		}
	}
	return nil
}

func (tx *tx) DueEvents(d qun.Due) ([]qun.Event, error) {
	// The apps with pending webhook events, one seek each in
	// events_push_app, less the busy ones, whose backlogs are not read.
	var push []int64
	for app := int64(0); ; {
		err := tx.scanRow(`SELECT app_id FROM events WHERE app_id > ? AND due_at IS NOT NULL AND conn = 0 ORDER BY app_id LIMIT 1`, []any{app}, &app)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, fail("events", err)
		}
		if !slices.Contains(d.Busy, app) {
			push = append(push, app)
		}
	}
	due, err := tx.dueByApp(nil, push, d, false)
	if err != nil {
		return nil, err
	}
	return tx.dueByApp(due, sqlstore.Without(d.Connected, d.Busy), d, true)
}

// dueByApp adds to out each app's first d.Each() events due at d.Now of
// one delivery mode, one statement per app over events_conn_due or
// events_push_app (app_id, due_at): the cost is bounded by the LIMIT, not
// by an app's backlog; MergeDue orders them. The mode is written into the
// text, so that SQLite can match the partial index.
func (tx *tx) dueByApp(out []qun.Event, apps []int64, d qun.Due, conn bool) ([]qun.Event, error) {
	q := `WHERE app_id = ? AND due_at <= ? AND conn = 0 ORDER BY due_at LIMIT ?`
	if conn {
		q = `WHERE app_id = ? AND due_at <= ? AND conn = 1 ORDER BY due_at LIMIT ?`
	}
	var got []qun.Event
	for _, app := range apps {
		es, err := tx.events(q, app, sqlstore.MS(d.Now), d.Each())
		if err != nil {
			return nil, err
		}
		got = append(got, es...)
	}
	return sqlstore.MergeDue(out, got, d.Limit), nil
}

func (tx *tx) UpdateEvent(e qun.Event) error {
	_, due, data := sqlstore.EventRow(e)
	res, err := tx.exec(`UPDATE events SET status = ?, due_at = ?, data = ? WHERE id = ?`, string(e.Status), due, data, e.ID)
	return affected("event", res, err)
}

func (tx *tx) Event(id int64) (qun.Event, error) {
	es, err := tx.events(`WHERE id = ?`, id)
	if err != nil {
		return qun.Event{}, err
	}
	if len(es) == 0 {
		return qun.Event{}, fail("event", sql.ErrNoRows)
	}
	return es[0], nil
}

func (tx *tx) Events(f qun.EventFilter) ([]qun.Event, error) {
	q, args := sqlstore.EventQuery(f)
	return tx.events(q, args...)
}

func (tx *tx) events(where string, args ...any) ([]qun.Event, error) {
	rows, err := tx.query(sqlstore.EventColumns+where, args...)
	if err != nil {
		return nil, fail("events", err)
	}
	defer rows.Close()
	out, err := sqlstore.Events(rows)
	return out, fail("events", err)
}

func (tx *tx) AddAttempt(a *qun.Attempt) error {
	res, err := tx.exec(`INSERT INTO attempts (event, data) VALUES (?, ?)`, a.Event, sqlstore.Encode(a))
	if err != nil {
		return fail("attempt", err)
	}
	a.ID, err = res.LastInsertId()
	return fail("attempt", err)
}

func (tx *tx) Attempts(events []int64) ([]qun.Attempt, error) {
	if len(events) == 0 {
		return nil, nil
	}
	rows, err := tx.query(sqlstore.AttemptColumns+`WHERE event IN (SELECT value FROM json_each(?)) ORDER BY event, id`, sqlstore.Encode(events))
	if err != nil {
		return nil, fail("attempts", err)
	}
	defer rows.Close()
	out, err := sqlstore.Attempts(rows)
	return out, fail("attempts", err)
}

// Messages.

func (tx *tx) AddMessage(m *qun.Message) error {
	res, err := tx.exec(`INSERT INTO messages (message_id, chat_id, created_at, data) VALUES (?, ?, ?, ?)`,
		m.MessageID, m.Chat, sqlstore.MS(m.CreatedAt), sqlstore.Encode(m))
	if err != nil {
		return fail("message", err)
	}
	m.ID, err = res.LastInsertId()
	return fail("message", err)
}

func (tx *tx) MessageByID(messageID string) (qun.Message, error) {
	ms, err := tx.messages(`WHERE message_id = ?`, messageID)
	if err != nil {
		return qun.Message{}, err
	}
	if len(ms) == 0 {
		return qun.Message{}, fail("message", sql.ErrNoRows)
	}
	return ms[0], nil
}

func (tx *tx) UpdateMessage(m qun.Message) error {
	res, err := tx.exec(`UPDATE messages SET data = ? WHERE id = ?`, sqlstore.Encode(m), m.ID)
	return affected("message", res, err)
}

func (tx *tx) Messages(f qun.MessageFilter) ([]qun.Message, error) {
	q, args := sqlstore.MessageQuery(f)
	ms, err := tx.messages(q, args...)
	return sqlstore.FilterSender(ms, f), err
}

func (tx *tx) messages(where string, args ...any) ([]qun.Message, error) {
	rows, err := tx.query(sqlstore.MessageColumns+where, args...)
	if err != nil {
		return nil, fail("messages", err)
	}
	defer rows.Close()
	out, err := sqlstore.Messages(rows)
	return out, fail("messages", err)
}
