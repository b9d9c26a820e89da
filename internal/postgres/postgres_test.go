package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&migrations); err != nil || migrations != postgres.Migrations() {
		t.Errorf("%d migrations recorded (%v), want %d", migrations, err, postgres.Migrations())
	}
}

// TestConcurrentCreatesSerialise: creates that touch no common rows do not
// fail each other to serialise (a foreign-key check or a re-read of the
// chat row would put predicate locks on the index pages every create
// inserts into): 16 writers making 20 chats with two members each retry
// almost never.
func TestConcurrentCreatesSerialise(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	var (
		tenant qun.Tenant
		app    qun.App
		user   qun.User
	)
	err := db.Update(ctx, func(tx qun.Tx) error {
		tenant = qun.Tenant{Platform: qun.Feishu, Key: "t"}
		if err := tx.CreateTenant(&tenant); err != nil {
			return err
		}
		app = qun.App{Platform: qun.Feishu, TenantID: tenant.ID, Key: "cli_t"}
		if err := tx.CreateApp(&app); err != nil {
			return err
		}
		user = qun.User{TenantID: tenant.ID, UserID: "u"}
		return tx.CreateUser(&user)
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				err := db.Update(ctx, func(tx qun.Tx) error {
					if _, err := tx.Meta("directory_version"); err != nil {
						return err
					}
					c := qun.Chat{ChatID: fmt.Sprintf("oc_%d_%d", w, i), Platform: qun.Feishu, TenantID: tenant.ID, CreatorApp: app.ID, OwnerUser: user.ID, Name: "群聊", Status: qun.Normal, Settings: qun.DefaultSettings(), CreatedAt: time.Now(), UpdatedAt: time.Now()}
					if err := tx.CreateChat(&c); err != nil {
						return err
					}
					_, err := tx.AddMembers([]qun.Member{{Chat: c.ID, User: user.ID, Role: qun.RoleOwner, JoinedAt: c.CreatedAt}, {Chat: c.ID, App: app.ID, Role: qun.RoleMember, JoinedAt: c.CreatedAt}})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := db.Retries(); n > 16 {
		t.Errorf("320 independent creates retried %d times", n)
	}
}

// TestLastCommits: after Tx.Last the next statement carries the COMMIT, in
// its round trip (one traced statement, no COMMIT of its own), and a
// statement after it is refused rather than run in a new transaction: the
// update reports the broken promise and what was committed stays.
func TestLastCommits(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	var sent []string
	postgres.SetTrace(func(q string, _ []any) { sent = append(sent, q) })
	err := db.Update(ctx, func(tx qun.Tx) error {
		tx.Last()
		return tx.SetMeta("k", "1")
	})
	postgres.SetTrace(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 {
		t.Errorf("the update sent %d round trips (%q), want 1", len(sent), sent)
	}
	err = db.Update(ctx, func(tx qun.Tx) error {
		tx.Last()
		if err := tx.SetMeta("k", "2"); err != nil {
			return err
		}
		return tx.SetMeta("k", "3")
	})
	if err == nil {
		t.Error("a statement after the last one was taken")
	}
	if v, err := db.Meta(ctx, "k"); err != nil || v != "2" {
		t.Errorf("k = %q, %v; want the last statement's 2, and nothing after it", v, err)
	}
}

// TestEventsOneStatement: an update's events, however many, are one
// statement (one round trip), and each gets its row's ID.
func TestEventsOneStatement(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	tenant := qun.Tenant{Platform: qun.Feishu, Key: "t1", Name: "T"}
	app := qun.App{Platform: qun.Feishu, Key: "cli_e", Secret: "s", Bot: true, Installed: true}
	if err := db.Update(ctx, func(tx qun.Tx) error {
		if err := tx.CreateTenant(&tenant); err != nil {
			return err
		}
		app.TenantID = tenant.ID
		return tx.CreateApp(&app)
	}); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_000).UTC()
	var es []qun.Event
	for i := range 5 {
		es = append(es, qun.Event{EventID: fmt.Sprintf("ev_%d", i), Platform: qun.Feishu, App: app.ID, AppKey: app.Key, Tenant: tenant.Key,
			ChatID: "oc_e", Type: qun.FeishuUserAdded, Mode: qun.Webhook, Body: "{}", CreatedAt: now, Status: qun.EventPending, DueAt: now})
	}
	var sent atomic.Int64
	postgres.SetTrace(func(q string, _ []any) {
		if q != "COMMIT" {
			sent.Add(1)
		}
	})
	err := db.Update(ctx, func(tx qun.Tx) error { return tx.AddEvents(es) })
	postgres.SetTrace(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("five events took %d statements, want 1", n)
	}
	for i, e := range es {
		if e.ID == 0 || i > 0 && e.ID <= es[i-1].ID {
			t.Errorf("event %d has ID %d after %d", i, e.ID, es[max(i-1, 0)].ID)
		}
	}
}
