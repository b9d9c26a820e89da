package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
	"github.com/qunhq/qun/internal/storetest"
)

// TestDueEventsBacklog: a delivery poll that leaves a busy app out takes
// the same virtual-machine steps whether that app's due backlog holds 20
// events or 4,000.
func TestDueEventsBacklog(t *testing.T) {
	t.Setenv(pgtest.Env, "")
	storetest.BacklogCost(t,
		func(t *testing.T) qun.Store { return open(t, filepath.Join(t.TempDir(), "qun.db")) },
		func(fn func(string, []any)) { sqlite.SetTrace(fn) },
		func(s qun.Store, q string, args []any) (int, error) { return sqlite.VMSteps(s.(*sqlite.DB), q, args) },
		20, 4000)
}
