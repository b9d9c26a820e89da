package qun_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
)

// TestActorCacheAcrossNodes: a node caches the app and tenant behind a
// token, and a change of the directory made by another node on the same
// store is seen at the next request (the cache is keyed by the store's
// directory version, not by what this node did).
func TestActorCacheAcrossNodes(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "qun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, b := qun.NewService(db), qun.NewService(db)
	d, _, err := fixtures.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.LoadDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	tok, err := a.IssueToken(ctx, qun.TokenRequest{Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: "cli_a10fbf7e94b8d01d", Secret: "demo-feishu-secret", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	actor, err := a.Authenticate(ctx, tok.Value, qun.TenantToken)
	if err != nil || !actor.App.HasScope("im:chat") {
		t.Fatalf("first use: %+v %v", actor.App.Scopes, err)
	}
	// Node b takes the app's scopes away, then disables it.
	app := actor.App
	app.Scopes = []string{"contact:user.base:readonly"}
	if _, err := b.UpdateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if again, err := a.Authenticate(ctx, tok.Value, qun.TenantToken); err != nil || again.App.HasScope("im:chat") {
		t.Errorf("after another node's change: scopes %v (%v), want the new ones", again.App.Scopes, err)
	}
	app.Installed = false
	if _, err := b.UpdateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, tok.Value, qun.TenantToken); qun.ErrorReason(err) != qun.ReasonAppNotInstalled {
		t.Errorf("a disabled app's token: %v, want %s", err, qun.ReasonAppNotInstalled)
	}
}
