// Package sqlite implements qun.Store on an embedded SQLite database, the
// default store of a single qun node.
//
// It uses github.com/ncruces/go-sqlite3, SQLite compiled to WebAssembly and
// translated to Go: qun stays one static binary that builds and
// cross-compiles without a C toolchain, and creates run 1.4 times as fast
// as with modernc.org/sqlite (BENCHMARKS.md). The database runs in WAL mode
// with synchronous=FULL, so a committed transaction survives a crash or a
// power loss; foreign keys are on. Reads go through a pool of connections.
// Writes go through one connection (SQLite has one writer anyway) driven by
// one goroutine that commits in groups: it runs the updates waiting in its
// queue one after another in one transaction and answers them only after
// the commit, so one fsync serves many updates. Migrations are the numbered
// files in migrations/, applied in order.
//
// Which failures share fate: an update that returns an error, panics, or
// whose caller's context ends fails alone. If it wrote nothing, there is
// nothing to undo; if it did, the transaction is rolled back and the other
// updates of the group run again without it (the Store contract allows
// running an update more than once). A cancelled update is checked before
// each of its statements; a statement already running is never
// interrupted, since SQLite rolls back the whole transaction when a write
// is interrupted. Only a failure of the shared transaction itself (BEGIN
// or COMMIT failing, e.g. a full disk or an I/O error) fails every update
// of the group, and each of them is told so.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/qunhq/qun/internal/qun"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a qun.Store on one SQLite database file.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	// Prepared statements of each pool, by query text: SQLite spends more
	// time parsing a statement than running most of ours.
	writerStmts, readerStmts stmtCache

	writes chan *write // updates waiting for the writer
	closed chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// write is one update waiting for the writer goroutine.
type write struct {
	ctx  context.Context
	fn   func(qun.Tx) error
	done chan error
}

// maxGroup bounds how many updates share one commit.
const maxGroup = 128

// stmtCache holds the prepared statements of one pool.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxCachedArgs leaves queries with long IN lists unprepared, so that the
// cache stays small.
const maxCachedArgs = 16

// maxCachedStmts bounds a pool's cache. The store's queries are a fixed
// set of texts (values are parameters, never literals), so the bound is
// only reached by a bug; past it, new texts run unprepared rather than
// grow the process.
const maxCachedStmts = 512

func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// prepare caches queries a transaction missed. It runs after the
// transaction released its connection: the writer pool has only one.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB, queries []string) {
	for _, q := range queries {
		if c.get(q) != nil {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			continue // the query runs unprepared next time too
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		if _, dup := c.m[q]; dup || len(c.m) >= maxCachedStmts {
			st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

var _ qun.Store = (*DB)(nil)

// ErrDiskFull is wrapped by Open's error when the disk holding the
// database is full.
var ErrDiskFull = errors.New("the disk is full")

// diskFull says so when Open failed on a full disk: SQLite's or the
// system's "disk full", or any failure while the disk holding the database
// has (almost) no space left (a failed write surfaces as an I/O error).
func diskFull(path string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite3.Error
	full := errors.Is(err, syscall.ENOSPC) || errors.As(err, &se) && se.Code() == sqlite3.FULL
	if free, ok := freeBytes(filepath.Dir(path)); !full && ok {
		full = free < 1<<20
	}
	if full {
		return fmt.Errorf("sqlite: %w: %s needs free space (%v)", ErrDiskFull, filepath.Dir(path), err)
	}
	return err
}

// Open opens (creating if needed) the database file at path and migrates it
// to the newest schema.
func Open(ctx context.Context, path string) (*DB, error) {
	db, err := open(ctx, path)
	return db, diskFull(path, err)
}

func open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	pragmas := []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(FULL)", "journal_size_limit(67108864)"}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(slices.Clone(pragmas), extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	writer, err := sql.Open("sqlite3", dsn())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	db := &DB{path: path, writer: writer, writes: make(chan *write), closed: make(chan struct{})}
	db.wg.Add(1)
	go db.writeLoop()
	if err := db.migrate(ctx); err != nil {
		db.stopWriter()
		writer.Close()
		return nil, err
	}
	if err := db.indexGrams(ctx); err != nil {
		db.stopWriter()
		writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite3", dsn("query_only(1)"))
	if err != nil {
		db.stopWriter()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	db.reader = reader
	return db, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes the database.
// Close waits for queued updates and closes the database.
func (db *DB) Close() error {
	db.stopWriter()
	return errors.Join(db.readerStmts.close(), db.writerStmts.close(), db.reader.Close(), db.writer.Close())
}

func (db *DB) stopWriter() {
	db.once.Do(func() { close(db.closed) })
	db.wg.Wait()
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: bad name: %w", name, err)
		}
		script, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", name, err)
		}
		err = db.Update(ctx, func(t qun.Tx) error {
			tx := t.(*tx)
			var n int
			if err := tx.QueryRowContext(tx.ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(tx.ctx, string(script)); err != nil {
				return err
			}
			_, err := tx.ExecContext(tx.ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", name, err)
		}
	}
	return nil
}

// indexGrams fills the search index for the chats of a database created
// before it existed (migration 6 marks it pending): the bigrams are the
// core's (qun.SearchGrams), so SQL cannot derive them.
func (db *DB) indexGrams(ctx context.Context) error {
	return db.Update(ctx, func(t qun.Tx) error {
		tx := t.(*tx)
		if v, err := tx.Meta("chat_grams"); err != nil || v != "pending" {
			return err
		}
		rows, err := tx.query(`SELECT id, search FROM chats`)
		if err != nil {
			return fail("chats", err)
		}
		texts := map[int64]string{}
		for rows.Next() {
			var id int64
			var text string
			if err := rows.Scan(&id, &text); err != nil {
				rows.Close()
				return fail("chats", err)
			}
			texts[id] = text
		}
		rows.Close()
		for id, text := range texts {
			if err := tx.postGrams(id, qun.SearchGrams(text)); err != nil {
				return err
			}
		}
		return tx.SetMeta("chat_grams", "done")
	})
}

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(qun.Tx) error) error {
	sqlTx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	t := &tx{Tx: sqlTx, ctx: ctx, caller: ctx, stmts: &db.readerStmts}
	defer func() {
		sqlTx.Rollback()
		db.readerStmts.prepare(context.WithoutCancel(ctx), db.reader, t.missed)
	}()
	return fn(t)
}

// Meta reads a store-wide setting outside a transaction.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	const q = `SELECT value FROM meta WHERE key = ?`
	// Prepared once: every request reads the directory version here, and
	// parsing the statement cost more than running it.
	st := db.readerStmts.get(q)
	if st == nil {
		db.readerStmts.prepare(context.WithoutCancel(ctx), db.reader, []string{q})
		st = db.readerStmts.get(q)
	}
	var v string
	var err error
	if st != nil {
		err = st.QueryRowContext(ctx, key).Scan(&v)
	} else {
		err = db.reader.QueryRowContext(ctx, q, key).Scan(&v)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, fail("meta", err)
}

// Update runs fn in a read-write transaction, committed with the other
// updates queued beside it. It returns once the commit is durable, or with
// fn's error after rolling back fn's writes.
func (db *DB) Update(ctx context.Context, fn func(qun.Tx) error) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closed:
		return errors.New("sqlite: database closed")
	}
	// Once queued, fn may run and commit: wait for the outcome whatever
	// happens to ctx, so that a success is never reported as a failure.
	return <-w.done
}

// writeLoop is the writer goroutine.
func (db *DB) writeLoop() {
	defer db.wg.Done()
	for {
		var group []*write
		select {
		case w := <-db.writes:
			group = append(group, w)
		case <-db.closed:
			return
		}
	gather:
		for len(group) < maxGroup {
			select {
			case w := <-db.writes:
				group = append(group, w)
			default:
				break gather
			}
		}
		db.commitGroup(group)
	}
}

// commitGroup runs a group of updates in one transaction and answers them.
//
// It takes no savepoint per update. An update that fails before writing
// (most failures: the rules reject a request before anything is written)
// leaves nothing to undo. One that fails after writing has its error
// answered, and the transaction is rolled back and begun again with the
// others: the Store contract lets a store run an update's fn more than
// once. A savepoint per update cost a fifth of the writer's time (SQLite
// copies every page an update touches into a sub-journal), for the rare
// update that fails halfway.
func (db *DB) commitGroup(group []*write) {
	results := make([]error, len(group))
	decided := make([]bool, len(group)) // the update's answer is its error
	var missed []string
	defer func() {
		for i, w := range group {
			w.done <- results[i]
		}
		db.writerStmts.prepare(context.Background(), db.writer, missed)
	}()
	undecidedFail := func(err error) {
		for i := range results {
			if !decided[i] {
				results[i] = err
			}
		}
	}
	for {
		sqlTx, err := db.writer.BeginTx(context.Background(), nil)
		if err != nil {
			undecidedFail(fmt.Errorf("sqlite: begin: %w", err))
			return
		}
		again, ok := false, 0
		meta := map[string]string{}
		for i, w := range group {
			if decided[i] {
				continue
			}
			results[i] = nil
			if err := w.ctx.Err(); err != nil {
				results[i], decided[i] = err, true
				continue
			}
			t := newUpdateTx(sqlTx, w.ctx, &db.writerStmts, meta)
			err := runGuarded(w.fn, t)
			if t.moved {
				err = qun.ErrMoved // whatever fn made of it (Tx.ExpectMeta)
			}
			missed = append(missed, t.missed...)
			if err == nil {
				ok++
				continue
			}
			results[i], decided[i] = err, true
			if t.wrote && len(group) > 1 {
				again = true // undo its writes: run the others again without it
				break
			}
		}
		if again {
			sqlTx.Rollback()
			continue
		}
		if ok == 0 {
			sqlTx.Rollback()
			return
		}
		if err := sqlTx.Commit(); err != nil {
			undecidedFail(fmt.Errorf("sqlite: commit: %w", err))
		}
		return
	}
}

// runGuarded runs fn, turning a panic into an error: a panicking update must
// not take the writer goroutine, and every other update, down with it.
func runGuarded(fn func(qun.Tx) error, t qun.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: update panicked: %v\n%s", v, debug.Stack())
		}
	}()
	return fn(t)
}

// tx implements qun.Tx.
type tx struct {
	*sql.Tx
	// ctx runs the statements; caller is the context of the operation,
	// checked before each statement. They differ in updates: a statement
	// of an update is never interrupted, because SQLite answers an
	// interrupted write by rolling back the whole transaction, and so the
	// other updates of its group; a cancelled update stops at its next
	// statement instead, and rolls back alone.
	ctx, caller context.Context
	stmts       *stmtCache
	// wrote is set once the transaction ran a write; moved once an
	// ExpectMeta comparison failed.
	wrote, moved bool
	// missed lists cacheable queries that were not prepared yet.
	missed []string
	// meta holds the meta values read or written in this SQL transaction,
	// shared by the updates of a group, so that each of them checking the
	// directory version does not read it again: within a write
	// transaction nobody else writes. Nil in views.
	meta map[string]string
}

// newUpdateTx is the transaction of an update for caller, in a write
// transaction whose meta values so far are meta.
func newUpdateTx(sqlTx *sql.Tx, caller context.Context, stmts *stmtCache, meta map[string]string) *tx {
	return &tx{Tx: sqlTx, ctx: context.WithoutCancel(caller), caller: caller, stmts: stmts, meta: meta}
}

// stmt returns query prepared for this transaction: the pool's prepared
// statement when there is one. It fails once the caller's context is done.
func (tx *tx) stmt(query string, nargs int) (*sql.Stmt, error) {
	if err := tx.caller.Err(); err != nil {
		return nil, err
	}
	if st := tx.stmts.get(query); st != nil {
		return tx.StmtContext(tx.ctx, st), nil
	}
	if nargs <= maxCachedArgs {
		tx.missed = append(tx.missed, query)
	}
	return tx.PrepareContext(tx.ctx, query)
}

// trace, when set (by the query-plan test), sees every query the store
// issues with its arguments; it is atomic, as the stores' goroutines (the
// event engine's among them) read it while a test sets it.
var trace atomic.Pointer[func(query string, args []any)]

// traced reports a query to the trace, if one is set.
func traced(query string, args []any) {
	if fn := trace.Load(); fn != nil {
		(*fn)(query, args)
	}
}

func (tx *tx) exec(query string, args ...any) (sql.Result, error) {
	traced(query, args)
	tx.wrote = true // every exec is a write; see also AddMembers
	st, err := tx.stmt(query, len(args))
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, args...)
}

func (tx *tx) query(query string, args ...any) (*sql.Rows, error) {
	traced(query, args)
	st, err := tx.stmt(query, len(args))
	if err != nil {
		return nil, err
	}
	return st.QueryContext(tx.ctx, args...)
}

// scanRow runs a query that returns one row into dest.
func (tx *tx) scanRow(query string, args []any, dest ...any) error {
	traced(query, args)
	st, err := tx.stmt(query, len(args))
	if err != nil {
		return err
	}
	return st.QueryRowContext(tx.ctx, args...).Scan(dest...)
}

// fail maps a driver error to a domain error.
func fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &qun.Error{Code: qun.ENotFound, Message: what + " not found"}
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode() {
		case sqlite3.CONSTRAINT_UNIQUE, sqlite3.CONSTRAINT_PRIMARYKEY:
			return &qun.Error{Code: qun.EConflict, Message: what + " already exists", Err: err}
		case sqlite3.CONSTRAINT_FOREIGNKEY:
			return &qun.Error{Code: qun.ENotFound, Message: what + " refers to something that does not exist", Err: err}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}
