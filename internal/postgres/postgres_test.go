package postgres_test

import (
	"context"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/storetest"
)

// open opens a store on a schema of its own; without QUN_TEST_POSTGRES the
// package's tests are skipped (.ci/run sets it, and then a missing database
// fails them).
func open(t *testing.T) *postgres.DB {
	t.Helper()
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	db, err := postgres.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) qun.Store { return open(t) })
}
