package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/storetest"
)

// open opens a store on a schema of its own; without QUN_TEST_POSTGRES the
// package's tests are skipped (.ci/run sets it, and then a missing database
// fails them).
func open(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	if dsn == "" {
		dsn = pgtest.Schema(t)
	}
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) qun.Store { return open(t, "") })
}

// TestConcurrentStart: eight nodes starting at once on an empty schema all
// come up; the schema is migrated once and the directory loaded once.
func TestConcurrentStart(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	d, raw, err := fixtures.Load("")
	if err != nil {
		t.Fatal(err)
	}
	const nodes = 8
	var (
		wg     sync.WaitGroup
		loaded atomic.Int32
		errs   = make(chan error, nodes)
	)
	for range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			did, _, err := qun.NewService(db).Bootstrap(ctx, d, string(raw[:16]))
			if err != nil {
				errs <- err
				return
			}
			if did {
				loaded.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a node failed to start: %v", err)
	}
	if n := loaded.Load(); n != 1 {
		t.Errorf("the directory was loaded %d times, want once", n)
	}
	db := open(t, dsn)
	err = db.View(ctx, func(tx qun.Tx) error {
		tenants, err := tx.Tenants("")
		if err != nil {
			return err
		}
		if len(tenants) != len(d.Tenants) {
			t.Errorf("%d tenants, want the fixtures' %d", len(tenants), len(d.Tenants))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var migrations int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&migrations); err != nil || migrations != 1 {
		t.Errorf("%d migrations recorded (%v), want 1", migrations, err)
	}
}
