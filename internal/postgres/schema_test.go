package postgres_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/sqlite"
	"github.com/qunhq/qun/internal/sqlstore"
)

// TestSchemasInStep: the SQLite and PostgreSQL schemas, each migrated to
// its newest version, have the same tables, the same columns in each, and
// the same named indexes (types and the indexes behind PRIMARY KEY and
// UNIQUE constraints aside), so that a migration written for one store
// is not forgotten in the other.
func TestSchemasInStep(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qun.db")
	lite, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	dsn := pgtest.Schema(t)
	pg, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	pg.Close()

	want := sqliteSchema(t, path)
	got := postgresSchema(t, dsn)
	if len(want["chats"]) < 10 || len(want["index chats_public"]) != 1 {
		t.Fatalf("the SQLite schema reads as %v", want)
	}
	for table, cols := range want {
		if _, ok := got[table]; !ok {
			t.Errorf("%s is in SQLite only", table)
			continue
		}
		if !slices.Equal(cols, got[table]) {
			t.Errorf("%s: SQLite has %v, PostgreSQL %v", table, cols, got[table])
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("%s is in PostgreSQL only", table)
		}
	}
}

// A schema: for each table its sorted columns, and under "index <name>" the
// table an index is on.
type schema map[string][]string

func sqliteSchema(t *testing.T, path string) schema {
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT m.type, m.name, m.tbl_name, coalesce(p.name, '') FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'
		WHERE m.name NOT LIKE 'sqlite_%' AND (m.type = 'table' OR m.sql IS NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return read(t, rows)
}

func postgresSchema(t *testing.T, dsn string) schema {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT 'table', table_name, table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()
		UNION ALL
		SELECT 'index', i.relname, c.relname, '' FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return read(t, rows)
}

// read reads rows of (kind, name, table, column): a table's columns, or
// (kind "index") the table an index is on.
func read(t *testing.T, rows sqlstore.Rows) schema {
	s := schema{}
	for rows.Next() {
		var kind, name, table, col string
		if err := rows.Scan(&kind, &name, &table, &col); err != nil {
			t.Fatal(err)
		}
		if kind == "index" {
			s["index "+name] = []string{table}
			continue
		}
		s[table] = append(s[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, cols := range s {
		slices.Sort(cols)
	}
	return s
}
