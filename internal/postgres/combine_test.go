package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/qun"
)

// combined is a store whose first batches (one per place under way) wait
// in the gate until released, so that the updates sent meanwhile queue
// for one batch behind them.
type combined struct {
	t       *testing.T
	db      *postgres.DB
	tenant  qun.Tenant
	app     qun.App
	user    qun.User
	entered chan int
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func newCombined(t *testing.T) *combined {
	db := open(t, "")
	c := &combined{t: t, db: db, entered: make(chan int, 64), release: make(chan struct{})}
	err := db.Update(context.Background(), func(tx qun.Tx) error {
		c.tenant = qun.Tenant{Platform: qun.Feishu, Key: "t"}
		if err := tx.CreateTenant(&c.tenant); err != nil {
			return err
		}
		c.app = qun.App{Platform: qun.Feishu, TenantID: c.tenant.ID, Key: "cli_t", Bot: true}
		if err := tx.CreateApp(&c.app); err != nil {
			return err
		}
		c.user = qun.User{TenantID: c.tenant.ID, UserID: "u"}
		return tx.CreateUser(&c.user)
	})
	if err != nil {
		t.Fatal(err)
	}
	postgres.SetCombineGate(db, func(n int) {
		c.mu.Lock()
		c.sizes = append(c.sizes, n)
		c.mu.Unlock()
		c.entered <- n
		<-c.release
	})
	return c
}

// create is a create as the core sends it: a comparison with the
// directory version the request read, then one statement, the last.
func (c *combined) create(ctx context.Context, chatID, version string, id *int64) error {
	return c.db.Update(ctx, func(tx qun.Tx) error {
		if err := tx.ExpectMeta("directory_version", version); err != nil {
			return err
		}
		now := time.Now()
		ch := qun.Chat{ChatID: chatID, Platform: qun.Feishu, TenantID: c.tenant.ID, CreatorApp: c.app.ID, OwnerUser: c.user.ID, Name: "群聊 " + chatID,
			Status: qun.Normal, Settings: qun.DefaultSettings(), CreatedAt: now, UpdatedAt: now}
		tx.Last()
		if err := tx.CreateChatWithMembers(&ch, []qun.Member{{User: c.user.ID, Role: qun.RoleOwner, JoinedAt: now}, {App: c.app.ID, Role: qun.RoleMember, JoinedAt: now}}); err != nil {
			return err
		}
		*id = ch.ID
		return nil
	})
}

// fill starts one create per place under way and waits for all of them
// to be held in the gate; the creates started after it queue.
func (c *combined) fill(wg *sync.WaitGroup, errs []error, ids []int64) {
	c.t.Helper()
	for i := range postgres.CombineLimit(c.db) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.create(context.Background(), fmt.Sprintf("oc_lead_%d", i), "", &ids[i])
		}()
		if n := <-c.entered; n != 1 {
			c.t.Fatalf("a lone update went in a batch of %d", n)
		}
	}
}

// waitQueued waits until n updates wait for a batch.
func (c *combined) waitQueued(n int) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for postgres.CombineQueued(c.db) != n {
		if time.Now().After(deadline) {
			c.t.Fatalf("%d updates queued, want %d", postgres.CombineQueued(c.db), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCombined: one-statement updates sent while the batches under way
// are busy go together in the next batches (up to 64 each), a transaction
// each, and each update gets its own answer (its chat's ID) once it
// committed.
func TestCombined(t *testing.T) {
	c := newCombined(t)
	limit := postgres.CombineLimit(c.db)
	if limit < 1 {
		t.Fatalf("combining is off by default (limit %d)", limit)
	}
	const queued = 70 // a batch of 64 and one of 6
	var wg sync.WaitGroup
	errs, ids := make([]error, limit+queued), make([]int64, limit+queued)
	c.fill(&wg, errs, ids)
	for i := limit; i < limit+queued; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.create(context.Background(), fmt.Sprintf("oc_%d", i), "", &ids[i])
		}()
	}
	c.waitQueued(queued)
	close(c.release)
	wg.Wait()
	seen := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
		if ids[i] == 0 || seen[ids[i]] {
			t.Errorf("create %d got chat ID %d (IDs so far %v)", i, ids[i], seen)
		}
		seen[ids[i]] = true
	}
	want := append(make([]int, limit), queued-64, 64)
	for i := range limit {
		want[i] = 1 // the lone updates held in the gate
	}
	slices.Sort(c.sizes)
	if fmt.Sprint(c.sizes) != fmt.Sprint(want) {
		t.Errorf("batches of %v, want %v", c.sizes, want)
	}
	batches, updates, failed := c.db.Combined()
	if batches != int64(limit+2) || updates != int64(limit+queued) || failed != 0 {
		t.Errorf("Combined() = %d batches, %d updates, %d failed; want %d, %d, 0", batches, updates, failed, limit+2, limit+queued)
	}
	err := c.db.View(context.Background(), func(tx qun.Tx) error {
		for i, id := range ids {
			ch, err := tx.Chat(id)
			if err != nil {
				return fmt.Errorf("chat of create %d: %w", i, err)
			}
			if want := "群聊 " + ch.ChatID; ch.Name != want {
				t.Errorf("chat %d is named %q, want %q", id, ch.Name, want)
			}
			if u, b, err := tx.CountMembers(id); err != nil || u != 1 || b != 1 {
				t.Errorf("chat %d has %d users and %d bots (%v), want 1 and 1", id, u, b, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCombinedFailure: a batch in which one update fails writes nothing,
// and each of its updates then runs alone, so that each answer is its
// own: a duplicate chat ID gets EConflict, an update held to a version
// that moved gets ErrMoved, one whose caller gave up is not sent, and the
// others commit.
func TestCombinedFailure(t *testing.T) {
	c := newCombined(t)
	limit := postgres.CombineLimit(c.db)
	const queued = 6
	var wg sync.WaitGroup
	n := limit + queued
	errs, ids := make([]error, n), make([]int64, n)
	c.fill(&wg, errs, ids)
	dup, moved, gone := limit+1, limit+3, limit+4
	ctx, cancel := context.WithCancel(context.Background())
	for i := limit; i < n; i++ {
		chatID, version, cx := fmt.Sprintf("oc_%d", i), "", context.Background()
		switch i {
		case dup:
			chatID = "oc_lead_0" // committed by the first batch, before this one is sent
		case moved:
			version = "7"
		case gone:
			cx = ctx
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.create(cx, chatID, version, &ids[i])
		}()
		c.waitQueued(i - limit + 1) // in this order
	}
	cancel()
	close(c.release)
	wg.Wait()
	for i, err := range errs {
		switch i {
		case dup:
			if qun.ErrorCode(err) != qun.EConflict {
				t.Errorf("the duplicate got %v, want EConflict", err)
			}
		case moved:
			if !errors.Is(err, qun.ErrMoved) {
				t.Errorf("the update held to a moved version got %v, want ErrMoved", err)
			}
		case gone:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the cancelled update got %v, want context.Canceled", err)
			}
		default:
			if err != nil || ids[i] == 0 {
				t.Errorf("create %d: %v (chat %d)", i, err, ids[i])
			}
		}
	}
	batches, updates, failed := c.db.Combined()
	if batches != int64(limit+1) || updates != int64(n-1) || failed != 1 {
		t.Errorf("Combined() = %d batches, %d updates, %d failed; want %d, %d, 1", batches, updates, failed, limit+1, n-1)
	}
	err := c.db.View(context.Background(), func(tx qun.Tx) error {
		all, err := tx.Chats(qun.ChatFilter{})
		if err != nil {
			return err
		}
		if want := n - 3; len(all) != want {
			t.Errorf("%d chats stored, want %d (the leaders' and the queued ones but the three refused)", len(all), want)
		}
		for _, missing := range []string{fmt.Sprintf("oc_%d", moved), fmt.Sprintf("oc_%d", gone)} {
			if _, err := tx.ChatByChatID(missing); qun.ErrorCode(err) != qun.ENotFound {
				t.Errorf("%s: %v, want it not stored", missing, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTakeSetting: qun_combine is read from either form of a URL and
// taken out of it; anything but a count is refused.
func TestTakeSetting(t *testing.T) {
	for _, tc := range []struct {
		dsn, rest string
		n         int
		bad       bool
	}{
		{"postgres://h/db?sslmode=disable", "postgres://h/db?sslmode=disable", 2, false},
		{"postgres://h/db?qun_combine=0&sslmode=disable", "postgres://h/db?sslmode=disable", 0, false},
		{"postgresql://h/db?qun_combine=5", "postgresql://h/db", 5, false},
		{"host=h dbname=db qun_combine=3 sslmode=disable", "host=h dbname=db sslmode=disable", 3, false},
		{"host=h dbname=db", "host=h dbname=db", 2, false},
		{"postgres://h/db?qun_combine=many", "", 0, true},
		{"host=h qun_combine=-1", "", 0, true},
	} {
		rest, n, err := postgres.TakeSetting(tc.dsn, "qun_combine", 2)
		if (err != nil) != tc.bad || (!tc.bad && (rest != tc.rest || n != tc.n)) {
			t.Errorf("takeSetting(%q) = %q, %d, %v; want %q, %d, error %v", tc.dsn, rest, n, err, tc.rest, tc.n, tc.bad)
		}
	}
}

// TestCombinedPanic: a batch whose reading panics fails its members
// instead of leaving them waiting, and gives its place under way back.
func TestCombinedPanic(t *testing.T) {
	db := open(t, "")
	err, _, alone := postgres.Combine(db, "SELECT 1", func(pgx.BatchResults) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panicked: boom") || alone {
		t.Errorf("the member got %v (alone %v), want the panic as its error", err, alone)
	}
	if n := postgres.CombineFlying(db); n != 0 {
		t.Errorf("%d batches still under way", n)
	}
	var one int
	err, answer, _ := postgres.Combine(db, "SELECT 1", func(br pgx.BatchResults) error { return br.QueryRow().Scan(&one) })
	if err != nil || answer != nil || one != 1 {
		t.Errorf("the next batch: %v, %v, %d", err, answer, one)
	}
}
