// Package storetest is the conformance suite every qun.Store implementation
// must pass. A store's own tests call Run with a function that opens a
// fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/qun"
)

// Run runs the whole suite. open must return a new, empty store for each
// call; Run closes it.
func Run(t *testing.T, open func(t *testing.T) qun.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s qun.Store)
	}{
		{"Tenants", testTenants},
		{"Apps", testApps},
		{"Users", testUsers},
		{"Aliases", testAliases},
		{"Friendships", testFriendships},
		{"Tokens", testTokens},
		{"UserTokens", testUserTokens},
		{"ConsumeTokenConcurrent", testConsumeConcurrent},
		{"Links", testLinks},
		{"Chats", testChats},
		{"ChatFilter", testChatFilter},
		{"Members", testMembers},
		{"Dedupe", testDedupe},
		{"DedupeConcurrent", testDedupeConcurrent},
		{"Rollback", testRollback},
		{"ConcurrentRollback", testConcurrentRollback},
		{"ViewIsReadOnly", testViewReadOnly},
		{"Reset", testReset},
		{"Meta", testMeta},
		{"ExpectMeta", testExpectMeta},
		{"Last", testLast},
		{"LockChat", testLockChat},
		{"WriteSkew", testWriteSkew},
		{"Search", testSearch},
		{"TimePrecision", testTimePrecision},
		{"Purge", testPurge},
		{"Batches", testBatches},
		{"CreateWithMembers", testCreateWithMembers},
		{"Outbox", testOutbox},
		{"DueBusy", testDueBusy},
		{"Messages", testMessages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

func update(t *testing.T, s qun.Store, fn func(tx qun.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s qun.Store, fn func(tx qun.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func wantCode(t *testing.T, err error, code qun.Code) {
	t.Helper()
	if got := qun.ErrorCode(err); got != code {
		t.Fatalf("error = %v (class %q), want class %q", err, got, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// seed creates a tenant with one app and n users and returns them.
func seed(t *testing.T, s qun.Store, p qun.Platform, key string, n int) (qun.Tenant, qun.App, []qun.User) {
	t.Helper()
	tenant := qun.Tenant{Platform: p, Key: key, Name: "T " + key, Policy: qun.Policy{PublicChats: true, BlockedWords: []string{"x"}}}
	app := qun.App{Platform: p, Key: "cli_" + key, Secret: "s", Name: "A", Kind: qun.SelfBuilt, Bot: true, Installed: true, Scopes: []string{"im:chat"}}
	var users []qun.User
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateTenant(&tenant); err != nil {
			return err
		}
		app.TenantID = tenant.ID
		if err := tx.CreateApp(&app); err != nil {
			return err
		}
		for i := range n {
			u := qun.User{TenantID: tenant.ID, UserID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("User %d", i), Kind: qun.MemberUser, Status: qun.Active}
			if err := tx.CreateUser(&u); err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	})
	return tenant, app, users
}

func testTenants(t *testing.T, s qun.Store) {
	a := qun.Tenant{Platform: qun.Feishu, Key: "k1", Name: "One", Policy: qun.Policy{PublicChats: true, RestrictedMode: true, BlockedWords: []string{"bad"}}}
	b := qun.Tenant{Platform: qun.DingTalk, Key: "k1", Name: "Same key, other platform"}
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateTenant(&a); err != nil {
			return err
		}
		return tx.CreateTenant(&b)
	})
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("IDs not assigned: %d %d", a.ID, b.ID)
	}
	err := s.Update(ctx, func(tx qun.Tx) error {
		dup := qun.Tenant{Platform: qun.Feishu, Key: "k1"}
		return tx.CreateTenant(&dup)
	})
	wantCode(t, err, qun.EConflict)

	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Tenant](t)(tx.Tenant(a.ID))
		if !equalJSON(got, a) || got.ID != a.ID {
			t.Errorf("Tenant = %+v, want %+v", got, a)
		}
		got = must[qun.Tenant](t)(tx.TenantByKey(qun.DingTalk, "k1"))
		if got.ID != b.ID || got.Name != b.Name {
			t.Errorf("TenantByKey = %+v, want %+v", got, b)
		}
		_, err := tx.TenantByKey(qun.WeCom, "k1")
		wantCode(t, err, qun.ENotFound)
		_, err = tx.Tenant(9999)
		wantCode(t, err, qun.ENotFound)
		all := must[[]qun.Tenant](t)(tx.Tenants(""))
		if len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
			t.Errorf("Tenants(\"\") = %+v", all)
		}
		fs := must[[]qun.Tenant](t)(tx.Tenants(qun.Feishu))
		if len(fs) != 1 || fs[0].ID != a.ID {
			t.Errorf("Tenants(feishu) = %+v", fs)
		}
		return nil
	})
	a.Policy.PublicChats = false
	a.Name = "Renamed"
	update(t, s, func(tx qun.Tx) error { return tx.UpdateTenant(a) })
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Tenant](t)(tx.Tenant(a.ID))
		if got.Name != "Renamed" || got.Policy.PublicChats {
			t.Errorf("after UpdateTenant: %+v", got)
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx qun.Tx) error { return tx.UpdateTenant(qun.Tenant{ID: 9999}) }), qun.ENotFound)
}

func testApps(t *testing.T, s qun.Store) {
	t1, app, _ := seed(t, s, qun.Feishu, "t1", 0)
	t2, _, _ := seed(t, s, qun.Feishu, "t2", 0)
	w1, _, _ := seed(t, s, qun.WeCom, "w1", 0)
	w2, _, _ := seed(t, s, qun.WeCom, "w2", 0)

	// Feishu app keys are unique across tenants.
	err := s.Update(ctx, func(tx qun.Tx) error {
		dup := qun.App{TenantID: t2.ID, Platform: qun.Feishu, Key: app.Key, Secret: "x"}
		return tx.CreateApp(&dup)
	})
	wantCode(t, err, qun.EConflict)
	// WeCom agentids repeat across corporations, not within one.
	update(t, s, func(tx qun.Tx) error {
		for _, tid := range []int64{w1.ID, w2.ID} {
			a := qun.App{TenantID: tid, Platform: qun.WeCom, Key: "1000002", Secret: "x"}
			if err := tx.CreateApp(&a); err != nil {
				return err
			}
		}
		return nil
	})
	err = s.Update(ctx, func(tx qun.Tx) error {
		dup := qun.App{TenantID: w1.ID, Platform: qun.WeCom, Key: "1000002", Secret: "y"}
		return tx.CreateApp(&dup)
	})
	wantCode(t, err, qun.EConflict)

	view(t, s, func(tx qun.Tx) error {
		got := must[qun.App](t)(tx.AppByKey(qun.Feishu, 0, app.Key))
		if got.ID != app.ID || got.TenantID != t1.ID || !equalJSON(got, app) {
			t.Errorf("AppByKey = %+v, want %+v", got, app)
		}
		_, err := tx.AppByKey(qun.Feishu, t2.ID, app.Key)
		wantCode(t, err, qun.ENotFound)
		got = must[qun.App](t)(tx.AppByKey(qun.WeCom, w2.ID, "1000002"))
		if got.TenantID != w2.ID {
			t.Errorf("AppByKey(wecom, w2) in tenant %d, want %d", got.TenantID, w2.ID)
		}
		if n := len(must[[]qun.App](t)(tx.Apps(qun.WeCom, 0))); n != 4 {
			t.Errorf("Apps(wecom) = %d apps, want 4", n)
		}
		if n := len(must[[]qun.App](t)(tx.Apps("", t1.ID))); n != 1 {
			t.Errorf("Apps(t1) = %d apps, want 1", n)
		}
		return nil
	})

	app.Bot, app.Scopes = false, []string{"a", "b"}
	update(t, s, func(tx qun.Tx) error { return tx.UpdateApp(app) })
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.App](t)(tx.App(app.ID))
		if got.Bot || !slices.Equal(got.Scopes, []string{"a", "b"}) {
			t.Errorf("after UpdateApp: %+v", got)
		}
		return nil
	})
	update(t, s, func(tx qun.Tx) error { return tx.DeleteApp(app.ID) })
	view(t, s, func(tx qun.Tx) error {
		_, err := tx.App(app.ID)
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx qun.Tx) error { return tx.DeleteApp(app.ID) }), qun.ENotFound)
}

func testUsers(t *testing.T, s qun.Store) {
	t1, _, users := seed(t, s, qun.Feishu, "t1", 3)
	t2, _, others := seed(t, s, qun.Feishu, "t2", 1)
	d1, _, _ := seed(t, s, qun.DingTalk, "d1", 2)

	err := s.Update(ctx, func(tx qun.Tx) error {
		dup := qun.User{TenantID: t1.ID, UserID: "u0", Name: "dup"}
		return tx.CreateUser(&dup)
	})
	wantCode(t, err, qun.EConflict)

	view(t, s, func(tx qun.Tx) error {
		got := must[qun.User](t)(tx.User(users[1].ID))
		if got.UserID != "u1" || got.Name != "User 1" || got.TenantID != t1.ID || got.Status != qun.Active || got.Kind != qun.MemberUser {
			t.Errorf("User = %+v", got)
		}
		got = must[qun.User](t)(tx.UserByUserID(t2.ID, "u0"))
		if got.ID != others[0].ID {
			t.Errorf("UserByUserID(t2, u0) = %d, want %d", got.ID, others[0].ID)
		}
		_, err := tx.UserByUserID(t1.ID, "nobody")
		wantCode(t, err, qun.ENotFound)
		byID := must[[]qun.User](t)(tx.UsersByID([]int64{users[2].ID, 99999, others[0].ID}))
		if len(byID) != 2 {
			t.Errorf("UsersByID = %d users, want 2", len(byID))
		}
		if n := len(must[[]qun.User](t)(tx.Users(qun.Feishu, 0))); n != 4 {
			t.Errorf("Users(feishu) = %d, want 4", n)
		}
		if n := len(must[[]qun.User](t)(tx.Users("", d1.ID))); n != 2 {
			t.Errorf("Users(d1) = %d, want 2", n)
		}
		list := must[[]qun.User](t)(tx.Users("", t1.ID))
		for i, u := range list {
			if u.ID != users[i].ID {
				t.Errorf("Users(t1)[%d] = %d, want %d (oldest first)", i, u.ID, users[i].ID)
			}
		}
		return nil
	})
	u := users[0]
	u.Status, u.Name = qun.Resigned, "Gone"
	update(t, s, func(tx qun.Tx) error { return tx.UpdateUser(u) })
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.User](t)(tx.User(u.ID))
		if got.Status != qun.Resigned || got.Name != "Gone" || got.UserID != "u0" {
			t.Errorf("after UpdateUser: %+v", got)
		}
		return nil
	})
}

func testAliases(t *testing.T, s qun.Store) {
	tenant, _, _ := seed(t, s, qun.Feishu, "t1", 0)
	u := qun.User{TenantID: tenant.ID, UserID: "alice", Name: "Alice", Aliases: []qun.Alias{
		{Kind: qun.OpenID, Scope: "cli_a", Value: "ou_alice_a"},
		{Kind: qun.UnionID, Scope: "dev", Value: "on_alice"},
	}}
	v := qun.User{TenantID: tenant.ID, UserID: "bob", Name: "Bob"}
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateUser(&u); err != nil {
			return err
		}
		return tx.CreateUser(&v)
	})
	update(t, s, func(tx qun.Tx) error {
		// Idempotent for the holder.
		return tx.AddAliases(u.ID, []qun.Alias{{Kind: qun.OpenID, Scope: "cli_a", Value: "ou_alice_a"}, {Kind: qun.OpenID, Scope: "cli_b", Value: "ou_alice_b"}})
	})
	err := s.Update(ctx, func(tx qun.Tx) error {
		return tx.AddAliases(v.ID, []qun.Alias{{Kind: qun.OpenID, Scope: "cli_a", Value: "ou_alice_a"}})
	})
	wantCode(t, err, qun.EConflict)
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.User](t)(tx.UserByAlias(qun.OpenID, "cli_b", "ou_alice_b"))
		if got.ID != u.ID {
			t.Errorf("UserByAlias = %d, want %d", got.ID, u.ID)
		}
		if got.Alias(qun.OpenID, "cli_a") != "ou_alice_a" || got.Alias(qun.UnionID, "dev") != "on_alice" || len(got.Aliases) != 3 {
			t.Errorf("aliases = %+v", got.Aliases)
		}
		_, err := tx.UserByAlias(qun.OpenID, "cli_b", "ou_alice_a")
		wantCode(t, err, qun.ENotFound)
		got = must[qun.User](t)(tx.UserByAlias(qun.OpenID, "", "ou_alice_a"))
		if got.ID != u.ID {
			t.Errorf("UserByAlias any scope = %d, want %d", got.ID, u.ID)
		}
		return nil
	})
}

func testFriendships(t *testing.T, s qun.Store) {
	_, _, a := seed(t, s, qun.Feishu, "t1", 3)
	_, _, b := seed(t, s, qun.Feishu, "t2", 1)
	update(t, s, func(tx qun.Tx) error {
		for _, p := range [][2]int64{{a[0].ID, b[0].ID}, {b[0].ID, a[0].ID}, {a[2].ID, a[0].ID}} {
			if err := tx.AddFriendship(p[0], p[1]); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx qun.Tx) error {
		for _, c := range []struct {
			x, y int64
			want bool
		}{{a[0].ID, b[0].ID, true}, {b[0].ID, a[0].ID, true}, {a[0].ID, a[2].ID, true}, {a[1].ID, b[0].ID, false}} {
			if got := must[bool](t)(tx.Friends(c.x, c.y)); got != c.want {
				t.Errorf("Friends(%d, %d) = %v, want %v", c.x, c.y, got, c.want)
			}
		}
		got := must[[]int64](t)(tx.FriendsOf(a[0].ID))
		want := []int64{a[2].ID, b[0].ID}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("FriendsOf = %v, want %v", got, want)
		}
		return nil
	})
}

func testTokens(t *testing.T, s qun.Store) {
	now := time.UnixMilli(1_700_000_000_000).UTC()
	t1 := qun.Token{Value: "t-1", Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: "cli_a", TenantKey: "k", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	t2 := t1
	t2.Value, t2.ExpiresAt = "t-2", now.Add(2*time.Hour)
	t3 := t1
	t3.Value, t3.Kind, t3.ExpiresAt = "a-3", qun.AppToken, now.Add(3*time.Hour)
	update(t, s, func(tx qun.Tx) error {
		for _, tok := range []qun.Token{t1, t2, t3} {
			if err := tx.PutToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx qun.Tx) error { return tx.PutToken(t1) }), qun.EConflict)
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Token](t)(tx.Token("t-1"))
		if got != t1 {
			t.Errorf("Token = %+v, want %+v", got, t1)
		}
		got = must[qun.Token](t)(tx.LatestToken(qun.TenantToken, qun.Feishu, "cli_a", "k", ""))
		if got.Value != "t-2" {
			t.Errorf("LatestToken = %s, want t-2", got.Value)
		}
		_, err := tx.LatestToken(qun.TenantToken, qun.Feishu, "cli_b", "k", "")
		wantCode(t, err, qun.ENotFound)
		live := must[[]qun.Token](t)(tx.LiveTokens(now.Add(90*time.Minute), 10))
		if len(live) != 2 || live[0] != t3 || live[1] != t2 {
			t.Errorf("LiveTokens after 90 minutes = %+v, want a-3 then t-2", live)
		}
		if live := must[[]qun.Token](t)(tx.LiveTokens(now, 1)); len(live) != 1 || live[0].Value != "a-3" {
			t.Errorf("LiveTokens limited to 1 = %+v", live)
		}
		_, err = tx.Token("nope")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	later := now.Add(5 * time.Hour)
	update(t, s, func(tx qun.Tx) error { return tx.ExtendToken("t-1", later) })
	view(t, s, func(tx qun.Tx) error {
		if got := must[qun.Token](t)(tx.Token("t-1")); !got.ExpiresAt.Equal(later) {
			t.Errorf("after ExtendToken expires %v, want %v", got.ExpiresAt, later)
		}
		if got := must[qun.Token](t)(tx.LatestToken(qun.TenantToken, qun.Feishu, "cli_a", "k", "")); got.Value != "t-1" {
			t.Errorf("LatestToken after ExtendToken = %s, want t-1", got.Value)
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx qun.Tx) error { return tx.ExtendToken("nope", later) }), qun.ENotFound)
}

func testUserTokens(t *testing.T, s qun.Store) {
	now := time.UnixMilli(1_700_000_000_000).UTC()
	base := qun.Token{Kind: qun.Session, Platform: qun.WeCom, AppKey: "1000002", TenantKey: "ww1", IssuedAt: now}
	mk := func(value, user string, exp time.Duration) qun.Token {
		tok := base
		tok.Value, tok.UserID, tok.ExpiresAt = value, user, now.Add(exp)
		return tok
	}
	toks := []qun.Token{mk("s-a1", "a", time.Hour), mk("s-a2", "a", 2*time.Hour), mk("s-b1", "b", 3*time.Hour), mk("s-app", "", 4*time.Hour)}
	update(t, s, func(tx qun.Tx) error {
		for _, tok := range toks {
			if err := tx.PutToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx qun.Tx) error {
		for user, want := range map[string]string{"a": "s-a2", "b": "s-b1", "": "s-app"} {
			got := must[qun.Token](t)(tx.LatestToken(qun.Session, qun.WeCom, "1000002", "ww1", user))
			if got.Value != want || got.UserID != user {
				t.Errorf("LatestToken(user %q) = %s of %q, want %s", user, got.Value, got.UserID, want)
			}
		}
		_, err := tx.LatestToken(qun.Session, qun.WeCom, "1000002", "ww1", "c")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	update(t, s, func(tx qun.Tx) error {
		got, err := tx.ConsumeToken("s-a1")
		if err != nil {
			return err
		}
		if got != toks[0] {
			t.Errorf("ConsumeToken = %+v, want %+v", got, toks[0])
		}
		_, err = tx.ConsumeToken("s-a1")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	view(t, s, func(tx qun.Tx) error {
		_, err := tx.Token("s-a1")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
}

// testConsumeConcurrent: of many transactions consuming one token, exactly
// one gets it.
func testConsumeConcurrent(t *testing.T, s qun.Store) {
	now := time.Now()
	code := qun.Token{Value: "code-1", Kind: qun.LoginCode, Platform: qun.WeCom, AppKey: "1000002", TenantKey: "ww1", UserID: "a", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	update(t, s, func(tx qun.Tx) error { return tx.PutToken(code) })
	const n = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  int
		errs []error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx qun.Tx) error {
				_, err := tx.ConsumeToken(code.Value)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case qun.ErrorCode(err) != qun.ENotFound:
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || len(errs) > 0 {
		t.Errorf("%d consumers got the token (want 1); unexpected errors: %v", won, errs)
	}
}

func testLinks(t *testing.T, s qun.Store) {
	chain := qun.Link{Platform: qun.WeCom, Key: "chain-1", Name: "Supply", Kind: qun.Chain, Upstream: []string{"ww1"}, Downstream: []string{"ww2", "ww3"}}
	inter := qun.Link{Platform: qun.WeCom, Key: "inter-1", Kind: qun.Interconnect, Upstream: []string{"ww1", "ww4"}}
	other := qun.Link{Platform: qun.Feishu, Key: "x", Kind: qun.Interconnect, Upstream: []string{"a", "b"}}
	update(t, s, func(tx qun.Tx) error {
		for _, l := range []*qun.Link{&chain, &inter, &other} {
			if err := tx.PutLink(l); err != nil {
				return err
			}
			if l.ID == 0 {
				t.Errorf("PutLink(%s) left ID 0", l.Key)
			}
		}
		return nil
	})
	view(t, s, func(tx qun.Tx) error {
		got := must[[]qun.Link](t)(tx.Links(qun.WeCom))
		if !equalJSON(got, []qun.Link{chain, inter}) || got[0].ID != chain.ID {
			t.Errorf("Links(wecom) = %+v, want %+v", got, []qun.Link{chain, inter})
		}
		if n := len(must[[]qun.Link](t)(tx.Links(""))); n != 3 {
			t.Errorf("Links(\"\") = %d links, want 3", n)
		}
		return nil
	})
	// Putting a link again replaces it and keeps its ID.
	changed := chain
	changed.MutualVisible, changed.Downstream = true, []string{"ww2"}
	update(t, s, func(tx qun.Tx) error { return tx.PutLink(&changed) })
	if changed.ID != chain.ID {
		t.Errorf("replaced link ID %d, want %d", changed.ID, chain.ID)
	}
	view(t, s, func(tx qun.Tx) error {
		got := must[[]qun.Link](t)(tx.Links(qun.WeCom))
		if len(got) != 2 || !got[0].MutualVisible || len(got[0].Downstream) != 1 {
			t.Errorf("after replacing: %+v", got)
		}
		return nil
	})
	update(t, s, func(tx qun.Tx) error { return tx.Reset() })
	view(t, s, func(tx qun.Tx) error {
		if n := len(must[[]qun.Link](t)(tx.Links(""))); n != 0 {
			t.Errorf("%d links after Reset", n)
		}
		return nil
	})
}

func newChat(tenant qun.Tenant, app qun.App, id, name string) qun.Chat {
	now := time.UnixMilli(1_700_000_000_000).UTC()
	st := qun.DefaultSettings()
	st.Labels = []string{"l1"}
	return qun.Chat{
		ChatID: id, Platform: tenant.Platform, TenantID: tenant.ID, CreatorApp: app.ID, OwnerApp: app.ID,
		Name: name, Description: "d", Avatar: "av", I18nNames: qun.I18nNames{ZhCN: "群", EnUS: "chat"},
		Settings: st, Status: qun.Normal, CreatedAt: now, UpdatedAt: now,
	}
}

func testChats(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 1)
	c := newChat(tenant, app, "oc_1", "Alpha")
	c.ConversationID = "cidAlpha=="
	plain := newChat(tenant, app, "oc_plain", "No conversation ID")
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateChat(&c); err != nil {
			return err
		}
		return tx.CreateChat(&plain) // chats without one do not collide
	})
	if c.ID == 0 {
		t.Fatal("CreateChat did not set ID")
	}
	wantCode(t, s.Update(ctx, func(tx qun.Tx) error {
		dup := newChat(tenant, app, "oc_2", "Dup conversation")
		dup.ConversationID = "cidAlpha=="
		return tx.CreateChat(&dup)
	}), qun.EConflict)
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Chat](t)(tx.ChatByConversationID("cidAlpha=="))
		if got.ID != c.ID || got.ConversationID != "cidAlpha==" {
			t.Errorf("ChatByConversationID = %+v", got)
		}
		_, err := tx.ChatByConversationID("")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	err := s.Update(ctx, func(tx qun.Tx) error {
		dup := newChat(tenant, app, "oc_1", "Dup")
		return tx.CreateChat(&dup)
	})
	wantCode(t, err, qun.EConflict)
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Chat](t)(tx.ChatByChatID("oc_1"))
		if got.ID != c.ID || got.CreatorApp != app.ID || got.OwnerApp != app.ID || got.OwnerUser != 0 || got.TenantID != tenant.ID || !equalJSON(got, c) {
			t.Errorf("ChatByChatID = %+v, want %+v", got, c)
		}
		_, err := tx.Chat(c.ID + 100)
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	c.OwnerUser, c.OwnerApp, c.Name, c.Status = users[0].ID, 0, "Beta", qun.Dissolved
	c.Settings.Visibility = qun.Public
	update(t, s, func(tx qun.Tx) error { return tx.LockChat(c.ID) })
	update(t, s, func(tx qun.Tx) error { return tx.UpdateChat(c) })
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Chat](t)(tx.Chat(c.ID))
		if got.OwnerUser != users[0].ID || got.OwnerApp != 0 || got.Name != "Beta" || got.Status != qun.Dissolved || got.Settings.Visibility != qun.Public {
			t.Errorf("after UpdateChat: %+v", got)
		}
		return nil
	})
}

func testChatFilter(t *testing.T, s qun.Store) {
	t1, app1, users := seed(t, s, qun.Feishu, "t1", 2)
	t2, app2, _ := seed(t, s, qun.Feishu, "t2", 0)
	base := time.UnixMilli(1_700_000_000_000).UTC()
	var ids []int64
	update(t, s, func(tx qun.Tx) error {
		for i, name := range []string{"Apple pie", "banana", "APPLE juice", "cherry", "Durian"} {
			c := newChat(t1, app1, fmt.Sprintf("oc_%d", i), name)
			// Activity: banana most recent, then cherry, Apple pie, APPLE juice.
			c.UpdatedAt = base.Add(time.Duration([]int{2, 4, 1, 3, 0}[i]) * time.Minute)
			switch i {
			case 3:
				c.Status = qun.Dissolved
			case 4:
				c.Settings.Visibility = qun.Public
				c.I18nNames = qun.I18nNames{EnUS: "King of FRUITS"}
			}
			if err := tx.CreateChat(&c); err != nil {
				return err
			}
			ids = append(ids, c.ID)
			if i == 4 {
				continue // the bot is not in the public chat
			}
			if _, err := tx.AddMember(qun.Member{Chat: c.ID, App: app1.ID, Role: qun.RoleOwner, JoinedAt: c.CreatedAt}); err != nil {
				return err
			}
			if i%2 == 0 {
				if _, err := tx.AddMember(qun.Member{Chat: c.ID, User: users[0].ID, Role: qun.RoleMember, JoinedAt: c.CreatedAt}); err != nil {
					return err
				}
			}
		}
		c := newChat(t2, app2, "oc_other", "apple other tenant")
		c.Settings.Visibility = qun.Public
		return tx.CreateChat(&c)
	})
	// An update moves a chat's activity and keeps its search text current.
	update(t, s, func(tx qun.Tx) error {
		c := must[qun.Chat](t)(tx.Chat(ids[2]))
		c.UpdatedAt = base.Add(5 * time.Minute)
		c.I18nNames.JaJP = "りんごジュース"
		return tx.UpdateChat(c)
	})
	cursor := func(i int, minutes int) qun.ChatCursor {
		return qun.ChatCursor{ID: ids[i], Active: base.Add(time.Duration(minutes) * time.Minute).UnixMilli()}
	}
	cases := []struct {
		name string
		f    qun.ChatFilter
		want []int64
	}{
		{"tenant", qun.ChatFilter{TenantID: t1.ID}, ids},
		{"member user", qun.ChatFilter{MemberUser: users[0].ID}, []int64{ids[0], ids[2]}},
		{"member app", qun.ChatFilter{MemberApp: app1.ID, Status: qun.Normal}, ids[:3]},
		{"member app and user", qun.ChatFilter{MemberApp: app1.ID, MemberUser: users[0].ID}, []int64{ids[0], ids[2]}},
		{"member app or public", qun.ChatFilter{MemberApp: app1.ID, OrPublicIn: t1.ID, Status: qun.Normal}, []int64{ids[0], ids[1], ids[2], ids[4]}},
		{"public", qun.ChatFilter{TenantID: t1.ID, Public: true}, []int64{ids[4]}},
		{"exact name", qun.ChatFilter{Name: "banana"}, []int64{ids[1]}},
		{"exact name is exact", qun.ChatFilter{Name: "Banana"}, nil},
		{"query", qun.ChatFilter{TenantID: t1.ID, Query: "apple"}, []int64{ids[0], ids[2]}},
		{"query i18n", qun.ChatFilter{TenantID: t1.ID, Query: "fruits"}, []int64{ids[4]}},
		{"query updated i18n", qun.ChatFilter{Query: "りんご"}, []int64{ids[2]}},
		{"page", qun.ChatFilter{TenantID: t1.ID, After: qun.ChatCursor{ID: ids[0]}, Limit: 2}, ids[1:3]},
		{"newest", qun.ChatFilter{TenantID: t1.ID, Order: qun.ByNewest, Limit: 2}, []int64{ids[4], ids[3]}},
		{"newest page", qun.ChatFilter{TenantID: t1.ID, Order: qun.ByNewest, After: qun.ChatCursor{ID: ids[2]}}, []int64{ids[1], ids[0]}},
		{"activity", qun.ChatFilter{TenantID: t1.ID, Order: qun.ByActivity}, []int64{ids[2], ids[1], ids[3], ids[0], ids[4]}},
		{"activity page", qun.ChatFilter{TenantID: t1.ID, Order: qun.ByActivity, After: cursor(3, 3), Limit: 2}, []int64{ids[0], ids[4]}},
		{"none", qun.ChatFilter{MemberUser: users[1].ID}, nil},
	}
	view(t, s, func(tx qun.Tx) error {
		for _, c := range cases {
			got := must[[]qun.Chat](t)(tx.Chats(c.f))
			var gotIDs []int64
			for _, ch := range got {
				gotIDs = append(gotIDs, ch.ID)
			}
			if !slices.Equal(gotIDs, c.want) {
				t.Errorf("%s: Chats = %v, want %v", c.name, gotIDs, c.want)
			}
		}
		return nil
	})
}

func testMembers(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 5)
	c := newChat(tenant, app, "oc_m", "M")
	update(t, s, func(tx qun.Tx) error { return tx.CreateChat(&c) })
	joined := time.UnixMilli(1_700_000_000_123).UTC()
	update(t, s, func(tx qun.Tx) error {
		if _, err := tx.AddMember(qun.Member{Chat: c.ID, App: app.ID, Role: qun.RoleOwner, JoinedAt: joined}); err != nil {
			return err
		}
		for _, u := range users {
			added, err := tx.AddMember(qun.Member{Chat: c.ID, User: u.ID, Role: qun.RoleMember, JoinedAt: joined})
			if err != nil || !added {
				return fmt.Errorf("AddMember(%d) = %v, %v", u.ID, added, err)
			}
		}
		added, err := tx.AddMember(qun.Member{Chat: c.ID, User: users[0].ID, Role: qun.RoleManager, JoinedAt: joined})
		if err != nil || added {
			return fmt.Errorf("second AddMember = %v, %v; want false, nil", added, err)
		}
		return tx.UpdateMember(qun.Member{Chat: c.ID, User: users[1].ID, Role: qun.RoleManager})
	})
	view(t, s, func(tx qun.Tx) error {
		m := must[qun.Member](t)(tx.Member(c.ID, users[0].ID, 0))
		if m.Role != qun.RoleMember || !m.JoinedAt.Equal(joined) || m.User != users[0].ID || m.App != 0 || m.Seq == 0 {
			t.Errorf("Member = %+v", m)
		}
		bot := must[qun.Member](t)(tx.Member(c.ID, 0, app.ID))
		if !bot.IsBot() || bot.Role != qun.RoleOwner {
			t.Errorf("bot member = %+v", bot)
		}
		all := must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID}))
		if len(all) != 6 || !all[0].IsBot() {
			t.Errorf("Members = %+v", all)
		}
		usersOnly := must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID, UsersOnly: true, Limit: 2}))
		if len(usersOnly) != 2 || usersOnly[0].User != users[0].ID || usersOnly[1].User != users[1].ID {
			t.Errorf("Members(users, limit 2) = %+v", usersOnly)
		}
		next := must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID, UsersOnly: true, After: usersOnly[1].Seq}))
		if len(next) != 3 || next[0].User != users[2].ID {
			t.Errorf("Members(after) = %+v", next)
		}
		mgrs := must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID, Role: qun.RoleManager}))
		if len(mgrs) != 1 || mgrs[0].User != users[1].ID {
			t.Errorf("Members(managers) = %+v", mgrs)
		}
		u, b, err := tx.CountMembers(c.ID)
		if err != nil || u != 5 || b != 1 {
			t.Errorf("CountMembers = %d, %d, %v; want 5, 1", u, b, err)
		}
		r := must[qun.Roster](t)(tx.Roster(c.ID))
		if r.Users != 5 || r.Bots != 1 || !slices.EqualFunc(r.Managers, mgrs, func(a, b qun.Member) bool {
			return a.Seq == b.Seq && a.User == b.User && a.Role == b.Role && a.JoinedAt.Equal(b.JoinedAt)
		}) {
			t.Errorf("Roster = %+v; want 5 users, 1 bot, managers %+v", r, mgrs)
		}
		return nil
	})
	// Roster: managers in join order, the bot among them; none in a chat
	// without members.
	update(t, s, func(tx qun.Tx) error {
		if err := tx.UpdateMember(qun.Member{Chat: c.ID, App: app.ID, Role: qun.RoleManager}); err != nil {
			return err
		}
		return tx.UpdateMember(qun.Member{Chat: c.ID, User: users[3].ID, Role: qun.RoleManager})
	})
	empty := newChat(tenant, app, "oc_m_empty", "E")
	update(t, s, func(tx qun.Tx) error { return tx.CreateChat(&empty) })
	view(t, s, func(tx qun.Tx) error {
		r := must[qun.Roster](t)(tx.Roster(c.ID))
		var got []string
		for _, m := range r.Managers {
			got = append(got, fmt.Sprintf("u%d/a%d/%s", m.User, m.App, m.Role))
		}
		want := []string{fmt.Sprintf("u0/a%d/manager", app.ID), fmt.Sprintf("u%d/a0/manager", users[1].ID), fmt.Sprintf("u%d/a0/manager", users[3].ID)}
		if r.Users != 5 || r.Bots != 1 || !slices.Equal(got, want) || r.Managers[0].Chat != c.ID || r.Managers[0].Seq == 0 || !r.Managers[1].JoinedAt.Equal(joined) {
			t.Errorf("Roster = %d users, %d bots, %v (%+v); want 5, 1, %v", r.Users, r.Bots, got, r.Managers, want)
		}
		if r := must[qun.Roster](t)(tx.Roster(empty.ID)); r.Users != 0 || r.Bots != 0 || r.Managers != nil {
			t.Errorf("Roster of a chat without members = %+v", r)
		}
		return nil
	})
	update(t, s, func(tx qun.Tx) error {
		if err := tx.UpdateMember(qun.Member{Chat: c.ID, App: app.ID, Role: qun.RoleOwner}); err != nil {
			return err
		}
		return tx.UpdateMember(qun.Member{Chat: c.ID, User: users[3].ID, Role: qun.RoleMember})
	})
	update(t, s, func(tx qun.Tx) error {
		removed, err := tx.RemoveMember(c.ID, users[4].ID, 0)
		if err != nil || !removed {
			return fmt.Errorf("RemoveMember = %v, %v", removed, err)
		}
		removed, err = tx.RemoveMember(c.ID, users[4].ID, 0)
		if err != nil || removed {
			return fmt.Errorf("second RemoveMember = %v, %v", removed, err)
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx qun.Tx) error {
		return tx.UpdateMember(qun.Member{Chat: c.ID, User: users[4].ID, Role: qun.RoleManager})
	}), qun.ENotFound)
	view(t, s, func(tx qun.Tx) error {
		_, err := tx.Member(c.ID, users[4].ID, 0)
		wantCode(t, err, qun.ENotFound)
		return nil
	})
	// Deleting an app removes its bot from chats.
	update(t, s, func(tx qun.Tx) error { return tx.DeleteApp(app.ID) })
	view(t, s, func(tx qun.Tx) error {
		u, b, err := tx.CountMembers(c.ID)
		if err != nil || u != 4 || b != 0 {
			t.Errorf("after DeleteApp CountMembers = %d, %d, %v; want 4, 0", u, b, err)
		}
		ch := must[qun.Chat](t)(tx.Chat(c.ID))
		if ch.OwnerApp != 0 || ch.CreatorApp != 0 {
			t.Errorf("after DeleteApp the chat still points at the app: %+v", ch)
		}
		return nil
	})
}

func testDedupe(t *testing.T, s qun.Store) {
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	claim := func(key, chat string, at, notBefore time.Time) string {
		t.Helper()
		var holder string
		update(t, s, func(tx qun.Tx) error {
			var err error
			holder, err = tx.ClaimDedupe(qun.Dedupe{Scope: "s", Key: key, ChatID: chat, CreatedAt: at}, notBefore)
			return err
		})
		return holder
	}
	if got := claim("k", "oc_a", t0, t0.Add(-time.Hour)); got != "oc_a" {
		t.Fatalf("first claim = %s, want oc_a", got)
	}
	if got := claim("k", "oc_b", t0.Add(time.Minute), t0.Add(-time.Hour)); got != "oc_a" {
		t.Fatalf("second claim = %s, want oc_a", got)
	}
	if got := claim("other", "oc_c", t0, t0.Add(-time.Hour)); got != "oc_c" {
		t.Fatalf("other key = %s, want oc_c", got)
	}
	// Once the first claim is older than notBefore, the key is free again.
	if got := claim("k", "oc_d", t0.Add(11*time.Hour), t0.Add(time.Hour)); got != "oc_d" {
		t.Fatalf("claim after expiry = %s, want oc_d", got)
	}
	if got := claim("k", "oc_e", t0.Add(12*time.Hour), t0.Add(time.Hour)); got != "oc_d" {
		t.Fatalf("claim after renewal = %s, want oc_d", got)
	}
}

// testDedupeConcurrent runs many transactions that each claim one key and,
// when they win it, create a chat: exactly one chat must result.
func testDedupeConcurrent(t *testing.T, s qun.Store) {
	tenant, app, _ := seed(t, s, qun.Feishu, "t1", 0)
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		holders = map[string]int{}
		errs    []error
	)
	now := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := fmt.Sprintf("oc_%02d", i)
			var holder string
			err := s.Update(ctx, func(tx qun.Tx) error {
				var err error
				holder, err = tx.ClaimDedupe(qun.Dedupe{Scope: "s", Key: "same", ChatID: mine, CreatedAt: now}, now.Add(-time.Hour))
				if err != nil || holder != mine {
					return err
				}
				c := newChat(tenant, app, mine, "race")
				return tx.CreateChat(&c)
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			holders[holder]++
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d transactions failed, first: %v", len(errs), n, errs[0])
	}
	if len(holders) != 1 {
		t.Fatalf("holders = %v, want one chat for all", holders)
	}
	view(t, s, func(tx qun.Tx) error {
		chats := must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{TenantID: tenant.ID}))
		if len(chats) != 1 {
			t.Errorf("%d chats created, want 1", len(chats))
		}
		return nil
	})
}

var errBoom = errors.New("boom")

func testRollback(t *testing.T, s qun.Store) {
	err := s.Update(ctx, func(tx qun.Tx) error {
		tn := qun.Tenant{Platform: qun.Feishu, Key: "gone"}
		if err := tx.CreateTenant(&tn); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	view(t, s, func(tx qun.Tx) error {
		_, err := tx.TenantByKey(qun.Feishu, "gone")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
}

// testConcurrentRollback runs many updates at once, half of which fail after
// writing: exactly the writes of the others remain.
func testConcurrentRollback(t *testing.T, s qun.Store) {
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx qun.Tx) error {
				tn := qun.Tenant{Platform: qun.Feishu, Key: fmt.Sprintf("k%02d", i)}
				if err := tx.CreateTenant(&tn); err != nil {
					return err
				}
				if i%2 == 1 {
					return errBoom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%2 == 1; errors.Is(err, errBoom) != want || (!want && err != nil) {
			t.Errorf("update %d: %v", i, err)
		}
	}
	view(t, s, func(tx qun.Tx) error {
		ts := must[[]qun.Tenant](t)(tx.Tenants(qun.Feishu))
		if len(ts) != n/2 {
			t.Errorf("%d tenants, want %d", len(ts), n/2)
		}
		for _, tn := range ts {
			var i int
			fmt.Sscanf(tn.Key, "k%d", &i)
			if i%2 == 1 {
				t.Errorf("tenant %s of a failed update exists", tn.Key)
			}
		}
		return nil
	})
}

func testViewReadOnly(t *testing.T, s qun.Store) {
	err := s.View(ctx, func(tx qun.Tx) error {
		tn := qun.Tenant{Platform: qun.Feishu, Key: "ro"}
		return tx.CreateTenant(&tn)
	})
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
	view(t, s, func(tx qun.Tx) error {
		_, err := tx.TenantByKey(qun.Feishu, "ro")
		wantCode(t, err, qun.ENotFound)
		return nil
	})
}

func testReset(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 2)
	c := newChat(tenant, app, "oc_r", "R")
	tok := qun.Token{Value: "t-keep", Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: app.Key, TenantKey: tenant.Key, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateChat(&c); err != nil {
			return err
		}
		if _, err := tx.AddMember(qun.Member{Chat: c.ID, User: users[0].ID, Role: qun.RoleOwner, JoinedAt: time.Now()}); err != nil {
			return err
		}
		if err := tx.AddFriendship(users[0].ID, users[1].ID); err != nil {
			return err
		}
		if _, err := tx.ClaimDedupe(qun.Dedupe{Scope: "s", Key: "k", ChatID: c.ChatID, CreatedAt: time.Now()}, time.Time{}); err != nil {
			return err
		}
		if err := tx.SetMeta("m", "v"); err != nil {
			return err
		}
		return tx.PutToken(tok)
	})
	update(t, s, func(tx qun.Tx) error { return tx.Reset() })
	view(t, s, func(tx qun.Tx) error {
		if n := len(must[[]qun.Tenant](t)(tx.Tenants(""))); n != 0 {
			t.Errorf("%d tenants after Reset", n)
		}
		if n := len(must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{}))); n != 0 {
			t.Errorf("%d chats after Reset", n)
		}
		if _, err := tx.Token("t-keep"); err != nil {
			t.Errorf("token lost in Reset: %v", err)
		}
		if v := must[string](t)(tx.Meta("m")); v != "v" {
			t.Errorf("meta lost in Reset: %q", v)
		}
		return nil
	})
	// The same keys can be created again, and the dedupe key is free.
	seed(t, s, qun.Feishu, "t1", 2)
	update(t, s, func(tx qun.Tx) error {
		holder, err := tx.ClaimDedupe(qun.Dedupe{Scope: "s", Key: "k", ChatID: "oc_new", CreatedAt: time.Now()}, time.Time{})
		if err == nil && holder != "oc_new" {
			t.Errorf("dedupe survived Reset: holder %s", holder)
		}
		return err
	})
}

func testMeta(t *testing.T, s qun.Store) {
	view(t, s, func(tx qun.Tx) error {
		if v := must[string](t)(tx.Meta("absent")); v != "" {
			t.Errorf("Meta(absent) = %q", v)
		}
		return nil
	})
	update(t, s, func(tx qun.Tx) error { return tx.SetMeta("k", "1") })
	update(t, s, func(tx qun.Tx) error { return tx.SetMeta("k", "2") })
	view(t, s, func(tx qun.Tx) error {
		if v := must[string](t)(tx.Meta("k")); v != "2" {
			t.Errorf("Meta(k) = %q, want 2", v)
		}
		return nil
	})
	// Outside a transaction: the newest committed value.
	if v, err := s.Meta(ctx, "k"); err != nil || v != "2" {
		t.Errorf("Store.Meta(k) = %q, %v; want 2", v, err)
	}
	if v, err := s.Meta(ctx, "absent"); err != nil || v != "" {
		t.Errorf("Store.Meta(absent) = %q, %v", v, err)
	}
}

// equalJSON reports whether a and b encode to the same JSON: the fields a
// store must keep, whatever columns it keeps them in.
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// BacklogCost checks that a delivery poll leaving a busy app out does the
// same work whether that app's due backlog holds small events or large
// events:
// for each size it opens a store, seeds the backlog (and three events of
// another app, which the poll must answer), records the statements the
// poll issues through trace (which the store calls with each statement
// while it is set; nil unsets it), and sums their work as measured by
// work (a count that does not depend on the machine's speed).
func BacklogCost(t *testing.T, open func(t *testing.T) qun.Store, trace func(fn func(query string, args []any)), work func(s qun.Store, query string, args []any) (int, error), small, large int) {
	t.Helper()
	cost := func(n int) int {
		s := open(t)
		defer s.Close()
		poll := backlog(t, s, n)
		type stmt struct {
			query string
			args  []any
		}
		var (
			mu  sync.Mutex
			ran []stmt
		)
		trace(func(q string, args []any) {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, stmt{q, slices.Clone(args)})
		})
		poll()
		trace(nil)
		sum := 0
		for _, st := range ran {
			n, err := work(s, st.query, st.args)
			if err != nil {
				t.Fatalf("measuring %s: %v", st.query, err)
			}
			sum += n
		}
		return sum
	}
	a, b := cost(small), cost(large)
	t.Logf("the work of a poll with a busy app: %d at a backlog of %d, %d at %d", a, small, b, large)
	if a == 0 || b > a+a/10 {
		t.Errorf("a poll with a busy app did %d units of work at a backlog of %d and %d at %d: its cost grows with the backlog", a, small, b, large)
	}
}

// backlog seeds an empty store with n due webhook events of one app and
// three of another, and returns a poll that leaves the first app out as
// busy; the poll fails t unless it answers the other app's three.
func backlog(t *testing.T, s qun.Store, n int) (poll func()) {
	t.Helper()
	tenant, busy, _ := seed(t, s, qun.Feishu, "t1", 0)
	other := qun.App{Platform: qun.Feishu, TenantID: tenant.ID, Key: "cli_other", Secret: "s", Bot: true, Installed: true}
	update(t, s, func(tx qun.Tx) error { return tx.CreateApp(&other) })
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	var es []qun.Event
	for i := range n + 3 {
		app, due := busy, time.Duration(i)*time.Millisecond
		if i >= n {
			app, due = other, time.Hour+due
		}
		es = append(es, qun.Event{
			EventID: fmt.Sprintf("%032d", i), Platform: qun.Feishu, App: app.ID, AppKey: app.Key, Tenant: tenant.Key,
			ChatID: "oc_x", Type: qun.FeishuUserAdded, Mode: qun.Webhook, Body: `{}`,
			CreatedAt: t0, Status: qun.EventPending, DueAt: t0.Add(due),
		})
	}
	update(t, s, func(tx qun.Tx) error { return tx.AddEvents(es) })
	return func() {
		t.Helper()
		view(t, s, func(tx qun.Tx) error {
			due, err := tx.DueEvents(qun.Due{Now: t0.Add(2 * time.Hour), Busy: []int64{busy.ID}, Limit: 32})
			if err != nil {
				return err
			}
			if len(due) != 3 || due[0].App != other.ID || due[2].EventID != es[n+2].EventID {
				t.Errorf("DueEvents with a busy app = %d events, want the other app's 3", len(due))
			}
			return nil
		})
	}
}
