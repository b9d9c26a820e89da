// Package sqlite implements qun.Store on an embedded SQLite database, the
// default store of a single qun node.
//
// It uses modernc.org/sqlite, a pure-Go translation of SQLite: qun stays one
// static binary that builds and cross-compiles without a C toolchain, at the
// cost of some speed against the cgo driver. The database runs in WAL mode
// with synchronous=FULL, so a committed transaction survives a crash or a
// power loss; foreign keys are on. All writes go through one connection
// (SQLite has one writer anyway), reads through a pool that runs beside it.
// Migrations are the numbered files in migrations/, applied in order.
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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/qun"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a qun.Store on one SQLite database file.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
}

var _ qun.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and migrates it
// to the newest schema.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	pragmas := []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(FULL)"}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(slices.Clone(pragmas), extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	writer, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	db := &DB{path: path, writer: writer}
	if err := db.migrate(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
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
func (db *DB) Close() error {
	return errors.Join(db.reader.Close(), db.writer.Close())
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

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(qun.Tx) error) error {
	return run(ctx, db.reader, &sql.TxOptions{ReadOnly: true}, fn)
}

// Update runs fn in a read-write transaction. There is one writer, so
// updates are serial.
func (db *DB) Update(ctx context.Context, fn func(qun.Tx) error) error {
	return run(ctx, db.writer, nil, fn)
}

func run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(qun.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(&tx{Tx: sqlTx, ctx: ctx}); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// tx implements qun.Tx.
type tx struct {
	*sql.Tx
	ctx context.Context
}

// fail maps a driver error to a domain error.
func fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &qun.Error{Code: qun.ENotFound, Message: what + " not found"}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &qun.Error{Code: qun.EConflict, Message: what + " already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &qun.Error{Code: qun.ENotFound, Message: what + " refers to something that does not exist", Err: err}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
