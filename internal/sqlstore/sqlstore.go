// Package sqlstore holds what the SQL stores (internal/sqlite,
// internal/postgres) share: the encoding of the core's documents, the
// decoding of their rows, and the query that streams chats for a
// ChatFilter. The stores keep their own drivers, transactions and
// statements; a row read the same way is decoded here once.
package sqlstore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/qun"
)

// Rows is what the decoders read: *database/sql.Rows and pgx.Rows.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Encode is a document's stored form.
func Encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlstore: encode: " + err.Error()) // domain types always marshal
	}
	return string(b)
}

// Decode reads a stored document into v.
func Decode(data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("decode stored document: %w", err)
	}
	return nil
}

// MS is a time as stored: milliseconds since the epoch (qun.Precision).
func MS(t time.Time) int64 { return t.UnixMilli() }

// FromMS is the time of a stored value, in UTC.
func FromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// NullString stores "" as NULL.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// NullID stores ID 0 (none) as NULL.
func NullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// The columns the decoders read, in their order.
const (
	TenantColumns = `SELECT id, platform, key, data FROM tenants `
	AppColumns    = `SELECT id, tenant_id, platform, key, data FROM apps `
	LinkColumns   = `SELECT id, platform, key, data FROM links `
	MemberColumns = `SELECT seq, chat_id, user_id, app_id, role, joined_at FROM members `
	ChatColumns   = `SELECT c.id, c.chat_id, c.platform, c.tenant_id, c.creator_app, c.owner_user, c.owner_app, c.name, c.status, c.data FROM `
	// UserColumns is followed by a condition over users u and tenants t.
	UserColumns = `SELECT u.id, u.tenant_id, u.user_id, u.data, a.kind, a.scope, a.value
		FROM users u JOIN tenants t ON t.id = u.tenant_id LEFT JOIN aliases a ON a.user_id = u.id
		WHERE `
	// UserOrder ends a query of UserColumns: a user's alias rows together.
	UserOrder = ` ORDER BY u.id, a.kind, a.scope`
)

// Tenants decodes rows of TenantColumns.
func Tenants(rows Rows) ([]qun.Tenant, error) {
	var out []qun.Tenant
	for rows.Next() {
		var (
			t    qun.Tenant
			data string
		)
		if err := rows.Scan(&t.ID, &t.Platform, &t.Key, &data); err != nil {
			return nil, err
		}
		id, p, key := t.ID, t.Platform, t.Key
		if err := Decode(data, &t); err != nil {
			return nil, err
		}
		t.ID, t.Platform, t.Key = id, p, key
		out = append(out, t)
	}
	return out, rows.Err()
}

// Apps decodes rows of AppColumns.
func Apps(rows Rows) ([]qun.App, error) {
	var out []qun.App
	for rows.Next() {
		var (
			a    qun.App
			data string
		)
		if err := rows.Scan(&a.ID, &a.TenantID, &a.Platform, &a.Key, &data); err != nil {
			return nil, err
		}
		id, tid, p, key := a.ID, a.TenantID, a.Platform, a.Key
		if err := Decode(data, &a); err != nil {
			return nil, err
		}
		a.ID, a.TenantID, a.Platform, a.Key = id, tid, p, key
		out = append(out, a)
	}
	return out, rows.Err()
}

// Links decodes rows of LinkColumns.
func Links(rows Rows) ([]qun.Link, error) {
	var out []qun.Link
	for rows.Next() {
		var (
			l    qun.Link
			data string
		)
		if err := rows.Scan(&l.ID, &l.Platform, &l.Key, &data); err != nil {
			return nil, err
		}
		id, p, key := l.ID, l.Platform, l.Key
		if err := Decode(data, &l); err != nil {
			return nil, err
		}
		l.ID, l.Platform, l.Key = id, p, key
		out = append(out, l)
	}
	return out, rows.Err()
}

// Users decodes rows of UserColumns … UserOrder: one row per alias (or one
// with NULL aliases), a user's rows together.
func Users(rows Rows) ([]qun.User, error) {
	var out []qun.User
	for rows.Next() {
		var (
			u                  qun.User
			data               string
			kind, scope, value *string
		)
		if err := rows.Scan(&u.ID, &u.TenantID, &u.UserID, &data, &kind, &scope, &value); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != u.ID {
			id, tid, uid := u.ID, u.TenantID, u.UserID
			if err := Decode(data, &u); err != nil {
				return nil, err
			}
			u.ID, u.TenantID, u.UserID = id, tid, uid
			out = append(out, u)
		}
		if kind != nil {
			last := &out[len(out)-1]
			last.Aliases = append(last.Aliases, qun.Alias{Kind: qun.IDKind(*kind), Scope: *scope, Value: *value})
		}
	}
	return out, rows.Err()
}

// Chats decodes rows of ChatColumns.
func Chats(rows Rows) ([]qun.Chat, error) {
	var out []qun.Chat
	for rows.Next() {
		var (
			c                       qun.Chat
			creator, ownerU, ownerA *int64
			data                    string
		)
		if err := rows.Scan(&c.ID, &c.ChatID, &c.Platform, &c.TenantID, &creator, &ownerU, &ownerA, &c.Name, &c.Status, &data); err != nil {
			return nil, err
		}
		cols := c
		if err := Decode(data, &c); err != nil {
			return nil, err
		}
		c.ID, c.ChatID, c.Platform, c.TenantID, c.Name, c.Status = cols.ID, cols.ChatID, cols.Platform, cols.TenantID, cols.Name, cols.Status
		c.CreatorApp, c.OwnerUser, c.OwnerApp = deref(creator), deref(ownerU), deref(ownerA)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Members decodes rows of MemberColumns.
func Members(rows Rows) ([]qun.Member, error) {
	var out []qun.Member
	for rows.Next() {
		var (
			m         qun.Member
			user, app *int64
			joined    int64
		)
		if err := rows.Scan(&m.Seq, &m.Chat, &user, &app, &m.Role, &joined); err != nil {
			return nil, err
		}
		m.User, m.App, m.JoinedAt = deref(user), deref(app), FromMS(joined)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Dialect is how a store's SQL says what ChatQuery needs.
type Dialect struct {
	// Public is the condition "c is public".
	Public string
	// Contains is the condition "column contains the ? parameter".
	Contains func(column string) string
}

// ChatQuery is the query (after ChatColumns, with ? parameters) that reads
// the chats f selects from one ordered stream, so that a page costs its
// size and not the store's: the chats posted under gram (the keyword's
// rarest, "" for none) when there is one, else the memberships of the bot
// or user asked about, else the chats table; the order and the cursor are
// those of the stream's own index. (A bot's chats together with the
// tenant's public ones are only asked for with a keyword.)
func ChatQuery(d Dialect, f qun.ChatFilter, gram string) (string, []any) {
	var (
		from       = `chats c`
		id, active = `c.id`, `c.active_at`
		where      []string
		args       []any
		memberApp  = f.MemberApp // set while a condition must still select it
		memberUser = f.MemberUser
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	switch {
	case gram != "":
		from, id = `chat_grams g JOIN chats c ON c.id = g.chat_id`, `g.chat_id`
		add(`g.gram = ?`, gram)
	case f.MemberApp != 0 && f.OrPublicIn == 0:
		from, id, active = `members m JOIN chats c ON c.id = m.chat_id`, `m.chat_id`, `m.active_at`
		add(`m.app_id = ?`, f.MemberApp)
		memberApp = 0
	case f.MemberUser != 0:
		from, id = `members m JOIN chats c ON c.id = m.chat_id`, `m.chat_id`
		add(`m.user_id = ?`, f.MemberUser)
		memberUser = 0
	}
	if memberUser != 0 {
		add(`EXISTS (SELECT 1 FROM members WHERE chat_id = c.id AND user_id = ?)`, memberUser)
	}
	switch {
	case memberApp != 0 && f.OrPublicIn != 0:
		add(`(EXISTS (SELECT 1 FROM members WHERE chat_id = c.id AND app_id = ?) OR (`+d.Public+` AND c.tenant_id = ?))`, memberApp, f.OrPublicIn)
	case memberApp != 0:
		add(`EXISTS (SELECT 1 FROM members WHERE chat_id = c.id AND app_id = ?)`, memberApp)
	case f.OrPublicIn != 0:
		add(d.Public+` AND c.tenant_id = ?`, f.OrPublicIn)
	}
	if f.Platform != "" {
		add(`c.platform = ?`, f.Platform)
	}
	if f.TenantID != 0 {
		add(`c.tenant_id = ?`, f.TenantID)
	}
	if f.Public {
		add(d.Public)
	}
	if f.Status != "" {
		add(`c.status = ?`, f.Status)
	}
	if f.Name != "" {
		add(`c.name = ?`, f.Name)
	}
	if f.Query != "" {
		add(d.Contains(`c.search`), qun.SearchKey(f.Query))
	}
	var order string
	switch f.Order {
	case qun.ByActivity:
		order = `ORDER BY ` + active + ` DESC, ` + id + ` DESC`
		if f.After.ID != 0 {
			add(`(`+active+` < ? OR (`+active+` = ? AND `+id+` < ?))`, f.After.Active, f.After.Active, f.After.ID)
		}
	case qun.ByNewest:
		order = `ORDER BY ` + id + ` DESC`
		if f.After.ID != 0 {
			add(id+` < ?`, f.After.ID)
		}
	default:
		order = `ORDER BY ` + id
		if f.After.ID != 0 {
			add(id+` > ?`, f.After.ID)
		}
	}
	q := from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ` + order
	if f.Limit > 0 {
		q += ` LIMIT ?` // a parameter, so that each limit is not a new statement to prepare
		args = append(args, f.Limit)
	}
	return q, args
}

// GramProbe bounds how far a store counts one gram's postings when it
// picks a keyword's rarest gram, and MaxProbes how many of a keyword's
// grams it counts: the chats posted under the rarest are the candidates
// ChatQuery checks, so a rare gram keeps a search's cost that of its
// matches rather than of the store.
const (
	GramProbe = 256
	MaxProbes = 8
)

// Reset lists the tables Tx.Reset empties, children first.
var Reset = []string{"attempts", "events", "messages", "dedupe", "chat_grams", "members", "chats", "friendships", "aliases", "users", "apps", "links", "tenants"}

// RosterQuery reads a chat's counts and managers (qun.Tx.Roster), with
// the parameters chat, chat, qun.RoleManager: one row with NULL member
// columns when it has no managers. Roster puts the managers in join
// order, so that no plan sorts.
const RosterQuery = `SELECT n.users, n.bots, m.seq, m.chat_id, m.user_id, m.app_id, m.role, m.joined_at
	FROM (SELECT count(user_id) AS users, count(app_id) AS bots FROM members WHERE chat_id = ?) n
	LEFT JOIN members m ON m.chat_id = ? AND m.role = ?`

// Roster decodes the rows of RosterQuery.
func Roster(rows Rows) (qun.Roster, error) {
	var r qun.Roster
	for rows.Next() {
		var (
			seq, chat, user, app, joined *int64
			role                         *string
		)
		if err := rows.Scan(&r.Users, &r.Bots, &seq, &chat, &user, &app, &role, &joined); err != nil {
			return qun.Roster{}, err
		}
		if seq != nil {
			r.Managers = append(r.Managers, qun.Member{Seq: *seq, Chat: *chat, User: deref(user), App: deref(app), Role: qun.Role(*role), JoinedAt: FromMS(*joined)})
		}
	}
	slices.SortFunc(r.Managers, func(a, b qun.Member) int { return cmp.Compare(a.Seq, b.Seq) })
	return r, rows.Err()
}

// MemberQuery is the condition (after MemberColumns, with ? parameters)
// that pages through the members f selects, in join order.
func MemberQuery(f qun.MemberFilter) (string, []any) {
	q, args := `WHERE chat_id = ? AND seq > ?`, []any{f.Chat, f.After}
	if f.UsersOnly {
		q += ` AND user_id IS NOT NULL`
	}
	if f.Role != "" {
		q += ` AND role = ?`
		args = append(args, f.Role)
	}
	q += ` ORDER BY seq`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

// OrEmpty is v, or an empty slice for nil (an empty array, not NULL).
func OrEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// EventColumns and AttemptColumns are the columns Events and Attempts
// decode.
const (
	EventColumns   = `SELECT id, app_id, data FROM events `
	AttemptColumns = `SELECT id, event, data FROM attempts `
)

// EventRow is how an event is written: its indexed columns and its data.
func EventRow(e qun.Event) (conn bool, due any, data string) {
	if !e.DueAt.IsZero() {
		due = MS(e.DueAt)
	}
	return e.Mode == qun.Connection, due, Encode(e)
}

// Events decodes rows of EventColumns.
func Events(rows Rows) ([]qun.Event, error) {
	var out []qun.Event
	for rows.Next() {
		var (
			e    qun.Event
			data string
		)
		if err := rows.Scan(&e.ID, &e.App, &data); err != nil {
			return nil, err
		}
		id, app := e.ID, e.App
		if err := Decode(data, &e); err != nil {
			return nil, err
		}
		e.ID, e.App = id, app
		out = append(out, e)
	}
	return out, rows.Err()
}

// Attempts decodes rows of AttemptColumns.
func Attempts(rows Rows) ([]qun.Attempt, error) {
	var out []qun.Attempt
	for rows.Next() {
		var (
			a    qun.Attempt
			data string
		)
		if err := rows.Scan(&a.ID, &a.Event, &data); err != nil {
			return nil, err
		}
		id, ev := a.ID, a.Event
		if err := Decode(data, &a); err != nil {
			return nil, err
		}
		a.ID, a.Event = id, ev
		out = append(out, a)
	}
	return out, rows.Err()
}

// EventQuery is the condition (after EventColumns, with ? parameters) that
// pages through the events f selects, newest first, along the index of
// the first filter set (chat, app, status).
func EventQuery(f qun.EventFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.ChatID != "" {
		where, args = append(where, `chat_id = ?`), append(args, f.ChatID)
	}
	if f.App != 0 {
		where, args = append(where, `app_id = ?`), append(args, f.App)
	}
	if f.Status != "" {
		where, args = append(where, `status = ?`), append(args, string(f.Status))
	}
	if f.Before > 0 {
		where, args = append(where, `id < ?`), append(args, f.Before)
	}
	q := ``
	if len(where) > 0 {
		q = `WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return q + ` ORDER BY id DESC LIMIT ?`, append(args, limit)
}

// MergeDue merges the due webhook and connection events, oldest due
// first, and keeps limit.
func MergeDue(push, conn []qun.Event, limit int) []qun.Event {
	out := append(push, conn...)
	slices.SortStableFunc(out, func(a, b qun.Event) int { return a.DueAt.Compare(b.DueAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Without returns the IDs of ids that are not in drop.
func Without(ids, drop []int64) []int64 {
	if len(drop) == 0 {
		return ids
	}
	var out []int64
	for _, id := range ids {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

// TokenColumns are the columns Tokens decodes.
const TokenColumns = `SELECT token, kind, platform, app_key, tenant_key, user_id, issued_at, expires_at FROM tokens `

// Tokens decodes rows of TokenColumns.
func Tokens(rows Rows) ([]qun.Token, error) {
	var out []qun.Token
	for rows.Next() {
		var (
			t               qun.Token
			issued, expires int64
		)
		if err := rows.Scan(&t.Value, &t.Kind, &t.Platform, &t.AppKey, &t.TenantKey, &t.UserID, &issued, &expires); err != nil {
			return nil, err
		}
		t.IssuedAt, t.ExpiresAt = FromMS(issued), FromMS(expires)
		out = append(out, t)
	}
	return out, rows.Err()
}

// LiveTokensQuery is the condition (after TokenColumns) of
// Tx.LiveTokens, along tokens_expires.
const LiveTokensQuery = `WHERE expires_at > ? ORDER BY expires_at DESC LIMIT ?`

// MessageColumns are the columns Messages decodes.
const MessageColumns = `SELECT id, chat_id, data FROM messages `

// Messages decodes rows of MessageColumns.
func Messages(rows Rows) ([]qun.Message, error) {
	var out []qun.Message
	for rows.Next() {
		var (
			m    qun.Message
			data string
		)
		if err := rows.Scan(&m.ID, &m.Chat, &data); err != nil {
			return nil, err
		}
		id, chat := m.ID, m.Chat
		if err := Decode(data, &m); err != nil {
			return nil, err
		}
		m.ID, m.Chat = id, chat
		out = append(out, m)
	}
	return out, rows.Err()
}

// MessageQuery is the condition (after MessageColumns, with ?
// parameters) that pages through a chat's messages along messages_chat.
func MessageQuery(f qun.MessageFilter) (string, []any) {
	where, args := []string{`chat_id = ?`}, []any{f.Chat}
	if !f.Since.IsZero() {
		where, args = append(where, `created_at >= ?`), append(args, MS(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, `created_at <= ?`), append(args, MS(f.Until))
	}
	order := `ORDER BY created_at, id`
	if f.After != nil {
		cmp := `>`
		if f.Desc {
			cmp = `<`
		}
		where = append(where, `(created_at `+cmp+` ? OR (created_at = ? AND id `+cmp+` ?))`)
		args = append(args, MS(f.After.At), MS(f.After.At), f.After.ID)
	}
	if f.Desc {
		order = `ORDER BY created_at DESC, id DESC`
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	return `WHERE ` + strings.Join(where, ` AND `) + ` ` + order + ` LIMIT ?`, append(args, limit)
}

// FilterSender keeps the messages of one sender, when f names one (the
// admin listing's filter, applied to a page the index bounds).
func FilterSender(ms []qun.Message, f qun.MessageFilter) []qun.Message {
	if f.SenderUser == 0 && f.SenderApp == 0 {
		return ms
	}
	out := ms[:0]
	for _, m := range ms {
		if (f.SenderUser != 0 && m.SenderUser == f.SenderUser) || (f.SenderApp != 0 && m.SenderApp == f.SenderApp) {
			out = append(out, m)
		}
	}
	return out
}
