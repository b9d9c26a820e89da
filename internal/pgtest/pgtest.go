// Package pgtest gives tests a PostgreSQL schema of their own on the
// database QUN_TEST_POSTGRES names (a postgres:// URL), so that the whole
// test suite can run on PostgreSQL, each test apart.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/stores"
)

// Env is the variable that names the test database.
const Env = "QUN_TEST_POSTGRES"

// URL returns the test database's URL, "" when Env is unset.
func URL() string { return os.Getenv(Env) }

// Schema creates an empty schema on the test database, dropped when tb
// ends, and returns a URL whose connections use it. It fails tb when the
// database is unreachable: a run that asked for PostgreSQL never skips it.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := URL()
	if base == "" {
		tb.Fatalf("pgtest: %s is not set", Env)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "qun_test_" + hex.EncodeToString(b[:])
	exec(tb, base, `CREATE SCHEMA `+name)
	tb.Cleanup(func() { exec(tb, base, `DROP SCHEMA `+name+` CASCADE`) })
	return WithSchema(tb, base, name)
}

// WithSchema returns dsn with its connections' search_path set to schema.
func WithSchema(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		tb.Fatalf("pgtest: %s must be a postgres:// URL, is %q", Env, dsn)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Store opens a store for a test, closed when tb ends: on a schema of its
// own when Env is set, else SQLite in a temporary directory.
func Store(tb testing.TB) qun.Store {
	tb.Helper()
	db := ""
	if URL() != "" {
		db = Schema(tb)
	}
	s, err := stores.Open(context.Background(), db, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
