// Package postgres implements qun.Store on PostgreSQL through pgx, the
// store of a qun deployment with several nodes.
//
// Every Update runs in a SERIALIZABLE transaction: PostgreSQL's
// serializable snapshot isolation gives the contract of qun.Store (updates
// serializable with respect to each other) without a global lock, and the
// store retries a transaction that fails with a serialization failure or a
// deadlock (SQLSTATE 40001, 40P01), with a jittered backoff, up to
// maxAttempts times; the Store contract allows running fn again. Uniqueness
// (chat IDs, aliases, dedupe keys, memberships) is enforced by constraints;
// a duplicate dedupe claim made concurrently fails the later transaction
// with 40001, and its retry reads the winner's claim.
//
// LockChat serialises the updates of one chat on a node before they reach
// the database: an update that asks for the lock is rolled back, waits for
// the node's lock of that chat, and runs again from the start, so that its
// snapshot is taken after the previous holder committed; a row lock (FOR
// UPDATE) orders holders on different nodes, and the serializable check
// catches what the lock cannot. It takes no session state, so it works
// behind pgbouncer in transaction mode (with a DSN parameter
// default_query_exec_mode=exec or simple_protocol, since pgbouncer does
// not keep prepared statements).
//
// An update whose only statement is its last (Tx.Last) is combined with
// the other such updates waiting at that moment into one transaction, one
// round trip (combine.go).
//
// Views run in REPEATABLE READ READ ONLY transactions: one consistent
// snapshot. Migrations are the numbered files in migrations/, applied
// under an advisory lock, so that nodes starting together on an empty
// database apply each exactly once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qunhq/qun/internal/qun"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxAttempts bounds how many times Update runs a transaction that keeps
// failing to serialise.
const maxAttempts = 30

// defaultConns is the connection pool's size when the URL does not say
// (pool_max_conns).
const defaultConns = 16

// migrationLock is the advisory lock key held while migrating (chat locks
// are node-local, so no key of the database's is shared with them).
const migrationLock = 0x71756e // "qun"

// DB is a qun.Store on a PostgreSQL database (one schema of it: the
// connection's search_path).
type DB struct {
	pool *pgxpool.Pool
	// retries counts the attempts that failed to serialise and ran again.
	retries atomic.Int64
	// chats holds the node's lock of each chat an update asked for.
	chatsMu sync.Mutex
	chats   map[int64]*chatLock
	// combiner sends updates of one statement together (combine.go).
	combiner combiner
}

// chatLock is a node-local lock of one chat, with the number of updates
// holding or waiting for it.
type chatLock struct {
	mu    sync.Mutex
	users int
}

// Open connects to the database dsn names (a postgres:// URL or a
// key=value string, as pgx reads them) and migrates it to the newest
// schema.
//
// Besides pgx's settings the URL may carry qun_combine=N: how many
// transactions combining one-statement updates (combine.go) the node has
// under way at once (default 2; 0 sends every update in a transaction of
// its own).
func Open(ctx context.Context, dsn string) (*DB, error) {
	dsn, combine, err := takeSetting(dsn, "qun_combine", defaultFlying)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (the CPUs, at least 4) queues a node's
		// requests behind a few connections that mostly wait on round
		// trips; pool_max_conns in the URL overrides this.
		cfg.MaxConns = defaultConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, chats: map[int64]*chatLock{}}
	db.combiner.db, db.combiner.limit = db, combine
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// takeSetting removes the setting key from dsn (a postgres:// URL's query
// parameter or a key=value pair), which pgx would otherwise send to the
// server as a run-time parameter, and returns its value, a count (def
// when absent).
func takeSetting(dsn, key string, def int) (string, int, error) {
	raw, found := "", false
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		if q.Has(key) {
			raw, found = q.Get(key), true
			q.Del(key)
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
	} else {
		fields := strings.Fields(dsn)
		kept := fields[:0]
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				raw, found = v, true
				continue
			}
			kept = append(kept, f)
		}
		if found {
			dsn = strings.Join(kept, " ")
		}
	}
	if !found {
		return dsn, def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("%s=%q is not a count", key, raw)
	}
	return dsn, n, nil
}

// Close closes the connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Retries reports how many attempts of updates failed to serialise and
// ran again since the store was opened.
func (db *DB) Retries() int64 { return db.retries.Load() }

// Pool returns the connection pool (tests).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Release()
	// The lock is a transaction's, so that it is released with it even
	// behind pgbouncer; one transaction per migration keeps them apart.
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: bad name: %w", name, err)
		}
		script, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(t pgx.Tx) error {
			if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLock); err != nil {
				return err
			}
			if _, err := t.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
				return err
			}
			var n int
			if err := t.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := t.Exec(ctx, string(script), pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := t.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
	}
	return nil
}

// The transactions' first statements. A transaction is begun with its
// first statement, sent together with it in one round trip.
const (
	beginView   = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	beginUpdate = `BEGIN ISOLATION LEVEL SERIALIZABLE`
)

// View runs fn in a read-only transaction on one snapshot.
func (db *DB) View(ctx context.Context, fn func(qun.Tx) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	t := &tx{ctx: ctx, db: db, conn: conn, begin: beginView}
	defer func() {
		t.end(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Release()
	}()
	return fn(t)
}

// Meta reads a store-wide setting outside a transaction.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	const q = `SELECT value FROM meta WHERE key = $1`
	traced(q, []any{key})
	var v string
	err := db.pool.QueryRow(ctx, q, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: meta: %w", err)
	}
	return v, nil
}

// errRestart ends an attempt whose update asked for a chat lock it did not
// hold: it runs again once it holds it.
var errRestart = errors.New("postgres: restart holding the chat lock")

// Update runs fn in a serializable transaction, retrying serialization
// failures, and returns once the commit is durable.
func (db *DB) Update(ctx context.Context, fn func(qun.Tx) error) error {
	held := map[int64]bool{}
	defer db.unlockChats(held)
	for attempt := 1; ; attempt++ {
		t, err := db.attempt(ctx, fn, held)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errRestart):
			// Locks are taken in ascending order of chat, so that two
			// updates of the same chats cannot wait for each other.
			ids := append(slices.Collect(maps.Keys(held)), t.lock)
			slices.Sort(ids)
			db.unlockChats(held)
			for _, id := range ids {
				db.lockChat(id)
				held[id] = true
			}
			attempt-- // not a failure
			continue
		case !t.retry || attempt >= maxAttempts:
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return err
		}
		db.retries.Add(1)
		// Back off by a random fraction of a delay that doubles, from a
		// millisecond up to 64.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// attempt runs fn once in a transaction and commits it. The tx it returns
// says whether a failure is worth retrying.
func (db *DB) attempt(ctx context.Context, fn func(qun.Tx) error, held map[int64]bool) (*tx, error) {
	t := &tx{ctx: ctx, db: db, held: held, begin: beginUpdate}
	defer func() {
		if t.conn != nil {
			t.conn.Release()
		}
	}()
	detached := context.WithoutCancel(ctx)
	err := runGuarded(fn, t)
	if t.lock != 0 {
		err = errRestart
	}
	if t.moved {
		// Whatever fn made of the failed comparison, the update fails
		// with it (Tx.ExpectMeta).
		err = fmt.Errorf("postgres: %w", qun.ErrMoved)
	}
	if t.committed {
		// fn's last statement carried the COMMIT (Tx.Last); fn promised
		// to return nil after it.
		if err != nil {
			return t, fmt.Errorf("postgres: the update failed after it committed: %w", err)
		}
		return t, nil
	}
	if err != nil || t.retry {
		t.end(detached, "ROLLBACK")
		if err == nil {
			err = errors.New("postgres: the transaction failed to serialise")
		}
		return t, err
	}
	if err := ctx.Err(); err != nil {
		t.end(detached, "ROLLBACK")
		return t, err
	}
	// Once COMMIT is sent the outcome is the server's: a cancelled caller
	// must not turn a commit into a reported failure.
	if err := t.end(detached, "COMMIT"); err != nil {
		return t, fmt.Errorf("postgres: commit: %w", err)
	}
	return t, nil
}

// runGuarded runs fn, turning a panic into an error.
func runGuarded(fn func(qun.Tx) error, t qun.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("postgres: update panicked: %v", v)
		}
	}()
	return fn(t)
}

func (db *DB) lockChat(id int64) {
	db.chatsMu.Lock()
	l := db.chats[id]
	if l == nil {
		l = &chatLock{}
		db.chats[id] = l
	}
	l.users++
	db.chatsMu.Unlock()
	l.mu.Lock()
}

// unlockChats releases the node's locks of the chats in held, and empties
// it.
func (db *DB) unlockChats(held map[int64]bool) {
	db.chatsMu.Lock()
	defer db.chatsMu.Unlock()
	for id := range held {
		delete(held, id)
		l := db.chats[id]
		l.users--
		if l.users == 0 {
			delete(db.chats, id)
		}
		l.mu.Unlock()
	}
}
