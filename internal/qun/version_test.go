package qun_test

import (
	"context"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/qun"
)

// TestActorCacheAcrossNodes: a node caches the app and tenant behind a
// token, and a change of the directory made by another node on the same
// store is seen at the next request (the cache is keyed by the store's
// directory version, not by what this node did).
func TestActorCacheAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, tok := twoNodes(t)
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

// TestUserCacheAcrossNodes: a node remembers what the IDs of a request
// named, and a change of those users made by another node on the same
// store is seen by the next create: a user resigned there is refused here,
// a user added there is found here although this node found nobody under
// that ID before.
func TestUserCacheAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, tok := twoNodes(t)
	actor, err := a.Authenticate(ctx, tok.Value, qun.TenantToken)
	if err != nil {
		t.Fatal(err)
	}
	create := func(ids ...string) error {
		var users []qun.Ref
		for _, id := range ids {
			users = append(users, qun.Ref{Kind: qun.UserID, Value: id})
		}
		_, err := a.CreateChat(ctx, actor, qun.NewChat{Name: "cache", Users: users})
		return err
	}
	for range 2 { // the second time from the cache
		if err := create("lisi", "user001"); err != nil {
			t.Fatal(err)
		}
		if err := create("newcomer"); qun.ErrorReason(err) != qun.ReasonUnavailableIDs {
			t.Fatalf("unknown user: %v, want %s", err, qun.ReasonUnavailableIDs)
		}
	}
	lisi := qun.UserRef{Platform: qun.Feishu, Tenant: actor.Tenant.Key, UserID: "lisi"}
	if _, err := b.SetUserStatus(ctx, lisi, qun.Resigned); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateUser(ctx, qun.Feishu, actor.Tenant.Key, qun.User{UserID: "newcomer", Name: "新人"}); err != nil {
		t.Fatal(err)
	}
	if err := create("lisi"); qun.ErrorReason(err) != qun.ReasonUserResigned {
		t.Errorf("a user another node resigned: %v, want %s", err, qun.ReasonUserResigned)
	}
	if err := create("newcomer"); err != nil {
		t.Errorf("a user another node added: %v", err)
	}
}

// twoNodes returns two Services on one store with the demo directory, and a
// tenant token of the demo Feishu app issued by the first.
func twoNodes(t *testing.T) (a, b *qun.Service, tok qun.Token) {
	t.Helper()
	ctx := context.Background()
	db := pgtest.Store(t)
	a, b = qun.NewService(db), qun.NewService(db)
	d, _, err := fixtures.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.LoadDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	tok, err = a.IssueToken(ctx, qun.TokenRequest{Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: "cli_a10fbf7e94b8d01d", Secret: "demo-feishu-secret", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return a, b, tok
}

// TestPinnedUpdateMoved: an update works at the directory count its request
// read (Sync) without reading it again, and when the directory moved in
// between, it runs again at the new count rather than write what it
// decided from the old one: a user another node resigned after the request
// read the count, and whom this node's cache holds as active at the old
// count, is refused.
func TestPinnedUpdateMoved(t *testing.T) {
	ctx := context.Background()
	a, b, tok := twoNodes(t)
	synced, err := a.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	actor, err := a.Authenticate(synced, tok.Value, qun.TenantToken)
	if err != nil {
		t.Fatal(err)
	}
	in := qun.NewChat{Name: "pinned", Users: []qun.Ref{{Kind: qun.UserID, Value: "lisi"}}}
	if _, err := a.CreateChat(synced, actor, in); err != nil {
		t.Fatalf("before the change: %v", err)
	}
	lisi := qun.UserRef{Platform: qun.Feishu, Tenant: actor.Tenant.Key, UserID: "lisi"}
	if _, err := b.SetUserStatus(ctx, lisi, qun.Resigned); err != nil {
		t.Fatal(err)
	}
	// The same request context: it still carries the count read before
	// the change.
	if _, err := a.CreateChat(synced, actor, in); qun.ErrorReason(err) != qun.ReasonUserResigned {
		t.Errorf("after another node resigned the user: %v, want %s", err, qun.ReasonUserResigned)
	}
}
