package postgres

import (
	"context"
	"encoding/json"
	"fmt"
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

// RowsTouched runs query with args under EXPLAIN ANALYZE, with the
// statistics of what the events table holds (the only growing table the
// measured polls read), and returns the rows its plan nodes
// produced and filtered away: the work a statement does, whatever the
// machine's speed.
func RowsTouched(db *DB, query string, args []any) (int, error) {
	ctx := context.Background()
	var plan []byte
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `ANALYZE events`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+query, args...).Scan(&plan)
	})
	if err != nil {
		return 0, err
	}
	var out []struct{ Plan node }
	if err := json.Unmarshal(plan, &out); err != nil || len(out) != 1 {
		return 0, fmt.Errorf("EXPLAIN answered %s: %v", plan, err)
	}
	return out[0].Plan.rows(), nil
}

// node is a plan node as EXPLAIN (FORMAT JSON) writes it.
type node struct {
	Rows     float64 `json:"Actual Rows"`
	Loops    float64 `json:"Actual Loops"`
	Filtered float64 `json:"Rows Removed by Filter"`
	Rechecks float64 `json:"Rows Removed by Index Recheck"`
	Plans    []node  `json:"Plans"`
}

func (n node) rows() int {
	sum := int(n.Rows*n.Loops + n.Filtered + n.Rechecks)
	for _, c := range n.Plans {
		sum += c.rows()
	}
	return sum
}

// SetCombineGate has every combined batch call fn with its number of
// updates before it is sent (nil: nothing). Set it while db is idle.
func SetCombineGate(db *DB, fn func(n int)) { db.combiner.gate = fn }

// CombineQueued counts the updates waiting for a combined batch.
func CombineQueued(db *DB) int { return db.combiner.queued() }

// CombineLimit is how many combined batches db has under way at most.
func CombineLimit(db *DB) int { return db.combiner.limit }

// TakeSetting is takeSetting.
var TakeSetting = takeSetting

// Combine sends query alone through db's combiner, read reading its
// results, and returns the member's outcome.
func Combine(db *DB, query string, read func(pgx.BatchResults) error) (err, answer error, alone bool) {
	m := &member{ctx: context.Background(), query: query, read: read}
	db.combiner.run(m)
	return m.err, m.answer, m.alone
}

// CombineFlying counts the combined batches under way.
func CombineFlying(db *DB) int {
	db.combiner.mu.Lock()
	defer db.combiner.mu.Unlock()
	return db.combiner.flying
}
