package postgres

import (
	"context"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SetTrace makes every store of this test binary report its statements to
// fn (nil stops it). Set it while no store is in use.
func SetTrace(fn func(query string, args []any)) {
	if fn == nil {
		trace.Store(nil)
		return
	}
	trace.Store(&fn)
}

// Explain returns PostgreSQL's plan for query (a text line per node), with
// sequential scans priced out, so that one left in the plan means no index
// serves the query.
func Explain(db *DB, query string, args []any) ([]string, error) {
	ctx := context.Background()
	var out []string
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Price sequential scans and sorts out, so that a plan keeps one
		// only where no index serves.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			out = append(out, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->")))
		}
		return rows.Err()
	})
	return out, err
}

// Migrations counts the embedded migrations.
func Migrations() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(names)
}
