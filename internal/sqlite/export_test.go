package sqlite

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

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

// VMSteps runs query with args on a connection of its own and returns the
// virtual-machine steps SQLite took: the work a statement does, whatever
// the machine's speed.
func VMSteps(db *DB, query string, args []any) (int, error) {
	ctx := context.Background()
	c, err := db.reader.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	steps := 0
	err = c.Raw(func(dc any) error {
		st, _, err := dc.(interface{ Raw() *sqlite3.Conn }).Raw().Prepare(query)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, a := range args {
			switch v := a.(type) {
			case int:
				err = st.BindInt64(i+1, int64(v))
			case int64:
				err = st.BindInt64(i+1, v)
			case string:
				err = st.BindText(i+1, v)
			case bool:
				err = st.BindBool(i+1, v)
			case nil:
				err = st.BindNull(i + 1)
			default:
				err = fmt.Errorf("argument %d: %T", i+1, a)
			}
			if err != nil {
				return err
			}
		}
		for st.Step() {
		}
		if err := st.Err(); err != nil {
			return err
		}
		steps = st.Status(sqlite3.STMTSTATUS_VM_STEP, false)
		return nil
	})
	return steps, err
}
