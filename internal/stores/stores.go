// Package stores opens the store a node is configured with: the embedded
// SQLite database by default, or PostgreSQL when given a postgres:// URL.
package stores

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
)

// Open opens the store db names: "" is the SQLite database qun.db in
// dataDir; a postgres:// or postgresql:// URL is that PostgreSQL database
// (its connections' search_path chooses the schema).
func Open(ctx context.Context, db, dataDir string) (qun.Store, error) {
	switch {
	case db == "" || db == "sqlite":
		return sqlite.Open(ctx, filepath.Join(dataDir, "qun.db"))
	case IsPostgres(db):
		return postgres.Open(ctx, db)
	}
	return nil, fmt.Errorf("--db %q: want a postgres:// URL, or nothing for the embedded SQLite database", Redact(db))
}

// IsPostgres reports whether db names a PostgreSQL database.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Redact hides the password of a database URL, for logs.
func Redact(db string) string {
	scheme, rest, ok := strings.Cut(db, "://")
	if !ok {
		return db
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return db
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return db
}
