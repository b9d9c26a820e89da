package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/qun"
)

// openTemp opens a new database for t, closed when t ends.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "qun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// holdWriter keeps the writer busy until release is called, so that the
// updates queued meanwhile share one group.
func holdWriter(db *DB) (release func()) {
	hold, held := make(chan struct{}), make(chan struct{})
	go db.Update(context.Background(), func(qun.Tx) error { close(held); <-hold; return nil })
	<-held
	return func() { close(hold) }
}

// TestCancelInGroup: an update whose caller goes away while one of its
// statements runs does not break the group it commits with. Its statement
// runs to the end (SQLite would roll back the whole transaction if it were
// interrupted), the update stops at its next statement and rolls back
// alone, and the updates beside it commit.
func TestCancelInGroup(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()

	// Hold the writer so that the next updates queue and share one group.
	release := holdWriter(db)

	var wg sync.WaitGroup
	results := make([]error, 5)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 2 {
				results[i] = db.Update(cctx, func(t qun.Tx) error {
					tx := t.(*tx)
					go func() { time.Sleep(20 * time.Millisecond); cancel() }()
					// A write that runs well past the cancellation: SQLite
					// rolls back the whole transaction when a write inside
					// it is interrupted.
					if _, err := tx.exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000)
						INSERT INTO meta (key, value) SELECT 'bulk' || x, 'v' FROM c`); err != nil {
						return err
					}
					return tx.SetMeta("cancelled", "written") // the next statement: refused
				})
				return
			}
			results[i] = db.Update(ctx, func(tx qun.Tx) error { return tx.SetMeta("k"+string(rune('0'+i)), "v") })
		}()
	}
	time.Sleep(50 * time.Millisecond) // let all five queue behind the held one
	release()
	wg.Wait()

	for i, err := range results {
		switch {
		case i == 2 && !errors.Is(err, context.Canceled):
			t.Errorf("the cancelled update: %v, want context.Canceled", err)
		case i != 2 && err != nil:
			t.Errorf("update %d beside the cancelled one: %v", i, err)
		}
	}
	err := db.View(ctx, func(tx qun.Tx) error {
		for i := range results {
			v, err := tx.Meta("k" + string(rune('0'+i)))
			if i != 2 && (err != nil || v != "v") {
				t.Errorf("update %d not committed: %q %v", i, v, err)
			}
		}
		for _, key := range []string{"cancelled", "bulk1"} {
			if v, _ := tx.Meta(key); v != "" {
				t.Errorf("the cancelled update wrote %s = %q", key, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStatementCacheBounded: listing with 2,000 different limits (as the
// admin API's ?limit= allows) prepares one statement, not 2,000, and the
// cache never outgrows its bound.
func TestStatementCacheBounded(t *testing.T) {
	db := openTemp(t)
	size := func(c *stmtCache) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.m)
	}
	before := size(&db.readerStmts)
	for limit := 1; limit <= 2000; limit++ {
		err := db.View(context.Background(), func(tx qun.Tx) error {
			_, err := tx.Chats(qun.ChatFilter{Limit: limit})
			if err == nil {
				_, err = tx.Members(qun.MemberFilter{Chat: 1, Limit: limit})
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if grown := size(&db.readerStmts) - before; grown > 2 {
		t.Errorf("2,000 limits prepared %d statements, want 2", grown)
	}
	// Distinct texts beyond the bound run unprepared.
	var queries []string
	for i := range maxCachedStmts + 50 {
		queries = append(queries, "SELECT "+string(rune('0'+i%10))+" + ?"+strings.Repeat(" ", i))
	}
	db.readerStmts.prepare(context.Background(), db.reader, queries)
	if n := size(&db.readerStmts); n > maxCachedStmts {
		t.Errorf("cache holds %d statements, bound %d", n, maxCachedStmts)
	}
}

// TestFailAfterWriteInGroup: an update that fails after writing is undone
// alone: the others of its group commit (run again without it, as the
// contract allows), and its writes are gone.
func TestFailAfterWriteInGroup(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	release := holdWriter(db)
	var wg sync.WaitGroup
	results := make([]error, 5)
	boom := errors.New("boom")
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Update(ctx, func(tx qun.Tx) error {
				if err := tx.SetMeta(fmt.Sprint("k", i), "v"); err != nil {
					return err
				}
				if i == 2 {
					return boom // after its write
				}
				return nil
			})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	release()
	wg.Wait()
	for i, err := range results {
		if (i == 2) != errors.Is(err, boom) || i != 2 && err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	db.View(ctx, func(tx qun.Tx) error {
		for i := range results {
			v, _ := tx.Meta(fmt.Sprint("k", i))
			if (v == "v") == (i == 2) {
				t.Errorf("k%d = %q after the group", i, v)
			}
		}
		return nil
	})
}

// TestMetaInGroup: the updates of one group share the meta values their
// transaction read or wrote, and see each other's writes: twenty
// read-increment-write updates queued into one group count to twenty, and
// the write of an update that fails after writing is not seen by the
// others when they run again without it.
func TestMetaInGroup(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	release := holdWriter(db)

	var wg sync.WaitGroup
	errs := make([]error, 21)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(ctx, func(tx qun.Tx) error {
				v, err := tx.Meta("n")
				if err != nil {
					return err
				}
				var n int
				fmt.Sscan(v, &n)
				if err := tx.SetMeta("n", fmt.Sprint(n+1)); err != nil {
					return err
				}
				if i == 7 {
					return errors.New("fails after writing")
				}
				return nil
			})
		}()
	}
	time.Sleep(50 * time.Millisecond) // let all of them queue behind the held one
	release()
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("update %d: %v", i, err)
		}
	}
	err := db.View(ctx, func(tx qun.Tx) error {
		if v, err := tx.Meta("n"); v != "20" || err != nil {
			t.Errorf("n = %q, %v; want 20", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
