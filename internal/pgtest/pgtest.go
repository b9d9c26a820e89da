// Package pgtest gives tests a PostgreSQL schema of their own on the
// database QUN_TEST_POSTGRES names (a postgres:// URL), so that the whole
// test suite can run on PostgreSQL, each test apart.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	osexec "os/exec"
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
	return WithSchema(tb, URL(), NewSchema(tb))
}

// NewSchema creates an empty schema on the test database, dropped when tb
// ends, and returns its name.
func NewSchema(tb testing.TB) string {
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
	return name
}

// Bouncer starts Debian's pgbouncer in transaction mode in front of the
// test database, its connections using a new schema (connect_query: in
// transaction mode pgbouncer takes no search_path from clients), and
// returns a URL to it for qun: default_query_exec_mode=exec, since
// pgbouncer 1.18 keeps no prepared statements. It is stopped when tb ends.
func Bouncer(tb testing.TB) string {
	tb.Helper()
	bin, err := osexec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("pgtest: pgbouncer is not installed (Debian package pgbouncer): %v", err)
		}
	}
	schema := NewSchema(tb)
	u, err := url.Parse(URL())
	if err != nil {
		tb.Fatal(err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	user := u.User.Username()
	if user == "" {
		user = "postgres"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	listen := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		tb.Fatal(err)
	}
	os.Chmod(dir, 0o777) // pgbouncer drops root for the postgres user
	tb.Cleanup(func() { os.RemoveAll(dir) })
	ini := fmt.Sprintf(`[databases]
qun = host=%s port=%s dbname=%s user=%s connect_query='SET search_path TO %s'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
`, host, port, strings.TrimPrefix(u.Path, "/"), user, schema, listen, dir, dir)
	cfg := dir + "/pgbouncer.ini"
	if err := os.WriteFile(cfg, []byte(ini), 0o644); err != nil {
		tb.Fatal(err)
	}
	args := []string{cfg}
	if os.Geteuid() == 0 {
		args = []string{"-u", "postgres", cfg}
	}
	cmd := osexec.Command(bin, args...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	dsn := fmt.Sprintf("postgres://%s@127.0.0.1:%d/qun?default_query_exec_mode=exec", user, listen)
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", listen)); err == nil {
			c.Close()
			return dsn
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(dir + "/pgbouncer.log")
	tb.Fatalf("pgtest: pgbouncer did not start: %s\n%s", out, log)
	return ""
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
