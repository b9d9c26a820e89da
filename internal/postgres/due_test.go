package postgres_test

import (
	"testing"

	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/storetest"
)

// TestDueEventsBacklog: a delivery poll that leaves a busy app out touches
// the same rows (those its plans produce and filter away, from EXPLAIN
// ANALYZE) whether that app's due backlog holds 20 events or 2,000.
func TestDueEventsBacklog(t *testing.T) {
	storetest.BacklogCost(t,
		func(t *testing.T) qun.Store { return open(t, "") },
		func(fn func(string, []any)) { postgres.SetTrace(fn) },
		func(s qun.Store, q string, args []any) (int, error) {
			if q == "COMMIT" || q == "ROLLBACK" {
				return 0, nil
			}
			return postgres.RowsTouched(s.(*postgres.DB), q, args)
		},
		20, 2000)
}
