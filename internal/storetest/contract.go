package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/qun"
)

// The cases in this file check the store contract (qun.Store): updates are
// serializable with respect to each other, and the semantics of search,
// time and order are the core's. SQLite passes them by running one update
// at a time; a store without a global writer must earn them with locks or
// serializable transactions.

// testLockChat: 20 concurrent updates each lock a chat, count its members
// and add one if there are fewer than 5. Exactly 5 join, as if the updates
// ran one at a time (a member cap under concurrent adds).
func testLockChat(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 20)
	c := newChat(tenant, app, "oc_lock", "Capped")
	update(t, s, func(tx qun.Tx) error { return tx.CreateChat(&c) })
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx qun.Tx) error {
				if err := tx.LockChat(c.ID); err != nil {
					return err
				}
				n, _, err := tx.CountMembers(c.ID)
				if err != nil || n >= 5 {
					return err
				}
				_, err = tx.AddMember(qun.Member{Chat: c.ID, User: u.ID, Role: qun.RoleMember, JoinedAt: c.CreatedAt})
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	view(t, s, func(tx qun.Tx) error {
		if n, _, err := tx.CountMembers(c.ID); err != nil || n != 5 {
			t.Errorf("%d members after 20 concurrent capped adds, want 5 (%v)", n, err)
		}
		return nil
	})
}

// testWriteSkew: two updates each read two keys and switch their own on
// only while the other is off. Run concurrently many times, never both
// end up on: the outcome is that of some serial order.
func testWriteSkew(t *testing.T, s qun.Store) {
	for round := range 10 {
		a, b := fmt.Sprintf("skew%d-a", round), fmt.Sprintf("skew%d-b", round)
		var wg sync.WaitGroup
		for _, mine := range []string{a, b} {
			other := a
			if mine == a {
				other = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Update(ctx, func(tx qun.Tx) error {
					v, err := tx.Meta(other)
					if err != nil && qun.ErrorCode(err) != qun.ENotFound {
						return err
					}
					if v == "on" {
						return nil
					}
					return tx.SetMeta(mine, "on")
				})
				if err != nil {
					t.Errorf("update: %v", err)
				}
			}()
		}
		wg.Wait()
		view(t, s, func(tx qun.Tx) error {
			va, _ := tx.Meta(a)
			vb, _ := tx.Meta(b)
			if va == "on" && vb == "on" {
				t.Errorf("round %d: both switched on: write skew", round)
			}
			if va != "on" && vb != "on" {
				t.Errorf("round %d: neither switched on", round)
			}
			return nil
		})
	}
}

// testSearch: a keyword matches the chats whose search text
// (qun.SearchText) contains it, as a plain substring: `%` and `_` are
// literal, case does not matter, one-character and CJK keywords work,
// renames keep the index current.
func testSearch(t *testing.T, s qun.Store) {
	tenant, app, _ := seed(t, s, qun.Feishu, "t1", 0)
	names := []string{"100%_off", "100 percent", "测试群名称", "群", "Weekly 周会", "a_b"}
	var ids []int64
	update(t, s, func(tx qun.Tx) error {
		for i, name := range names {
			c := newChat(tenant, app, fmt.Sprintf("oc_s%d", i), name)
			c.I18nNames = qun.I18nNames{}
			if err := tx.CreateChat(&c); err != nil {
				return err
			}
			ids = append(ids, c.ID)
		}
		return nil
	})
	check := func(label string) {
		t.Helper()
		cases := []struct {
			query string
			want  []int64
		}{
			{"%", []int64{ids[0]}},
			{"_", []int64{ids[0], ids[5]}},
			{"0%_", []int64{ids[0]}},
			{"100", []int64{ids[0], ids[1]}},
			{"100_", nil},
			{"测试", []int64{ids[2]}},
			{"群", []int64{ids[2], ids[3]}},
			{"名称", []int64{ids[2]}},
			{"WEEKLY", []int64{ids[4]}},
			{"y 周", []int64{ids[4]}},
			{"nothing", nil},
		}
		view(t, s, func(tx qun.Tx) error {
			for _, c := range cases {
				got := must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{TenantID: tenant.ID, Query: c.query}))
				var gotIDs []int64
				for _, ch := range got {
					gotIDs = append(gotIDs, ch.ID)
				}
				if !slices.Equal(gotIDs, c.want) {
					t.Errorf("%s: query %q = %v, want %v", label, c.query, gotIDs, c.want)
				}
			}
			return nil
		})
	}
	check("created")
	// Renamed: the old name no longer matches, the new one does.
	update(t, s, func(tx qun.Tx) error {
		c := must[qun.Chat](t)(tx.Chat(ids[4]))
		c.Name = "Monthly 月会"
		return tx.UpdateChat(c)
	})
	view(t, s, func(tx qun.Tx) error {
		for q, want := range map[string]int{"weekly": 0, "周会": 0, "monthly": 1, "月会": 1} {
			if got := must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{Query: q})); len(got) != want {
				t.Errorf("after rename: query %q found %d chats, want %d", q, len(got), want)
			}
		}
		return nil
	})
	names[4] = "Monthly 月会"
	// The same keyword, paged by id.
	view(t, s, func(tx qun.Tx) error {
		first := must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{Query: "_", Limit: 1}))
		if len(first) != 1 || first[0].ID != ids[0] {
			t.Fatalf("first page %v", first)
		}
		next := must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{Query: "_", Limit: 1, After: qun.ChatCursor{ID: first[0].ID}}))
		if len(next) != 1 || next[0].ID != ids[5] {
			t.Errorf("second page %v, want chat %d", next, ids[5])
		}
		return nil
	})
}

// testTimePrecision: times round-trip at the core's precision
// (milliseconds) whatever their location, for chats, members, tokens and
// dedupe claims.
func testTimePrecision(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 1)
	at := time.UnixMilli(1_700_000_123_456).In(time.FixedZone("UTC+8", 8*3600))
	c := newChat(tenant, app, "oc_time", "Time")
	c.CreatedAt, c.UpdatedAt = at, at.Add(time.Millisecond)
	tok := qun.Token{Value: "t-time", Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: app.Key, TenantKey: tenant.Key, IssuedAt: at, ExpiresAt: at.Add(2 * time.Hour)}
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateChat(&c); err != nil {
			return err
		}
		if _, err := tx.AddMember(qun.Member{Chat: c.ID, User: users[0].ID, Role: qun.RoleOwner, JoinedAt: at}); err != nil {
			return err
		}
		return tx.PutToken(tok)
	})
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Chat](t)(tx.Chat(c.ID))
		if !got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Errorf("chat times %v %v, want %v %v", got.CreatedAt, got.UpdatedAt, c.CreatedAt, c.UpdatedAt)
		}
		m := must[qun.Member](t)(tx.Member(c.ID, users[0].ID, 0))
		if !m.JoinedAt.Equal(at) {
			t.Errorf("joined %v, want %v", m.JoinedAt, at)
		}
		gt := must[qun.Token](t)(tx.Token("t-time"))
		if !gt.IssuedAt.Equal(at) || !gt.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Errorf("token times %v %v, want %v %v", gt.IssuedAt, gt.ExpiresAt, at, tok.ExpiresAt)
		}
		return nil
	})
}

// testPurge: housekeeping deletes dedupe claims and tokens older than the
// time given, at most limit a call, and nothing newer.
func testPurge(t *testing.T, s qun.Store) {
	tenant, app, _ := seed(t, s, qun.Feishu, "t1", 0)
	now := time.UnixMilli(1_700_000_000_000)
	update(t, s, func(tx qun.Tx) error {
		for i, age := range []time.Duration{11 * time.Hour, 12 * time.Hour, 13 * time.Hour, 9 * time.Hour} {
			d := qun.Dedupe{Scope: "s", Key: fmt.Sprint(i), ChatID: fmt.Sprint("oc_", i), CreatedAt: now.Add(-age)}
			if _, err := tx.ClaimDedupe(d, time.Time{}); err != nil {
				return err
			}
		}
		for i, left := range []time.Duration{-48 * time.Hour, -25 * time.Hour, -time.Hour, time.Hour} {
			tok := qun.Token{Value: fmt.Sprint("t", i), Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: app.Key, TenantKey: tenant.Key, IssuedAt: now.Add(left - 2*time.Hour), ExpiresAt: now.Add(left)}
			if err := tx.PutToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	purge := func(fn func(tx qun.Tx) (int, error)) int {
		var n int
		update(t, s, func(tx qun.Tx) error {
			var err error
			n, err = fn(tx)
			return err
		})
		return n
	}
	cutoff := now.Add(-10 * time.Hour)
	if n := purge(func(tx qun.Tx) (int, error) { return tx.PurgeDedupe(cutoff, 2) }); n != 2 {
		t.Errorf("first dedupe batch deleted %d, want 2 (the limit)", n)
	}
	if n := purge(func(tx qun.Tx) (int, error) { return tx.PurgeDedupe(cutoff, 2) }); n != 1 {
		t.Errorf("second dedupe batch deleted %d, want 1", n)
	}
	// The fresh claim still holds its key.
	update(t, s, func(tx qun.Tx) error {
		holder, err := tx.ClaimDedupe(qun.Dedupe{Scope: "s", Key: "3", ChatID: "oc_new", CreatedAt: now}, cutoff)
		if err == nil && holder != "oc_3" {
			t.Errorf("a claim younger than the cutoff was purged: key 3 now held by %s", holder)
		}
		return err
	})
	if n := purge(func(tx qun.Tx) (int, error) { return tx.PurgeTokens(now.Add(-24*time.Hour), 10) }); n != 2 {
		t.Errorf("purged %d tokens, want the 2 expired for more than a day", n)
	}
	view(t, s, func(tx qun.Tx) error {
		for i, want := range []bool{false, false, true, true} {
			_, err := tx.Token(fmt.Sprint("t", i))
			if got := err == nil; got != want {
				t.Errorf("token t%d kept %v, want %v", i, got, want)
			}
		}
		return nil
	})
}

// testBatches: the batch reads and writes answer as their one-at-a-time
// forms would, in one call.
func testBatches(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 4)
	other, _, _ := seed(t, s, qun.Feishu, "t2", 1)
	update(t, s, func(tx qun.Tx) error {
		for i, u := range users {
			if err := tx.AddAliases(u.ID, []qun.Alias{{Kind: qun.OpenID, Scope: app.Key, Value: fmt.Sprint("ou_", i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(us []qun.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.UserID)
		}
		slices.Sort(out)
		return out
	}
	view(t, s, func(tx qun.Tx) error {
		got := must[[]qun.User](t)(tx.UsersByAlias(qun.OpenID, app.Key, []string{"ou_2", "ou_0", "ou_nobody", "ou_0"}))
		if !slices.Equal(ids(got), []string{"u0", "u2"}) || len(got[0].Aliases) == 0 {
			t.Errorf("UsersByAlias = %v", got)
		}
		if got := must[[]qun.User](t)(tx.UsersByAlias(qun.OpenID, "another-app", []string{"ou_1"})); len(got) != 0 {
			t.Errorf("UsersByAlias in another scope = %v", got)
		}
		got = must[[]qun.User](t)(tx.UsersByUserID(tenant.ID, []string{"u3", "u1", "nobody"}))
		if !slices.Equal(ids(got), []string{"u1", "u3"}) {
			t.Errorf("UsersByUserID = %v", ids(got))
		}
		if got := must[[]qun.User](t)(tx.UsersByUserID(other.ID, []string{"u0", "u1"})); len(got) != 1 || got[0].TenantID != other.ID {
			t.Errorf("UsersByUserID in the other tenant = %v", got)
		}
		return nil
	})
	c := newChat(tenant, app, "oc_batch", "Batch")
	at := time.UnixMilli(1_700_000_000_000)
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateChat(&c); err != nil {
			return err
		}
		_, err := tx.AddMember(qun.Member{Chat: c.ID, User: users[1].ID, Role: qun.RoleOwner, JoinedAt: at})
		return err
	})
	var added []bool
	update(t, s, func(tx qun.Tx) error {
		var err error
		added, err = tx.AddMembers([]qun.Member{
			{Chat: c.ID, User: users[3].ID, Role: qun.RoleMember, JoinedAt: at},
			{Chat: c.ID, User: users[1].ID, Role: qun.RoleMember, JoinedAt: at}, // already the owner
			{Chat: c.ID, App: app.ID, Role: qun.RoleMember, JoinedAt: at},
			{Chat: c.ID, User: users[0].ID, Role: qun.RoleManager, JoinedAt: at},
		})
		return err
	})
	if !slices.Equal(added, []bool{true, false, true, true}) {
		t.Errorf("AddMembers added %v, want [true false true true]", added)
	}
	view(t, s, func(tx qun.Tx) error {
		ms := must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID}))
		var order []string
		for _, m := range ms {
			order = append(order, fmt.Sprintf("%d/%d/%s", m.User, m.App, m.Role))
		}
		want := []string{
			fmt.Sprintf("%d/0/owner", users[1].ID), fmt.Sprintf("%d/0/member", users[3].ID),
			fmt.Sprintf("0/%d/member", app.ID), fmt.Sprintf("%d/0/manager", users[0].ID),
		}
		if !slices.Equal(order, want) {
			t.Errorf("members in join order %v, want %v", order, want)
		}
		for _, m := range ms {
			if !m.JoinedAt.Equal(at) {
				t.Errorf("joined %v, want %v", m.JoinedAt, at)
			}
		}
		of := must[[]qun.Member](t)(tx.MembersOf(c.ID, []int64{users[0].ID, users[2].ID, users[3].ID}, []int64{app.ID}))
		var got []string
		for _, m := range of {
			got = append(got, fmt.Sprintf("%d/%d", m.User, m.App))
		}
		if want := []string{fmt.Sprintf("%d/0", users[3].ID), fmt.Sprintf("0/%d", app.ID), fmt.Sprintf("%d/0", users[0].ID)}; !slices.Equal(got, want) {
			t.Errorf("MembersOf = %v, want %v (users[2] is not in the chat)", got, want)
		}
		if of := must[[]qun.Member](t)(tx.MembersOf(c.ID, nil, nil)); len(of) != 0 {
			t.Errorf("MembersOf nobody = %v", of)
		}
		return nil
	})
}

// testCreateWithMembers: a chat created with its first members has them in
// their order and roles, each once (a repeated bot is left out), counted,
// and listed among the bot's chats by activity.
func testCreateWithMembers(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 2)
	c := newChat(tenant, app, "oc_with", "With members")
	members := []qun.Member{
		{User: users[1].ID, Role: qun.RoleOwner, JoinedAt: c.CreatedAt},
		{User: users[0].ID, Role: qun.RoleMember, JoinedAt: c.CreatedAt},
		{App: app.ID, Role: qun.RoleManager, JoinedAt: c.CreatedAt},
		{App: app.ID, Role: qun.RoleMember, JoinedAt: c.CreatedAt},
	}
	update(t, s, func(tx qun.Tx) error { return tx.CreateChatWithMembers(&c, slices.Clone(members)) })
	if c.ID == 0 {
		t.Fatal("no chat ID set")
	}
	view(t, s, func(tx qun.Tx) error {
		got := must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID}))
		if len(got) != 3 {
			t.Fatalf("%d members, want 3: %+v", len(got), got)
		}
		for i, m := range got {
			w := members[i]
			if m.Chat != c.ID || m.User != w.User || m.App != w.App || m.Role != w.Role {
				t.Errorf("member %d = %+v, want %+v of chat %d", i, m, w, c.ID)
			}
		}
		if u, b, err := tx.CountMembers(c.ID); err != nil || u != 2 || b != 1 {
			t.Errorf("counted %d users and %d bots (%v), want 2 and 1", u, b, err)
		}
		byBot := must[[]qun.Chat](t)(tx.Chats(qun.ChatFilter{MemberApp: app.ID, Order: qun.ByActivity, Limit: 10}))
		if len(byBot) != 1 || byBot[0].ID != c.ID {
			t.Errorf("the bot's chats by activity: %+v", byBot)
		}
		return nil
	})
}

// testDueBusy: DueEvents leaves out the apps in busy and still gives the
// others' due events oldest first up to the limit, at most PerApp of each
// app, whatever the order in which the apps' events fall due (a busy
// app's backlog in front of every other app's events included).
func testDueBusy(t *testing.T, s qun.Store) {
	tenant, a, _ := seed(t, s, qun.Feishu, "t1", 0)
	b := qun.App{Platform: qun.Feishu, TenantID: tenant.ID, Key: "cli_b", Secret: "s", Bot: true, Installed: true}
	c := qun.App{Platform: qun.Feishu, TenantID: tenant.ID, Key: "cli_c", Secret: "s", Bot: true, Installed: true}
	update(t, s, func(tx qun.Tx) error {
		if err := tx.CreateApp(&b); err != nil {
			return err
		}
		return tx.CreateApp(&c)
	})
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	var es []qun.Event
	ev := func(name string, app qun.App, mode qun.EventMode, due time.Duration) {
		es = append(es, qun.Event{
			EventID: fmt.Sprintf("%030d%s", len(es), name), Platform: qun.Feishu, App: app.ID, AppKey: app.Key, Tenant: tenant.Key,
			ChatID: "oc_x", Type: qun.FeishuUserAdded, Mode: mode, Body: `{}`,
			CreatedAt: t0, Status: qun.EventPending, DueAt: t0.Add(due),
		})
	}
	// a's backlog falls due before anything else.
	for i := 1; i <= 5; i++ {
		ev(fmt.Sprintf("a%d", i), a, qun.Webhook, time.Duration(i)*100*time.Millisecond)
	}
	ev("b2", b, qun.Webhook, 2*time.Second)
	ev("b1", b, qun.Webhook, time.Second)
	ev("b9", b, qun.Webhook, 9*time.Second)
	ev("cw", c, qun.Webhook, time.Hour)
	ev("cc", c, qun.Connection, 3*time.Second)
	update(t, s, func(tx qun.Tx) error { return tx.AddEvents(es) })
	view(t, s, func(tx qun.Tx) error {
		for _, k := range []struct {
			now             time.Duration
			connected, busy []int64
			limit, perApp   int
			want            []string
		}{
			{5 * time.Second, nil, nil, 3, 0, []string{"a1", "a2", "a3"}},
			{5 * time.Second, nil, []int64{a.ID}, 10, 0, []string{"b1", "b2"}},
			{5 * time.Second, nil, []int64{a.ID}, 1, 0, []string{"b1"}},
			{5 * time.Second, nil, []int64{b.ID}, 3, 0, []string{"a1", "a2", "a3"}},
			{5 * time.Second, nil, []int64{c.ID}, 10, 0, []string{"a1", "a2", "a3", "a4", "a5", "b1", "b2"}},
			{5 * time.Second, []int64{c.ID}, []int64{a.ID}, 10, 0, []string{"b1", "b2", "cc"}},
			{5 * time.Second, []int64{c.ID}, []int64{a.ID, b.ID}, 10, 0, []string{"cc"}},
			{5 * time.Second, []int64{c.ID}, []int64{c.ID}, 6, 0, []string{"a1", "a2", "a3", "a4", "a5", "b1"}},
			{2 * time.Hour, nil, []int64{a.ID}, 10, 0, []string{"b1", "b2", "b9", "cw"}},
			{2 * time.Hour, nil, []int64{a.ID, b.ID, c.ID}, 10, 0, nil},
			{0, nil, []int64{a.ID}, 10, 0, nil},
			// PerApp bounds each app's share, not the whole.
			{5 * time.Second, []int64{c.ID}, nil, 10, 2, []string{"a1", "a2", "b1", "b2", "cc"}},
			{2 * time.Hour, nil, nil, 4, 1, []string{"a1", "b1", "cw"}},
			{5 * time.Second, nil, []int64{b.ID}, 10, 20, []string{"a1", "a2", "a3", "a4", "a5"}},
		} {
			due, err := tx.DueEvents(qun.Due{Now: t0.Add(k.now), Connected: k.connected, Busy: k.busy, Limit: k.limit, PerApp: k.perApp})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range due {
				got = append(got, e.EventID[30:])
			}
			if !slices.Equal(got, k.want) {
				t.Errorf("DueEvents(+%v, %v, busy %v, limit %d, per app %d) = %v, want %v", k.now, k.connected, k.busy, k.limit, k.perApp, got, k.want)
			}
		}
		return nil
	})
}

// testOutbox: events and their attempts round-trip; DueEvents finds the
// webhook events due and the connection events of the apps asked for,
// oldest due first; a claim by one Update hides an event from a
// concurrent one; the journal pages newest first by chat, app and status;
// deleting an app deletes its events; a rolled-back Update leaves none.
func testOutbox(t *testing.T, s qun.Store) {
	tenant, app, _ := seed(t, s, qun.Feishu, "t1", 0)
	other := qun.App{Platform: qun.Feishu, TenantID: tenant.ID, Key: "cli_other", Secret: "s", Bot: true, Installed: true}
	update(t, s, func(tx qun.Tx) error { return tx.CreateApp(&other) })
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	ev := func(n int, a qun.App, mode qun.EventMode, chat string, due time.Duration) qun.Event {
		return qun.Event{
			EventID: fmt.Sprintf("%032d", n), Platform: qun.Feishu, App: a.ID, AppKey: a.Key, Tenant: tenant.Key,
			ChatID: chat, Type: qun.FeishuUserAdded, Mode: mode, Body: fmt.Sprintf(`{"n":%d}`, n),
			CreatedAt: t0, Status: qun.EventPending, DueAt: t0.Add(due),
		}
	}
	es := []qun.Event{
		ev(1, app, qun.Webhook, "oc_a", 2*time.Second),
		ev(2, app, qun.Webhook, "oc_a", time.Second),
		ev(3, other, qun.Connection, "oc_b", 0),
		ev(4, app, qun.Connection, "oc_b", 0),
		ev(5, app, qun.Webhook, "oc_b", time.Hour),
	}
	update(t, s, func(tx qun.Tx) error { return tx.AddEvents(es) })
	for i, e := range es {
		if e.ID == 0 || (i > 0 && e.ID <= es[i-1].ID) {
			t.Fatalf("event IDs %v: not set in order", es)
		}
	}
	ids := func(es []qun.Event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.EventID[30:])
		}
		return out
	}
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Event](t)(tx.Event(es[0].ID))
		if !reflect.DeepEqual(got, es[0]) {
			t.Errorf("Event = %+v, want %+v", got, es[0])
		}
		for _, c := range []struct {
			now             time.Duration
			connected, busy []int64
			limit           int
			want            []string
		}{
			{0, nil, nil, 10, nil},
			{time.Second, nil, nil, 10, []string{"02"}},
			{2 * time.Second, nil, nil, 10, []string{"02", "01"}},
			{2 * time.Second, []int64{other.ID}, nil, 10, []string{"03", "02", "01"}},
			{2 * time.Second, []int64{app.ID, other.ID}, nil, 10, []string{"03", "04", "02", "01"}},
			{2 * time.Second, []int64{app.ID, other.ID}, nil, 2, []string{"03", "04"}},
			{2 * time.Hour, nil, nil, 10, []string{"02", "01", "05"}},
			{2 * time.Second, []int64{app.ID, other.ID}, []int64{app.ID}, 10, []string{"03"}},
			{2 * time.Second, []int64{other.ID}, []int64{other.ID}, 10, []string{"02", "01"}},
		} {
			got := ids(must[[]qun.Event](t)(tx.DueEvents(qun.Due{Now: t0.Add(c.now), Connected: c.connected, Busy: c.busy, Limit: c.limit})))
			slices.Sort(got[:min(len(got), 2)]) // 03 and 04 are due together
			want := slices.Clone(c.want)
			slices.Sort(want[:min(len(want), 2)])
			if !slices.Equal(got, want) {
				t.Errorf("DueEvents(+%v, %v, busy %v, %d) = %v, want %v", c.now, c.connected, c.busy, c.limit, got, c.want)
			}
		}
		if _, err := tx.Event(99999); qun.ErrorCode(err) != qun.ENotFound {
			t.Errorf("Event(unknown) = %v, want ENotFound", err)
		}
		return nil
	})

	// Delivered: no longer due; an attempt journaled.
	done := es[1]
	done.Status, done.DueAt, done.Attempts = qun.EventDelivered, time.Time{}, 1
	a := qun.Attempt{Event: done.ID, EventID: done.EventID, At: t0.Add(time.Second), Node: "n1", Transport: "webhook", Target: "http://x", OK: true, Status: "200", LatencyMS: 7, Answer: "ok"}
	update(t, s, func(tx qun.Tx) error {
		if err := tx.UpdateEvent(done); err != nil {
			return err
		}
		return tx.AddAttempt(&a)
	})
	if a.ID == 0 {
		t.Error("attempt ID not set")
	}
	view(t, s, func(tx qun.Tx) error {
		if got := ids(must[[]qun.Event](t)(tx.DueEvents(qun.Due{Now: t0.Add(time.Hour), Limit: 10}))); !slices.Equal(got, []string{"01", "05"}) {
			t.Errorf("due after delivery: %v", got)
		}
		as := must[[]qun.Attempt](t)(tx.Attempts([]int64{done.ID, es[0].ID}))
		if len(as) != 1 || !reflect.DeepEqual(as[0], a) {
			t.Errorf("Attempts = %+v, want [%+v]", as, a)
		}
		for _, c := range []struct {
			f    qun.EventFilter
			want []string
		}{
			{qun.EventFilter{}, []string{"05", "04", "03", "02", "01"}},
			{qun.EventFilter{Limit: 2}, []string{"05", "04"}},
			{qun.EventFilter{Before: es[3].ID, Limit: 2}, []string{"03", "02"}},
			{qun.EventFilter{ChatID: "oc_a"}, []string{"02", "01"}},
			{qun.EventFilter{App: other.ID}, []string{"03"}},
			{qun.EventFilter{Status: qun.EventDelivered}, []string{"02"}},
			{qun.EventFilter{ChatID: "oc_b", App: app.ID, Status: qun.EventPending}, []string{"05", "04"}},
		} {
			if got := ids(must[[]qun.Event](t)(tx.Events(c.f))); !slices.Equal(got, c.want) {
				t.Errorf("Events(%+v) = %v, want %v", c.f, got, c.want)
			}
		}
		return nil
	})

	// Two claims of the same due event: one wins.
	var wg sync.WaitGroup
	var claimed sync.Map
	for n := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx qun.Tx) error {
				claimed.Delete(n)
				due, err := tx.DueEvents(qun.Due{Now: t0.Add(time.Hour), Limit: 10})
				if err != nil {
					return err
				}
				for _, e := range due {
					e.DueAt = t0.Add(2 * time.Hour)
					if err := tx.UpdateEvent(e); err != nil {
						return err
					}
					claimed.Store(n, e.EventID)
				}
				return nil
			})
			if err != nil {
				t.Errorf("claim: %v", err)
			}
		}()
	}
	wg.Wait()
	winners := 0
	claimed.Range(func(_, _ any) bool { winners++; return true })
	if winners != 1 {
		t.Errorf("%d Updates claimed the one due event, want 1", winners)
	}

	// A rolled-back Update writes no event.
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx qun.Tx) error {
		if err := tx.AddEvents([]qun.Event{ev(6, app, qun.Webhook, "oc_c", 0)}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	view(t, s, func(tx qun.Tx) error {
		if got := must[[]qun.Event](t)(tx.Events(qun.EventFilter{ChatID: "oc_c"})); len(got) != 0 {
			t.Errorf("a rolled-back event was kept: %+v", got)
		}
		return nil
	})

	// Housekeeping deletes events no longer due created before the cutoff
	// (02 is delivered; 01, 04 and 05 are still due), with their attempts.
	purge := func(before time.Time, limit int) int {
		var n int
		update(t, s, func(tx qun.Tx) error {
			var err error
			n, err = tx.PurgeEvents(before, limit)
			return err
		})
		return n
	}
	if n := purge(t0, 10); n != 0 {
		t.Errorf("purged %d events created at the cutoff, want 0", n)
	}
	if n := purge(t0.Add(time.Millisecond), 10); n != 1 {
		t.Errorf("purged %d events, want 1 (the delivered one)", n)
	}
	view(t, s, func(tx qun.Tx) error {
		if got := ids(must[[]qun.Event](t)(tx.Events(qun.EventFilter{ChatID: "oc_a"}))); !slices.Equal(got, []string{"01"}) {
			t.Errorf("after purging: %v", got)
		}
		if got := must[[]qun.Attempt](t)(tx.Attempts([]int64{done.ID})); len(got) != 0 {
			t.Errorf("attempts of a purged event: %+v", got)
		}
		return nil
	})

	// Deleting an app deletes its events and their attempts; Reset the rest.
	update(t, s, func(tx qun.Tx) error { return tx.DeleteApp(other.ID) })
	view(t, s, func(tx qun.Tx) error {
		if got := must[[]qun.Event](t)(tx.Events(qun.EventFilter{App: other.ID})); len(got) != 0 {
			t.Errorf("events of a deleted app: %+v", got)
		}
		return nil
	})
	update(t, s, func(tx qun.Tx) error { return tx.Reset() })
	view(t, s, func(tx qun.Tx) error {
		if got := must[[]qun.Event](t)(tx.Events(qun.EventFilter{})); len(got) != 0 {
			t.Errorf("events after Reset: %+v", got)
		}
		if got := must[[]qun.Attempt](t)(tx.Attempts([]int64{done.ID})); len(got) != 0 {
			t.Errorf("attempts after Reset: %+v", got)
		}
		return nil
	})
}

// testMessages: messages round-trip by public ID, page a chat's history
// by time both ways, filter by sender, and update.
func testMessages(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 1)
	c := newChat(tenant, app, "oc_msgs", "Messages")
	update(t, s, func(tx qun.Tx) error { return tx.CreateChat(&c) })
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	var ms []qun.Message
	update(t, s, func(tx qun.Tx) error {
		for i := range 5 {
			m := qun.Message{MessageID: fmt.Sprintf("om_%d", i), Chat: c.ID, ChatID: c.ChatID, Platform: qun.Feishu, Type: "text",
				Content: fmt.Sprintf(`{"text":"%d"}`, i), CreatedAt: t0.Add(time.Duration(i/2) * time.Second), UpdatedAt: t0}
			if i%2 == 0 {
				m.SenderApp = app.ID
			} else {
				m.SenderUser = users[0].ID
				m.Mentions = []qun.Mention{{Key: "@_user_1", App: app.ID, Name: "A"}}
			}
			if err := tx.AddMessage(&m); err != nil {
				return err
			}
			ms = append(ms, m)
		}
		return nil
	})
	ids := func(ms []qun.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.MessageID[3:])
		}
		return out
	}
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Message](t)(tx.MessageByID("om_1"))
		if !reflect.DeepEqual(got, ms[1]) {
			t.Errorf("MessageByID = %+v, want %+v", got, ms[1])
		}
		if _, err := tx.MessageByID("om_x"); qun.ErrorCode(err) != qun.ENotFound {
			t.Errorf("unknown message: %v", err)
		}
		for _, c := range []struct {
			f    qun.MessageFilter
			want []string
		}{
			{qun.MessageFilter{Chat: c.ID}, []string{"0", "1", "2", "3", "4"}},
			{qun.MessageFilter{Chat: c.ID, Limit: 2}, []string{"0", "1"}},
			{qun.MessageFilter{Chat: c.ID, Desc: true, Limit: 2}, []string{"4", "3"}},
			{qun.MessageFilter{Chat: c.ID, After: &qun.MessageCursor{At: ms[1].CreatedAt, ID: ms[1].ID}}, []string{"2", "3", "4"}},
			{qun.MessageFilter{Chat: c.ID, Desc: true, After: &qun.MessageCursor{At: ms[3].CreatedAt, ID: ms[3].ID}}, []string{"2", "1", "0"}},
			{qun.MessageFilter{Chat: c.ID, Since: t0.Add(time.Second), Until: t0.Add(time.Second)}, []string{"2", "3"}},
			{qun.MessageFilter{Chat: c.ID, SenderUser: users[0].ID}, []string{"1", "3"}},
			{qun.MessageFilter{Chat: c.ID + 1}, nil},
		} {
			if got := ids(must[[]qun.Message](t)(tx.Messages(c.f))); !slices.Equal(got, c.want) {
				t.Errorf("Messages(%+v) = %v, want %v", c.f, got, c.want)
			}
		}
		return nil
	})
	m := ms[0]
	m.Recalled = true
	update(t, s, func(tx qun.Tx) error { return tx.UpdateMessage(m) })
	view(t, s, func(tx qun.Tx) error {
		if got := must[qun.Message](t)(tx.MessageByID("om_0")); !got.Recalled {
			t.Errorf("after update: %+v", got)
		}
		return nil
	})
	update(t, s, func(tx qun.Tx) error { return tx.Reset() })
	view(t, s, func(tx qun.Tx) error {
		if _, err := tx.MessageByID("om_1"); qun.ErrorCode(err) != qun.ENotFound {
			t.Errorf("a message survived Reset: %v", err)
		}
		return nil
	})
}

// testLast: an update whose last call is announced (Tx.Last) commits with
// it, both a write that answers a row (the chat's ID) and one that does
// not; a last call that fails leaves the whole update unwritten, as does
// one behind a failed ExpectMeta or a cancelled context; and the store
// stays usable after each failure.
func testLast(t *testing.T, s qun.Store) {
	tenant, app, users := seed(t, s, qun.Feishu, "t1", 1)
	c := newChat(tenant, app, "oc_last", "Last")
	update(t, s, func(tx qun.Tx) error {
		if err := tx.SetMeta("before", "written"); err != nil {
			return err
		}
		tx.Last()
		return tx.CreateChatWithMembers(&c, []qun.Member{{User: users[0].ID, Role: qun.RoleOwner, JoinedAt: c.CreatedAt}})
	})
	if c.ID == 0 {
		t.Fatal("the last call set no chat ID")
	}
	update(t, s, func(tx qun.Tx) error { tx.Last(); return tx.SetMeta("v", "3") })
	view(t, s, func(tx qun.Tx) error {
		got := must[qun.Chat](t)(tx.ChatByChatID("oc_last"))
		if got.ID != c.ID {
			t.Errorf("the chat read back has ID %d, its create set %d", got.ID, c.ID)
		}
		if n := len(must[[]qun.Member](t)(tx.Members(qun.MemberFilter{Chat: c.ID}))); n != 1 {
			t.Errorf("%d members, want 1", n)
		}
		for k, want := range map[string]string{"before": "written", "v": "3"} {
			if v := must[string](t)(tx.Meta(k)); v != want {
				t.Errorf("meta %s = %q, want %q", k, v, want)
			}
		}
		return nil
	})
	cancelled, cancel := context.WithCancel(ctx)
	failing := map[string]struct {
		ctx context.Context
		fn  func(tx qun.Tx) error
		is  func(error) bool
	}{
		"the last call fails": {ctx, func(tx qun.Tx) error {
			if err := tx.SetMeta("w", "written"); err != nil {
				return err
			}
			tx.Last()
			again := newChat(tenant, app, "oc_last", "Taken")
			return tx.CreateChatWithMembers(&again, nil)
		}, func(err error) bool { return qun.ErrorCode(err) == qun.EConflict }},
		"the setting moved": {ctx, func(tx qun.Tx) error {
			if err := tx.ExpectMeta("v", "2"); err != nil {
				return err
			}
			tx.Last()
			return tx.SetMeta("w", "written")
		}, func(err error) bool { return errors.Is(err, qun.ErrMoved) }},
		"the context is cancelled": {cancelled, func(tx qun.Tx) error {
			if err := tx.SetMeta("w", "written"); err != nil {
				return err
			}
			cancel()
			tx.Last()
			fresh := newChat(tenant, app, "oc_last_cancelled", "Cancelled")
			return tx.CreateChatWithMembers(&fresh, nil)
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for name, f := range failing {
		if err := s.Update(f.ctx, f.fn); !f.is(err) {
			t.Errorf("%s: Update = %v", name, err)
		}
		view(t, s, func(tx qun.Tx) error {
			if v := must[string](t)(tx.Meta("w")); v != "" {
				t.Errorf("%s: w = %q after the failed update; want it unset", name, v)
			}
			if _, err := tx.ChatByChatID("oc_last_cancelled"); qun.ErrorCode(err) != qun.ENotFound {
				t.Errorf("%s: the cancelled update's chat: %v", name, err)
			}
			return nil
		})
		update(t, s, func(tx qun.Tx) error { tx.Last(); return tx.SetMeta("after", name) })
	}
}

// testExpectMeta: an update held to a setting (Tx.ExpectMeta) commits
// while the setting holds the value, and fails with ErrMoved, writing
// nothing, once it does not: whether or not a statement follows, and
// whatever fn makes of the failure.
func testExpectMeta(t *testing.T, s qun.Store) {
	update(t, s, func(tx qun.Tx) error { return tx.SetMeta("v", "3") })
	update(t, s, func(tx qun.Tx) error {
		if err := tx.ExpectMeta("v", "3"); err != nil {
			return err
		}
		if err := tx.ExpectMeta("unset", ""); err != nil {
			return err
		}
		return tx.SetMeta("w", "held")
	})
	moved := map[string]func(tx qun.Tx) error{
		"statement after": func(tx qun.Tx) error {
			if err := tx.ExpectMeta("v", "2"); err != nil {
				return err
			}
			return tx.SetMeta("w", "written")
		},
		"read after, its error taken for an answer": func(tx qun.Tx) error {
			tx.ExpectMeta("v", "2")
			if _, err := tx.ChatByChatID("oc_absent"); qun.ErrorCode(err) != qun.ENotFound && err != nil {
				tx.SetMeta("w", "written")
			}
			return nil
		},
		"errors ignored": func(tx qun.Tx) error {
			tx.ExpectMeta("v", "2")
			tx.SetMeta("w", "written")
			return nil
		},
		"nothing after": func(tx qun.Tx) error {
			if err := tx.SetMeta("w", "written"); err != nil {
				return err
			}
			return tx.ExpectMeta("v", "2")
		},
		"unset key": func(tx qun.Tx) error {
			if err := tx.ExpectMeta("unset", "0"); err != nil {
				return err
			}
			return tx.SetMeta("w", "written")
		},
	}
	for name, fn := range moved {
		if err := s.Update(ctx, fn); !errors.Is(err, qun.ErrMoved) {
			t.Errorf("%s: Update = %v, want ErrMoved", name, err)
		}
		if v, err := s.Meta(ctx, "w"); err != nil || v != "held" {
			t.Errorf("%s: w = %q, %v after the failed update; want held", name, v, err)
		}
	}
	// The store stays usable, on the connection the failure was on too.
	for range 4 {
		update(t, s, func(tx qun.Tx) error {
			if err := tx.ExpectMeta("v", "3"); err != nil {
				return err
			}
			return tx.SetMeta("w", "held")
		})
	}
}
