package sqlite

import "context"

// SetTrace makes every store of this test binary report its queries to fn
// (nil stops it). Set it while no store is in use.
func SetTrace(fn func(query string, args []any)) {
	if fn == nil {
		trace.Store(nil)
		return
	}
	trace.Store(&fn)
}

// ExplainQueryPlan returns the detail lines of SQLite's plan for query.
func ExplainQueryPlan(db *DB, query string, args []any) ([]string, error) {
	rows, err := db.reader.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}
