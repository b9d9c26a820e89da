package qun_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/qun"
)

// TestHousekeep: once a token has been expired for longer than
// qun.TokenGrace and a dedupe claim is older than every platform's window,
// housekeeping deletes them; before that, it keeps them.
func TestHousekeep(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Store(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	svc := qun.NewService(db, qun.WithClock(clock))
	d, _, err := fixtures.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.LoadDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.IssueToken(ctx, qun.TokenRequest{Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: "cli_a10fbf7e94b8d01d", Secret: "demo-feishu-secret", TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx qun.Tx) error {
		_, err := tx.ClaimDedupe(qun.Dedupe{Scope: "s", Key: "k", ChatID: "oc_x", CreatedAt: svc.Now()}, time.Time{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	advance(9 * time.Hour)
	if p, err := svc.Housekeep(ctx); err != nil || p != (qun.Purged{}) {
		t.Errorf("after 9 hours: purged %+v (%v), want nothing", p, err)
	}
	advance(2 * time.Hour) // 11 h: past the 10-hour dedupe window, the token 9 h expired
	if p, err := svc.Housekeep(ctx); err != nil || p != (qun.Purged{Dedupe: 1}) {
		t.Errorf("after 11 hours: purged %+v (%v), want the dedupe claim", p, err)
	}
	if _, err := svc.Authenticate(ctx, tok.Value, qun.TenantToken); qun.ErrorReason(err) != qun.ReasonTokenExpired {
		t.Errorf("an expired token within its grace: %v, want expired", err)
	}
	advance(qun.TokenGrace)
	if p, err := svc.Housekeep(ctx); err != nil || p != (qun.Purged{Tokens: 1}) {
		t.Errorf("past the grace: purged %+v (%v), want the token", p, err)
	}
}
