package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlstore"
)

// tx implements qun.Tx on one connection. The transaction begins with its
// first statement (begin is sent with it, in one round trip) and ends with
// end.
type tx struct {
	ctx context.Context
	db  *DB
	// conn is the transaction's connection, taken from the pool with the
	// first statement sent (a combined update never takes one).
	conn  *pgxpool.Conn
	begin string
	// begun is set once begin was sent; failed once a statement failed
	// (the transaction is aborted, only ROLLBACK may follow).
	begun, failed bool
	// held lists the chats whose node lock the update holds; lock is set
	// when it asked for one it does not hold (the attempt restarts).
	held map[int64]bool
	lock int64
	// retry is set once a statement failed in a way a new attempt may not
	// (serialization failure, deadlock).
	retry bool
	// activeAt remembers the activity time (ms) of the chats this
	// transaction wrote or read, for the members it adds: reading the
	// chat's row again would put a predicate lock on the index page every
	// concurrent create inserts into, and fail them to serialise.
	activeAt map[int64]int64
	// expect holds the ExpectMeta comparisons not sent yet (key, value
	// pairs), which go in front of the next statement or the COMMIT;
	// moved is set once one failed.
	expect [][2]string
	moved  bool
	// last is set by Last: the next statement is sent with the COMMIT;
	// committed once that COMMIT succeeded (no statement may follow).
	last, committed bool
}

// Last has the next statement carry the COMMIT, in its round trip.
func (tx *tx) Last() { tx.last = true }

// errAfterLast is what a statement after the last one gets: the
// transaction has committed.
var errAfterLast = errors.New("postgres: a statement after the transaction's last one")

// expectMeta is the comparison ExpectMeta sends (migration 5).
const expectMeta = `SELECT qun_expect_meta($1, $2)`

// ExpectMeta queues the comparison, to be sent with the next statement or
// the COMMIT, in the same round trip.
func (tx *tx) ExpectMeta(key, value string) error {
	tx.expect = append(tx.expect, [2]string{key, value})
	return nil
}

// sawChat notes a chat's activity time.
func (tx *tx) sawChat(c qun.Chat) {
	if tx.activeAt == nil {
		tx.activeAt = map[int64]int64{}
	}
	tx.activeAt[c.ID] = sqlstore.MS(c.UpdatedAt)
}

// rebound caches queries written with ? placeholders, rewritten to $n.
var rebound sync.Map

// rebind rewrites the ? placeholders of q to PostgreSQL's $1, $2, …; the
// store's queries hold no ? in literals.
func rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	out := b.String()
	rebound.Store(q, out)
	return out
}

// trace, when set (tests), sees every statement the store sends: each is a
// round trip (a transaction's BEGIN goes with its first statement).
// It is atomic: the stores' goroutines (the event engine's among them)
// read it while a test sets it.
var trace atomic.Pointer[func(query string, args []any)]

// traced reports a statement to the trace, if one is set.
func traced(query string, args []any) {
	if fn := trace.Load(); fn != nil {
		(*fn)(query, args)
	}
}

// first sends what must go in front of a statement together with it, in
// one round trip: the transaction's BEGIN, when it has not begun yet, and
// the queued ExpectMeta comparisons (ok false when there is neither). The
// caller reads the statement's results from br and closes it.
//
// After Last, the batch also carries the COMMIT, and is sent whatever the
// caller's context does from then on (a commit sent is the server's to
// decide); the caller reads it with settle.
func (tx *tx) first(query string, args []any) (br pgx.BatchResults, ok bool, err error) {
	if tx.committed {
		return nil, true, errAfterLast
	}
	if tx.conn == nil {
		conn, err := tx.db.pool.Acquire(tx.ctx)
		if err != nil {
			return nil, true, fmt.Errorf("postgres: connect: %w", err)
		}
		tx.conn = conn
	}
	if tx.begun && len(tx.expect) == 0 && !tx.last {
		return nil, false, nil
	}
	ctx := tx.ctx
	if tx.last {
		if err := ctx.Err(); err != nil {
			tx.last = false
			return nil, true, err // nothing sent
		}
		ctx = context.WithoutCancel(ctx)
	}
	b := &pgx.Batch{}
	lead := tx.lead(b)
	b.Queue(rebind(query), args...)
	if tx.last {
		b.Queue("COMMIT")
	}
	br = tx.conn.SendBatch(ctx, b)
	for range lead {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, true, tx.broke(err)
		}
	}
	return br, true, nil
}

// settle reads the COMMIT a last statement carried (first), once the
// statement's own results were read without error (err): the transaction
// then has committed, or failed with the COMMIT's error. A failed
// statement left the COMMIT unrun and the transaction aborted.
func (tx *tx) settle(br pgx.BatchResults, err error) error {
	if !tx.last {
		return err
	}
	tx.last = false
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	answer := err // no rows is an answer: the COMMIT ran after it
	tx.begun = false
	tag, err := br.Exec()
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("postgres: COMMIT answered %s", tag)
	}
	if err != nil {
		// As end: the transaction is over, the connection's state unsure.
		tx.broke(err)
		tx.conn.Conn().Close(context.WithoutCancel(tx.ctx))
		return fmt.Errorf("postgres: commit: %w", err)
	}
	tx.committed = true
	return answer
}

// lead queues in b the BEGIN and the comparisons still to send, and
// returns how many statements it queued.
func (tx *tx) lead(b *pgx.Batch) int {
	n := 0
	if !tx.begun {
		tx.begun = true
		b.Queue(tx.begin)
		n++
	}
	for _, e := range tx.expect {
		b.Queue(expectMeta, e[0], e[1])
		n++
	}
	tx.expect = nil
	return n
}

// broke notes that a statement failed with err (ErrNoRows is an answer,
// not a failure): the transaction is aborted, and one that failed to
// serialise is worth another attempt, even when the core takes the
// statement's error for an answer.
func (tx *tx) broke(err error) error {
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	tx.failed = true
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			tx.retry = true
		case "QUM01": // qun_expect_meta
			tx.moved = true
		}
	}
	if tx.moved {
		return fmt.Errorf("postgres: %w", qun.ErrMoved)
	}
	return err
}

// combinable reports whether the next statement is its update's first and
// last, which the combiner may send with other updates' (combine.go).
func (tx *tx) combinable() bool {
	return tx.last && !tx.begun && tx.conn == nil && tx.db.combiner.limit > 0
}

// combined sends the statement through the combiner, read reading its
// results; done is false when it must be sent alone instead (its batch
// failed), as first then does.
func (tx *tx) combined(query string, args []any, read func(pgx.BatchResults) error) (done bool, err error) {
	if err := tx.ctx.Err(); err != nil {
		tx.last = false
		return true, err // nothing sent
	}
	m := &member{ctx: tx.ctx, expect: tx.expect, query: rebind(query), args: args, read: read}
	tx.db.combiner.run(m)
	if m.alone {
		return false, nil
	}
	tx.last, tx.expect = false, nil
	if m.err != nil {
		return true, m.err
	}
	tx.committed = true
	return true, m.answer
}

func (tx *tx) exec(query string, args ...any) (pgconn.CommandTag, error) {
	if trace.Load() != nil {
		traced(rebind(query), args)
	}
	if tx.combinable() {
		var tag pgconn.CommandTag
		done, err := tx.combined(query, args, func(br pgx.BatchResults) (err error) {
			tag, err = br.Exec()
			return err
		})
		if done {
			return tag, tx.broke(err)
		}
	}
	br, ok, err := tx.first(query, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	if ok {
		tag, err := br.Exec()
		err = tx.settle(br, tx.broke(err))
		return tag, tx.broke(errors.Join(err, br.Close()))
	}
	tag, err := tx.conn.Exec(tx.ctx, rebind(query), args...)
	return tag, tx.broke(err)
}

func (tx *tx) query(query string, args ...any) (pgx.Rows, error) {
	if trace.Load() != nil {
		traced(rebind(query), args)
	}
	tx.last = false // rows are read after the call: COMMIT waits for end
	br, ok, err := tx.first(query, args)
	if err != nil {
		return nil, err
	}
	if ok {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, tx.broke(err)
		}
		return &batchRows{Rows: rows, br: br, tx: tx}, nil
	}
	rows, err := tx.conn.Query(tx.ctx, rebind(query), args...)
	if err != nil {
		return nil, tx.broke(err)
	}
	return &batchRows{Rows: rows, tx: tx}, nil
}

func (tx *tx) scanRow(query string, args []any, dest ...any) error {
	if trace.Load() != nil {
		traced(rebind(query), args)
	}
	if tx.combinable() {
		done, err := tx.combined(query, args, func(br pgx.BatchResults) error {
			return br.QueryRow().Scan(dest...)
		})
		if done {
			return tx.broke(err)
		}
	}
	br, ok, err := tx.first(query, args)
	if err != nil {
		return err
	}
	if ok {
		err := tx.settle(br, tx.broke(br.QueryRow().Scan(dest...)))
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return tx.broke(err)
	}
	return tx.broke(tx.conn.QueryRow(tx.ctx, rebind(query), args...).Scan(dest...))
}

// end ends the transaction with ROLLBACK or COMMIT. COMMIT fails when the
// transaction had failed (PostgreSQL then rolls it back and says so). A
// connection left in an unknown state is closed rather than pooled again.
func (tx *tx) end(ctx context.Context, how string) error {
	if !tx.begun {
		return nil
	}
	tx.begun = false
	if how == "COMMIT" && tx.failed {
		how = "ROLLBACK"
	}
	wasFailed := tx.failed
	if trace.Load() != nil {
		traced(how, nil)
	}
	var (
		tag pgconn.CommandTag
		err error
	)
	if how == "COMMIT" && len(tx.expect) > 0 {
		// The comparisons nothing was sent with go with the COMMIT.
		b := &pgx.Batch{}
		n := tx.lead(b)
		b.Queue(how)
		br := tx.conn.SendBatch(ctx, b)
		for range n {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		if err == nil {
			tag, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil && tx.broke(err) != nil && tx.moved {
			// The COMMIT was not run: the transaction is aborted.
			_, rerr := tx.conn.Exec(ctx, "ROLLBACK")
			if rerr != nil {
				tx.conn.Conn().Close(ctx)
			}
			return fmt.Errorf("postgres: %w", qun.ErrMoved)
		}
	} else {
		tag, err = tx.conn.Exec(ctx, how)
	}
	switch {
	case err != nil:
		tx.broke(err) // a COMMIT that fails to serialise is retried
		tx.conn.Conn().Close(ctx)
		return err
	case wasFailed:
		return errors.New("postgres: the transaction failed")
	case how == "COMMIT" && tag.String() != "COMMIT":
		return fmt.Errorf("postgres: COMMIT answered %s", tag)
	}
	return nil
}

// batchRows are the rows of a query, which closes the batch it came in
// (the transaction's first statement) and notes a failure.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
	tx *tx
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.tx.broke(r.Rows.Err())
	if r.br != nil {
		r.tx.broke(r.br.Close())
		r.br = nil
	}
}

// fail maps a driver error to a domain error.
func (tx *tx) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &qun.Error{Code: qun.ENotFound, Message: what + " not found"}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return &qun.Error{Code: qun.EConflict, Message: what + " already exists", Err: err}
		case "23503": // foreign_key_violation
			return &qun.Error{Code: qun.ENotFound, Message: what + " refers to something that does not exist", Err: err}
		}
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

func (tx *tx) affected(what string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return tx.fail(what, err)
	}
	if tag.RowsAffected() == 0 {
		return tx.fail(what, pgx.ErrNoRows)
	}
	return nil
}

// Tenants.

func (tx *tx) CreateTenant(t *qun.Tenant) error {
	err := tx.scanRow(`INSERT INTO tenants (platform, key, data) VALUES (?, ?, ?) RETURNING id`, []any{t.Platform, t.Key, sqlstore.Encode(t)}, &t.ID)
	return tx.fail("tenant", err)
}

func (tx *tx) UpdateTenant(t qun.Tenant) error {
	tag, err := tx.exec(`UPDATE tenants SET key = ?, data = ? WHERE id = ?`, t.Key, sqlstore.Encode(t), t.ID)
	return tx.affected("tenant", tag, err)
}

func (tx *tx) Tenant(id int64) (qun.Tenant, error) {
	return tx.oneTenant(`WHERE id = ?`, id)
}

func (tx *tx) TenantByKey(p qun.Platform, key string) (qun.Tenant, error) {
	return tx.oneTenant(`WHERE platform = ? AND key = ?`, p, key)
}

func (tx *tx) Tenants(p qun.Platform) ([]qun.Tenant, error) {
	return tx.tenants(`WHERE ?::text IN ('', platform) ORDER BY id`, p)
}

func (tx *tx) oneTenant(where string, args ...any) (qun.Tenant, error) {
	ts, err := tx.tenants(where, args...)
	if err != nil {
		return qun.Tenant{}, err
	}
	if len(ts) == 0 {
		return qun.Tenant{}, tx.fail("tenant", pgx.ErrNoRows)
	}
	return ts[0], nil
}

func (tx *tx) tenants(where string, args ...any) ([]qun.Tenant, error) {
	rows, err := tx.query(sqlstore.TenantColumns+where, args...)
	if err != nil {
		return nil, tx.fail("tenants", err)
	}
	defer rows.Close()
	out, err := sqlstore.Tenants(rows)
	return out, tx.fail("tenants", err)
}

// Apps.

func (tx *tx) CreateApp(a *qun.App) error {
	err := tx.scanRow(`INSERT INTO apps (tenant_id, platform, key, data) VALUES (?, ?, ?, ?) RETURNING id`, []any{a.TenantID, a.Platform, a.Key, sqlstore.Encode(a)}, &a.ID)
	return tx.fail("app", err)
}

func (tx *tx) UpdateApp(a qun.App) error {
	tag, err := tx.exec(`UPDATE apps SET key = ?, data = ? WHERE id = ?`, a.Key, sqlstore.Encode(a), a.ID)
	return tx.affected("app", tag, err)
}

// DeleteApp deletes the app, its memberships and clears it from the chats
// it created or owns (migrations 7 and 8: no foreign key does), and, by
// their foreign key, its events.
func (tx *tx) DeleteApp(id int64) error {
	tag, err := tx.exec(`WITH c AS (UPDATE chats SET creator_app = nullif(creator_app, ?::bigint), owner_app = nullif(owner_app, ?::bigint) WHERE creator_app = ? OR owner_app = ?),
		m AS (DELETE FROM members WHERE app_id = ?)
		DELETE FROM apps WHERE id = ?`, id, id, id, id, id, id)
	return tx.affected("app", tag, err)
}

func (tx *tx) App(id int64) (qun.App, error) {
	return tx.oneApp(`WHERE id = ?`, id)
}

func (tx *tx) AppByKey(p qun.Platform, tenantID int64, key string) (qun.App, error) {
	return tx.oneApp(`WHERE platform = ? AND key = ? AND ?::bigint IN (0, tenant_id) ORDER BY id`, p, key, tenantID)
}

func (tx *tx) Apps(p qun.Platform, tenantID int64) ([]qun.App, error) {
	return tx.apps(`WHERE ?::text IN ('', platform) AND ?::bigint IN (0, tenant_id) ORDER BY id`, p, tenantID)
}

func (tx *tx) oneApp(where string, args ...any) (qun.App, error) {
	as, err := tx.apps(where+` LIMIT 1`, args...)
	if err != nil {
		return qun.App{}, err
	}
	if len(as) == 0 {
		return qun.App{}, tx.fail("app", pgx.ErrNoRows)
	}
	return as[0], nil
}

func (tx *tx) apps(where string, args ...any) ([]qun.App, error) {
	rows, err := tx.query(sqlstore.AppColumns+where, args...)
	if err != nil {
		return nil, tx.fail("apps", err)
	}
	defer rows.Close()
	out, err := sqlstore.Apps(rows)
	return out, tx.fail("apps", err)
}

// Users.

func (tx *tx) CreateUser(u *qun.User) error {
	doc := *u
	doc.Aliases = nil
	err := tx.scanRow(`INSERT INTO users (tenant_id, user_id, data) VALUES (?, ?, ?) RETURNING id`, []any{u.TenantID, u.UserID, sqlstore.Encode(doc)}, &u.ID)
	if err != nil {
		return tx.fail("user", err)
	}
	return tx.AddAliases(u.ID, u.Aliases)
}

func (tx *tx) UpdateUser(u qun.User) error {
	doc := u
	doc.Aliases = nil
	tag, err := tx.exec(`UPDATE users SET data = ? WHERE id = ?`, sqlstore.Encode(doc), u.ID)
	return tx.affected("user", tag, err)
}

// AddAliases inserts the aliases in one statement; each must then be the
// user's (inserted now or before), or another user holds it (or the user
// holds another value in its scope).
func (tx *tx) AddAliases(user int64, aliases []qun.Alias) error {
	if len(aliases) == 0 {
		return nil
	}
	kinds, scopes, values := make([]string, len(aliases)), make([]string, len(aliases)), make([]string, len(aliases))
	for i, a := range aliases {
		kinds[i], scopes[i], values[i] = string(a.Kind), a.Scope, a.Value
	}
	var mine, want int
	err := tx.scanRow(`WITH v AS (SELECT DISTINCT * FROM unnest(?::text[], ?::text[], ?::text[]) AS v (kind, scope, value)),
		ins AS (INSERT INTO aliases (kind, scope, value, user_id) SELECT kind, scope, value, ? FROM v ON CONFLICT DO NOTHING RETURNING 1)
		SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM v JOIN aliases a USING (kind, scope, value) WHERE a.user_id = ?), (SELECT count(*) FROM v)`,
		[]any{kinds, scopes, values, user, user}, &mine, &want)
	if err != nil {
		return tx.fail("aliases", err)
	}
	if mine < want {
		return &qun.Error{Code: qun.EConflict, Message: "an alias is held by another user"}
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
	return tx.users(`u.id = ANY(?::bigint[])`, ids)
}

func (tx *tx) UserByUserID(tenantID int64, userID string) (qun.User, error) {
	return tx.oneUser(`u.tenant_id = ? AND u.user_id = ?`, tenantID, userID)
}

func (tx *tx) UserByAlias(kind qun.IDKind, scope, value string) (qun.User, error) {
	var id int64
	err := tx.scanRow(`SELECT user_id FROM aliases WHERE kind = ? AND value = ? AND ?::text IN ('', scope) LIMIT 1`, []any{kind, value, scope}, &id)
	if err != nil {
		return qun.User{}, tx.fail("user", err)
	}
	return tx.User(id)
}

func (tx *tx) UsersByAlias(kind qun.IDKind, scope string, values []string) ([]qun.User, error) {
	if len(values) == 0 {
		return nil, nil
	}
	return tx.users(`u.id IN (SELECT user_id FROM aliases WHERE kind = ? AND scope = ? AND value = ANY(?::text[]))`, kind, scope, values)
}

func (tx *tx) UsersByUserID(tenantID int64, userIDs []string) ([]qun.User, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	return tx.users(`u.tenant_id = ? AND u.user_id = ANY(?::text[])`, tenantID, userIDs)
}

func (tx *tx) UsersAfter(p qun.Platform, tenantID, after int64, limit int) ([]qun.User, error) {
	// The page's users first (a LIMIT over users alone), then their
	// aliases: a LIMIT over the join would cut a user's aliases.
	where, args := `?::text IN ('', t.platform) AND u.id > ?`, []any{p, after}
	if tenantID != 0 {
		where, args = `u.tenant_id = ? AND u.id > ?`, []any{tenantID, after}
	}
	// The outer u.id > ? bounds the join's read of users from the cursor
	// on, whatever join the planner picks.
	return tx.users(`u.id > ? AND u.id IN (SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE `+where+` ORDER BY u.id LIMIT ?)`, append(append([]any{after}, args...), limit)...)
}

func (tx *tx) Users(p qun.Platform, tenantID int64) ([]qun.User, error) {
	return tx.users(`?::text IN ('', t.platform) AND ?::bigint IN (0, u.tenant_id)`, p, tenantID)
}

func (tx *tx) oneUser(where string, args ...any) (qun.User, error) {
	us, err := tx.users(where, args...)
	if err != nil {
		return qun.User{}, err
	}
	if len(us) == 0 {
		return qun.User{}, tx.fail("user", pgx.ErrNoRows)
	}
	return us[0], nil
}

// users loads the users matching where (over users u joined to tenants t)
// with their aliases, oldest first.
func (tx *tx) users(where string, args ...any) ([]qun.User, error) {
	rows, err := tx.query(sqlstore.UserColumns+where+sqlstore.UserOrder, args...)
	if err != nil {
		return nil, tx.fail("users", err)
	}
	defer rows.Close()
	out, err := sqlstore.Users(rows)
	return out, tx.fail("users", err)
}

// Friendships.

func (tx *tx) AddFriendship(a, b int64) error {
	if a > b {
		a, b = b, a
	}
	_, err := tx.exec(`INSERT INTO friendships (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING`, a, b)
	return tx.fail("friendship", err)
}

func (tx *tx) Friends(a, b int64) (bool, error) {
	if a > b {
		a, b = b, a
	}
	var n int
	err := tx.scanRow(`SELECT count(*) FROM friendships WHERE a = ? AND b = ?`, []any{a, b}, &n)
	return n > 0, tx.fail("friendship", err)
}

func (tx *tx) FriendsOf(user int64) ([]int64, error) {
	rows, err := tx.query(`SELECT b FROM friendships WHERE a = ? UNION SELECT a FROM friendships WHERE b = ? ORDER BY 1`, user, user)
	if err != nil {
		return nil, tx.fail("friendships", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return out, tx.fail("friendships", err)
}

// Tokens.

func (tx *tx) PutToken(t qun.Token) error {
	_, err := tx.exec(`INSERT INTO tokens (token, kind, platform, app_key, tenant_key, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Value, t.Kind, t.Platform, t.AppKey, t.TenantKey, t.UserID, sqlstore.MS(t.IssuedAt), sqlstore.MS(t.ExpiresAt))
	return tx.fail("token", err)
}

// ConsumeToken deletes the token and returns it, in one statement: of
// concurrent consumers, the row lock lets one delete it and the others
// find nothing (or fail to serialise, and then find nothing).
func (tx *tx) ConsumeToken(value string) (qun.Token, error) {
	return tx.token(`DELETE FROM tokens WHERE token = ? RETURNING token, kind, platform, app_key, tenant_key, user_id, issued_at, expires_at`, value)
}

func (tx *tx) ExtendToken(value string, expires time.Time) error {
	tag, err := tx.exec(`UPDATE tokens SET expires_at = ? WHERE token = ?`, sqlstore.MS(expires), value)
	return tx.affected("token", tag, err)
}

func (tx *tx) Token(value string) (qun.Token, error) {
	return tx.token(sqlstore.TokenColumns+`WHERE token = ?`, value)
}

func (tx *tx) LatestToken(kind qun.TokenKind, p qun.Platform, appKey, tenantKey, userID string) (qun.Token, error) {
	return tx.token(sqlstore.TokenColumns+`WHERE platform = ? AND kind = ? AND app_key = ? AND tenant_key = ? AND user_id = ? ORDER BY expires_at DESC LIMIT 1`, p, kind, appKey, tenantKey, userID)
}

func (tx *tx) LiveTokens(now time.Time, limit int) ([]qun.Token, error) {
	rows, err := tx.query(sqlstore.TokenColumns+sqlstore.LiveTokensQuery, sqlstore.MS(now), limit)
	if err != nil {
		return nil, tx.fail("tokens", err)
	}
	defer rows.Close()
	ts, err := sqlstore.Tokens(rows)
	return ts, tx.fail("tokens", err)
}

func (tx *tx) token(query string, args ...any) (qun.Token, error) {
	var (
		t               qun.Token
		issued, expires int64
	)
	err := tx.scanRow(query, args, &t.Value, &t.Kind, &t.Platform, &t.AppKey, &t.TenantKey, &t.UserID, &issued, &expires)
	if err != nil {
		return qun.Token{}, tx.fail("token", err)
	}
	t.IssuedAt, t.ExpiresAt = sqlstore.FromMS(issued), sqlstore.FromMS(expires)
	return t, nil
}

// Chats.

func isPublic(c *qun.Chat) bool { return c.Settings.Visibility == qun.Public }

// CreateChat inserts the chat and its search postings in one statement.
func (tx *tx) CreateChat(c *qun.Chat) error {
	return tx.CreateChatWithMembers(c, nil)
}

// CreateChatWithMembers inserts the chat, its search postings and its
// first members in one statement, the members in their order (WITH
// ORDINALITY), with the chat's activity time.
func (tx *tx) CreateChatWithMembers(c *qun.Chat, members []qun.Member) error {
	text := qun.SearchText(*c)
	grams := sqlstore.OrEmpty(qun.SearchGrams(text))
	users, apps, roles, joined := memberColumns(firstOfEach(members))
	err := tx.scanRow(`WITH c AS (INSERT INTO chats (chat_id, conversation_id, platform, tenant_id, creator_app, owner_user, owner_app, name, status, public, search, active_at, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, active_at),
		g AS (INSERT INTO chat_grams (gram, chat_id) SELECT gram, c.id FROM c, unnest(?::text[]) AS gram),
		m AS (INSERT INTO members (chat_id, user_id, app_id, role, joined_at, active_at)
			SELECT c.id, nullif(u, 0), nullif(a, 0), r, j, c.active_at
			FROM c, unnest(?::bigint[], ?::bigint[], ?::text[], ?::bigint[]) WITH ORDINALITY AS v (u, a, r, j, i) ORDER BY i)
		SELECT id FROM c`,
		[]any{c.ChatID, sqlstore.NullString(c.ConversationID), c.Platform, c.TenantID, sqlstore.NullID(c.CreatorApp), sqlstore.NullID(c.OwnerUser), sqlstore.NullID(c.OwnerApp), c.Name, c.Status,
			isPublic(c), text, sqlstore.MS(c.UpdatedAt), sqlstore.Encode(c), grams, users, apps, roles, joined}, &c.ID)
	if err != nil {
		return tx.fail("chat", err)
	}
	for i := range members {
		members[i].Chat = c.ID
	}
	tx.sawChat(*c)
	return nil
}

// firstOfEach is members without the repeats of a user or bot after its
// first, as AddMembers leaves them out: a new chat's members can conflict
// only among themselves, so its insert needs no ON CONFLICT (a speculative
// insertion, checking every unique index first, per row).
func firstOfEach(members []qun.Member) []qun.Member {
	seen := make(map[[2]int64]bool, len(members))
	out := members[:0:0]
	for _, m := range members {
		k := [2]int64{m.User, m.App}
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}

// memberColumns are members as the columns unnest reads (0 for NULL).
func memberColumns(members []qun.Member) (users, apps []int64, roles []string, joined []int64) {
	users, apps, roles, joined = make([]int64, len(members)), make([]int64, len(members)), make([]string, len(members)), make([]int64, len(members))
	for i, m := range members {
		users[i], apps[i], roles[i], joined[i] = m.User, m.App, string(m.Role), sqlstore.MS(m.JoinedAt)
	}
	return users, apps, roles, joined
}

// rarestGram picks, among a keyword's grams, the one posted for the fewest
// chats, counting each at most sqlstore.GramProbe far: the chats posted under it
// are the candidates Chats checks, so a rare gram keeps a search's cost
// that of its matches rather than of the store. One statement counts them
// all.
func (tx *tx) rarestGram(grams []string) (string, error) {
	if len(grams) <= 1 {
		return strings.Join(grams, ""), nil
	}
	grams = grams[:min(len(grams), sqlstore.MaxProbes)]
	var best string
	err := tx.scanRow(`SELECT g FROM unnest(?::text[]) WITH ORDINALITY AS k (g, i),
		LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM chat_grams WHERE gram = k.g LIMIT ?) p) c
		ORDER BY c.n, k.i LIMIT 1`, []any{grams, sqlstore.GramProbe}, &best)
	return best, tx.fail("chat search index", err)
}

func (tx *tx) UpdateChat(c qun.Chat) error {
	text := qun.SearchText(c)
	var old string
	if err := tx.scanRow(`SELECT search FROM chats WHERE id = ?`, []any{c.ID}, &old); err != nil {
		return tx.fail("chat", err)
	}
	tag, err := tx.exec(`UPDATE chats SET owner_user = ?, owner_app = ?, name = ?, status = ?, public = ?, search = ?, active_at = ?, data = ? WHERE id = ?`,
		sqlstore.NullID(c.OwnerUser), sqlstore.NullID(c.OwnerApp), c.Name, c.Status, isPublic(&c), text, sqlstore.MS(c.UpdatedAt), sqlstore.Encode(c), c.ID)
	if err := tx.affected("chat", tag, err); err != nil {
		return err
	}
	tx.sawChat(c)
	if _, err := tx.exec(`UPDATE members SET active_at = ? WHERE chat_id = ? AND app_id IS NOT NULL`, sqlstore.MS(c.UpdatedAt), c.ID); err != nil {
		return tx.fail("members", err)
	}
	if text == old {
		return nil
	}
	// One statement: the grams it deletes and those it inserts are
	// disjoint, so the insert cannot meet a posting the delete removes.
	drop, add := qun.GramChanges(old, text)
	_, err = tx.exec(`WITH d AS (DELETE FROM chat_grams WHERE chat_id = ? AND gram = ANY(?::text[]))
		INSERT INTO chat_grams (gram, chat_id) SELECT gram, ?::bigint FROM unnest(?::text[]) AS gram ON CONFLICT DO NOTHING`,
		c.ID, sqlstore.OrEmpty(drop), c.ID, sqlstore.OrEmpty(add))
	return tx.fail("chat search index", err)
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

// LockChat takes the node's lock of the chat, restarting the update when
// it did not hold it yet (see the package doc), and the chat's row lock.
func (tx *tx) LockChat(id int64) error {
	if !tx.held[id] {
		tx.lock = id
		return errRestart
	}
	_, err := tx.exec(`SELECT 1 FROM chats WHERE id = ? FOR UPDATE`, id)
	return tx.fail("chat", err)
}

// dialect is how this store's SQL says what sqlstore.ChatQuery needs.
var dialect = sqlstore.Dialect{Public: `c.public`, Contains: func(col string) string { return `strpos(` + col + `, ?) > 0` }}

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
		return qun.Chat{}, tx.fail("chat", pgx.ErrNoRows)
	}
	return cs[0], nil
}

func (tx *tx) chats(where string, args ...any) ([]qun.Chat, error) {
	rows, err := tx.query(sqlstore.ChatColumns+where, args...)
	if err != nil {
		return nil, tx.fail("chats", err)
	}
	defer rows.Close()
	out, err := sqlstore.Chats(rows)
	for _, c := range out {
		tx.sawChat(c)
	}
	return out, tx.fail("chats", err)
}

// Members.

func (tx *tx) AddMember(m qun.Member) (bool, error) {
	added, err := tx.AddMembers([]qun.Member{m})
	if err != nil {
		return false, err
	}
	return added[0], nil
}

// AddMembers inserts each chat's new members in one statement, in the
// order given (WITH ORDINALITY keeps it, so seq is the join order);
// RETURNING names those inserted.
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
		of := make([]qun.Member, len(idx))
		for j, i := range idx {
			of[j] = members[i]
		}
		users, apps, roles, joined := memberColumns(of)
		active, args := `(SELECT active_at FROM chats WHERE id = ?)`, []any{chat, chat, users, apps, roles, joined}
		if at, ok := tx.activeAt[chat]; ok {
			active, args = `?::bigint`, []any{chat, at, users, apps, roles, joined}
		}
		rows, err := tx.query(`INSERT INTO members (chat_id, user_id, app_id, role, joined_at, active_at)
			SELECT ?::bigint, nullif(u, 0), nullif(a, 0), r, j, `+active+`
			FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::bigint[]) WITH ORDINALITY AS v (u, a, r, j, i) ORDER BY i
			ON CONFLICT DO NOTHING
			RETURNING coalesce(user_id, 0), coalesce(app_id, 0)`, args...)
		if err != nil {
			return nil, tx.fail("members", err)
		}
		inserted := map[[2]int64]bool{}
		for rows.Next() {
			var u, a int64
			if err := rows.Scan(&u, &a); err != nil {
				rows.Close()
				return nil, tx.fail("members", err)
			}
			inserted[[2]int64{u, a}] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, tx.fail("members", err)
		}
		for _, i := range idx {
			added[i] = inserted[[2]int64{members[i].User, members[i].App}]
		}
	}
	return added, nil
}

func (tx *tx) UpdateMember(m qun.Member) error {
	tag, err := tx.exec(`UPDATE members SET role = ? WHERE chat_id = ? AND (user_id = ? OR app_id = ?)`, m.Role, m.Chat, m.User, m.App)
	return tx.affected("member", tag, err)
}

func (tx *tx) RemoveMember(chat, user, app int64) (bool, error) {
	tag, err := tx.exec(`DELETE FROM members WHERE chat_id = ? AND (user_id = ? OR app_id = ?)`, chat, user, app)
	if err != nil {
		return false, tx.fail("member", err)
	}
	return tag.RowsAffected() > 0, nil
}

func (tx *tx) Member(chat, user, app int64) (qun.Member, error) {
	found, err := tx.members(`WHERE chat_id = ? AND (user_id = ? OR app_id = ?)`, chat, user, app)
	if err != nil {
		return qun.Member{}, err
	}
	if len(found) == 0 {
		return qun.Member{}, tx.fail("member", pgx.ErrNoRows)
	}
	return found[0], nil
}

func (tx *tx) MembersOf(chat int64, users, apps []int64) ([]qun.Member, error) {
	if len(users)+len(apps) == 0 {
		return nil, nil
	}
	return tx.members(`WHERE chat_id = ? AND (user_id = ANY(?::bigint[]) OR app_id = ANY(?::bigint[])) ORDER BY seq`, chat, sqlstore.OrEmpty(users), sqlstore.OrEmpty(apps))
}

func (tx *tx) Members(f qun.MemberFilter) ([]qun.Member, error) {
	q, args := sqlstore.MemberQuery(f)
	return tx.members(q, args...)
}

func (tx *tx) members(where string, args ...any) ([]qun.Member, error) {
	rows, err := tx.query(sqlstore.MemberColumns+where, args...)
	if err != nil {
		return nil, tx.fail("members", err)
	}
	defer rows.Close()
	out, err := sqlstore.Members(rows)
	return out, tx.fail("members", err)
}

func (tx *tx) CountMembers(chat int64) (users, bots int, err error) {
	err = tx.scanRow(`SELECT count(user_id), count(app_id) FROM members WHERE chat_id = ?`, []any{chat}, &users, &bots)
	return users, bots, tx.fail("members", err)
}

func (tx *tx) Roster(chat int64) (qun.Roster, error) {
	rows, err := tx.query(sqlstore.RosterQuery, chat, chat, string(qun.RoleManager))
	if err != nil {
		return qun.Roster{}, tx.fail("members", err)
	}
	defer rows.Close()
	r, err := sqlstore.Roster(rows)
	return r, tx.fail("members", err)
}

// Dedupe.

// ClaimDedupe claims the key, or reads who holds it, in one statement.
func (tx *tx) ClaimDedupe(d qun.Dedupe, notBefore time.Time) (string, error) {
	var holder string
	err := tx.scanRow(`WITH claim AS (INSERT INTO dedupe (scope, key, chat_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (scope, key) DO UPDATE SET chat_id = excluded.chat_id, created_at = excluded.created_at
			WHERE dedupe.created_at < ? RETURNING chat_id)
		SELECT chat_id FROM claim UNION ALL SELECT chat_id FROM dedupe WHERE scope = ? AND key = ? AND NOT EXISTS (SELECT 1 FROM claim)`,
		[]any{d.Scope, d.Key, d.ChatID, sqlstore.MS(d.CreatedAt), sqlstore.MS(notBefore), d.Scope, d.Key}, &holder)
	return holder, tx.fail("dedupe", err)
}

func (tx *tx) PurgeDedupe(before time.Time, limit int) (int, error) {
	tag, err := tx.exec(`DELETE FROM dedupe WHERE (scope, key) IN (SELECT scope, key FROM dedupe WHERE created_at < ? LIMIT ?)`, sqlstore.MS(before), limit)
	return int(tag.RowsAffected()), tx.fail("dedupe", err)
}

func (tx *tx) PurgeEvents(before time.Time, limit int) (int, error) {
	tag, err := tx.exec(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE due_at IS NULL AND created_at < ? LIMIT ?)`, sqlstore.MS(before), limit)
	return int(tag.RowsAffected()), tx.fail("events", err)
}

func (tx *tx) PurgeTokens(before time.Time, limit int) (int, error) {
	tag, err := tx.exec(`DELETE FROM tokens WHERE token IN (SELECT token FROM tokens WHERE expires_at < ? LIMIT ?)`, sqlstore.MS(before), limit)
	return int(tag.RowsAffected()), tx.fail("tokens", err)
}

// Links.

func (tx *tx) PutLink(l *qun.Link) error {
	err := tx.scanRow(`INSERT INTO links (platform, key, data) VALUES (?, ?, ?) ON CONFLICT (platform, key) DO UPDATE SET data = excluded.data RETURNING id`,
		[]any{l.Platform, l.Key, sqlstore.Encode(l)}, &l.ID)
	return tx.fail("link", err)
}

func (tx *tx) Links(p qun.Platform) ([]qun.Link, error) {
	rows, err := tx.query(sqlstore.LinkColumns+`WHERE ?::text IN ('', platform) ORDER BY id`, p)
	if err != nil {
		return nil, tx.fail("links", err)
	}
	defer rows.Close()
	out, err := sqlstore.Links(rows)
	return out, tx.fail("links", err)
}

// Meta and reset.

func (tx *tx) Meta(key string) (string, error) {
	var v string
	err := tx.scanRow(`SELECT value FROM meta WHERE key = ?`, []any{key}, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, tx.fail("meta", err)
}

func (tx *tx) SetMeta(key, value string) error {
	_, err := tx.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return tx.fail("meta", err)
}

func (tx *tx) Reset() error {
	for _, table := range sqlstore.Reset {
		if _, err := tx.exec(`DELETE FROM ` + table); err != nil {
			return tx.fail("reset "+table, err)
		}
	}
	return nil
}

// Events.

// AddEvents inserts the events in one statement, each taking its ID from
// the row its event ID names.
func (tx *tx) AddEvents(es []qun.Event) error {
	if len(es) == 0 {
		return nil
	}
	var (
		eventIDs, chats, statuses, data = make([]string, len(es)), make([]string, len(es)), make([]string, len(es)), make([]string, len(es))
		apps, created                   = make([]int64, len(es)), make([]int64, len(es))
		conns                           = make([]bool, len(es))
		dues                            = make([]*int64, len(es))
	)
	for i, e := range es {
		conn, due, body := sqlstore.EventRow(e)
		eventIDs[i], apps[i], chats[i], conns[i], statuses[i], created[i], data[i] = e.EventID, e.App, e.ChatID, conn, string(e.Status), sqlstore.MS(e.CreatedAt), body
		if ms, ok := due.(int64); ok {
			dues[i] = &ms
		}
	}
	rows, err := tx.query(`INSERT INTO events (event_id, app_id, chat_id, conn, status, created_at, due_at, data)
		SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::boolean[], ?::text[], ?::bigint[], ?::bigint[], ?::text[]) RETURNING id, event_id`,
		eventIDs, apps, chats, conns, statuses, created, dues, data)
	if err != nil {
		return tx.fail("event", err)
	}
	defer rows.Close()
	ids := make(map[string]int64, len(es))
	for rows.Next() {
		var (
			id      int64
			eventID string
		)
		if err := rows.Scan(&id, &eventID); err != nil {
			return tx.fail("event", err)
		}
		ids[eventID] = id
	}
	if err := rows.Err(); err != nil {
		return tx.fail("event", err)
	}
	for i := range es {
		es[i].ID = ids[es[i].EventID]
	}
	return nil
}

func (tx *tx) DueEvents(d qun.Due) ([]qun.Event, error) {
	// Each app's first d.Each() due events, read per app from
	// events_push_app or events_conn_due (app_id, due_at): the cost is
	// bounded by the LIMIT and the apps with pending events, not by any
	// app's backlog, and the busy apps' events are not read at all;
	// MergeDue orders them. The apps with pending webhook events come from
	// a recursive loose scan of events_push_app, one seek per app.
	push, err := tx.eventRows(`WITH RECURSIVE a (app) AS (SELECT 0::bigint UNION ALL SELECT (SELECT app_id FROM events WHERE app_id > a.app AND due_at IS NOT NULL AND NOT conn ORDER BY app_id LIMIT 1) FROM a WHERE a.app IS NOT NULL)
		SELECT e.id, e.app_id, e.data FROM a, LATERAL (SELECT id, app_id, data FROM events WHERE app_id = a.app AND due_at <= ? AND NOT conn ORDER BY due_at LIMIT ?) e WHERE NOT (a.app = ANY(?::bigint[]))`,
		sqlstore.MS(d.Now), d.Each(), sqlstore.OrEmpty(d.Busy))
	connected := sqlstore.Without(d.Connected, d.Busy)
	if err != nil || len(connected) == 0 {
		return sqlstore.MergeDue(push, nil, d.Limit), err
	}
	conn, err := tx.eventRows(`SELECT e.id, e.app_id, e.data FROM unnest(?::bigint[]) AS a (app), LATERAL (SELECT id, app_id, data FROM events WHERE app_id = a.app AND due_at <= ? AND conn ORDER BY due_at LIMIT ?) e`,
		connected, sqlstore.MS(d.Now), d.Each())
	return sqlstore.MergeDue(push, conn, d.Limit), err
}

func (tx *tx) UpdateEvent(e qun.Event) error {
	_, due, data := sqlstore.EventRow(e)
	tag, err := tx.exec(`UPDATE events SET status = ?, due_at = ?, data = ? WHERE id = ?`, string(e.Status), due, data, e.ID)
	return tx.affected("event", tag, err)
}

func (tx *tx) Event(id int64) (qun.Event, error) {
	es, err := tx.events(`WHERE id = ?`, id)
	if err != nil {
		return qun.Event{}, err
	}
	if len(es) == 0 {
		return qun.Event{}, tx.fail("event", pgx.ErrNoRows)
	}
	return es[0], nil
}

func (tx *tx) Events(f qun.EventFilter) ([]qun.Event, error) {
	q, args := sqlstore.EventQuery(f)
	return tx.events(q, args...)
}

func (tx *tx) events(where string, args ...any) ([]qun.Event, error) {
	return tx.eventRows(sqlstore.EventColumns+where, args...)
}

// eventRows runs q, which selects the columns of sqlstore.EventColumns.
func (tx *tx) eventRows(q string, args ...any) ([]qun.Event, error) {
	rows, err := tx.query(q, args...)
	if err != nil {
		return nil, tx.fail("events", err)
	}
	defer rows.Close()
	out, err := sqlstore.Events(rows)
	return out, tx.fail("events", err)
}

func (tx *tx) AddAttempt(a *qun.Attempt) error {
	err := tx.scanRow(`INSERT INTO attempts (event, data) VALUES (?, ?) RETURNING id`, []any{a.Event, sqlstore.Encode(a)}, &a.ID)
	return tx.fail("attempt", err)
}

func (tx *tx) Attempts(events []int64) ([]qun.Attempt, error) {
	if len(events) == 0 {
		return nil, nil
	}
	rows, err := tx.query(sqlstore.AttemptColumns+`WHERE event = ANY(?::bigint[]) ORDER BY event, id`, events)
	if err != nil {
		return nil, tx.fail("attempts", err)
	}
	defer rows.Close()
	out, err := sqlstore.Attempts(rows)
	return out, tx.fail("attempts", err)
}

// Messages.

func (tx *tx) AddMessage(m *qun.Message) error {
	err := tx.scanRow(`INSERT INTO messages (message_id, chat_id, created_at, data) VALUES (?, ?, ?, ?) RETURNING id`,
		[]any{m.MessageID, m.Chat, sqlstore.MS(m.CreatedAt), sqlstore.Encode(m)}, &m.ID)
	return tx.fail("message", err)
}

func (tx *tx) MessageByID(messageID string) (qun.Message, error) {
	ms, err := tx.messages(`WHERE message_id = ?`, messageID)
	if err != nil {
		return qun.Message{}, err
	}
	if len(ms) == 0 {
		return qun.Message{}, tx.fail("message", pgx.ErrNoRows)
	}
	return ms[0], nil
}

func (tx *tx) UpdateMessage(m qun.Message) error {
	res, err := tx.exec(`UPDATE messages SET data = ? WHERE id = ?`, sqlstore.Encode(m), m.ID)
	return tx.affected("message", res, err)
}

func (tx *tx) Messages(f qun.MessageFilter) ([]qun.Message, error) {
	q, args := sqlstore.MessageQuery(f)
	ms, err := tx.messages(q, args...)
	return sqlstore.FilterSender(ms, f), err
}

func (tx *tx) messages(where string, args ...any) ([]qun.Message, error) {
	rows, err := tx.query(sqlstore.MessageColumns+where, args...)
	if err != nil {
		return nil, tx.fail("messages", err)
	}
	defer rows.Close()
	out, err := sqlstore.Messages(rows)
	return out, tx.fail("messages", err)
}
