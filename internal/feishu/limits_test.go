package feishu_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

// TestScenario follows a chat through its life: create, add members with
// each succeed_type, list, make a manager, hand over ownership, remove,
// dissolve — and then every call on it answers 232009.
func TestScenario(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Lifecycle").Build())

	for st, ids := range map[int][]string{0: {"lisi", "wangwu"}, 1: {"user001", "nobody"}, 2: {"user002", "user003"}} {
		r := addMembers(t, cli, id, "user_id", st, ids...)
		if !r.Success() {
			t.Fatalf("add with succeed_type %d: %d %s", st, r.Code, r.Msg)
		}
	}
	members := memberIDs(t, cli, id, "user_id", 2)
	slices.Sort(members)
	if !slices.Equal(members, []string{"lisi", "user001", "user002", "user003"}) {
		t.Fatalf("members = %v", members)
	}
	listed, err := cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build())
	if err != nil || !listed.Success() || len(listed.Data.Items) != 1 || *listed.Data.Items[0].ChatId != id {
		t.Fatalf("list: %v %+v", err, listed)
	}
	if code, users, _ := managers(t, cli, id, "user_id", true, "user001"); code != 0 || !slices.Equal(users, []string{"user001"}) {
		t.Fatalf("make a manager: %d %v", code, users)
	}
	if r := update(t, cli, id, "user_id", larkim.NewUpdateChatReqBodyBuilder().OwnerId("lisi").Build()); !r.Success() {
		t.Fatalf("transfer: %d %s", r.Code, r.Msg)
	}
	if r := removeMembers(t, cli, id, "user_id", "user003"); !r.Success() {
		t.Fatalf("remove: %d %s", r.Code, r.Msg)
	}
	if r := dissolve(t, cli, id); !r.Success() {
		t.Fatalf("dissolve: %d %s", r.Code, r.Msg)
	}

	after := map[string]func() (int, int){
		"get": func() (int, int) { r := getChat(t, cli, id, "open_id"); return r.Code, r.StatusCode },
		"update": func() (int, int) {
			r := update(t, cli, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().Name("x").Build())
			return r.Code, r.StatusCode
		},
		"dissolve": func() (int, int) { r := dissolve(t, cli, id); return r.Code, r.StatusCode },
		"add members": func() (int, int) {
			r := addMembers(t, cli, id, "user_id", 0, "user004")
			return r.Code, r.StatusCode
		},
		"remove members": func() (int, int) { r := removeMembers(t, cli, id, "user_id", "user002"); return r.Code, r.StatusCode },
		"list members": func() (int, int) {
			r, _ := cli.Im.V1.ChatMembers.Get(ctx, larkim.NewGetChatMembersReqBuilder().ChatId(id).Build())
			return r.Code, r.StatusCode
		},
		"is_in_chat": func() (int, int) {
			r, _ := cli.Im.V1.ChatMembers.IsInChat(ctx, larkim.NewIsInChatChatMembersReqBuilder().ChatId(id).Build())
			return r.Code, r.StatusCode
		},
		"add managers":    func() (int, int) { c, _, _ := managers(t, cli, id, "user_id", true, "user002"); return c, 400 },
		"delete managers": func() (int, int) { c, _, _ := managers(t, cli, id, "user_id", false, "user001"); return c, 400 },
	}
	for name, call := range after {
		c, status := call()
		wantCode(t, name+" after dissolve", c, status, 232009)
	}
	listed, err = cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build())
	if err != nil || !listed.Success() || len(listed.Data.Items) != 0 {
		t.Errorf("a dissolved chat is listed: %v %+v", err, listed.Data)
	}
	// The admin API still shows it, dissolved.
	if c := chatByID(t, srv, id); c.Status != "dissolved" {
		t.Errorf("admin view status = %s", c.Status)
	}
}

// TestRateLimit: a burst of 120 creates from one app in one second gets
// exactly 50 through and 70 HTTP 429s with Feishu's headers; another app,
// and another API of the same app, are unaffected; a second later the app
// may create again.
func TestRateLimit(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	cli := client(srv, appID)
	// Fetch the token first: the burst is all creates.
	if _, err := cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build()); err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, shed int
	)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				resp, err := cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				switch {
				case resp.Success():
					ok++
				case resp.StatusCode == http.StatusTooManyRequests && resp.Code == 99991400 && resp.Msg == "request trigger frequency limit":
					shed++
					if l, r := resp.Header.Get("x-ogw-ratelimit-limit"), resp.Header.Get("x-ogw-ratelimit-reset"); l != "50" || r != "1" {
						t.Errorf("429 headers: limit %q reset %q", l, r)
					}
					if resp.Err == nil || resp.Err.LogID == "" {
						t.Error("429 without error.log_id")
					}
				default:
					t.Errorf("unexpected answer: HTTP %d code %d %s", resp.StatusCode, resp.Code, resp.Msg)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 50 || shed != 70 {
		t.Fatalf("%d created, %d refused; want 50 and 70", ok, shed)
	}
	// Another app of the tenant has its own budget, and so has another API.
	if r := create(t, srv, helperApp, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build()); !r.Success() {
		t.Errorf("another app: %d %s", r.Code, r.Msg)
	}
	if r, err := cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build()); err != nil || !r.Success() {
		t.Errorf("another API: %v %+v", err, r)
	}
	clk.Advance(time.Second)
	if r := create(t, srv, appID, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build()); !r.Success() {
		t.Errorf("a second later: %d %s", r.Code, r.Msg)
	}
}

// TestRateLimitPerMinute: 50 a second for 20 seconds reaches the
// 1000-a-minute cap.
func TestRateLimitPerMinute(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	tok := "Bearer " + tenantToken(t, srv, appID)
	var last rawResponse
	for i := range 1001 {
		if i > 0 && i%50 == 0 {
			clk.Advance(time.Second)
		}
		last = do(t, "GET", srv.URL+"/open-apis/im/v1/chats/search?query=x", tok, "")
		if i < 1000 && last.Status != 200 {
			t.Fatalf("call %d refused: %s", i, last.Body)
		}
	}
	if last.Status != 429 || last.Header.Get("x-ogw-ratelimit-limit") != "1000" {
		t.Errorf("call 1001: HTTP %d limit %q, want 429 and 1000", last.Status, last.Header.Get("x-ogw-ratelimit-limit"))
	}
	// The clock is 20 s past the first call, which expires at 60 s.
	if reset := last.Header.Get("x-ogw-ratelimit-reset"); reset != "40" {
		t.Errorf("reset = %s s, want 40", reset)
	}
}

// TestCrossTenant: an app of another tenant can neither read, change nor
// join a tenant's chat, nor find it.
func TestCrossTenant(t *testing.T) {
	srv := quntest.NewServer(t)
	id := mkChat(t, client(srv, appID), larkim.NewCreateChatReqBodyBuilder().Name("Tenant A only").ChatType("public").Build())
	other := client(srv, lockedApp)
	checks := map[string]func() (int, int){
		"get": func() (int, int) { r := getChat(t, other, id, "open_id"); return r.Code, r.StatusCode },
		"update": func() (int, int) {
			r := update(t, other, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().Name("mine now").Build())
			return r.Code, r.StatusCode
		},
		"dissolve": func() (int, int) { r := dissolve(t, other, id); return r.Code, r.StatusCode },
		"join": func() (int, int) {
			r := addMembers(t, other, id, "app_id", 0, lockedApp)
			return r.Code, r.StatusCode
		},
		"list members": func() (int, int) {
			r, _ := other.Im.V1.ChatMembers.Get(ctx, larkim.NewGetChatMembersReqBuilder().ChatId(id).Build())
			return r.Code, r.StatusCode
		},
		"is_in_chat": func() (int, int) {
			r, _ := other.Im.V1.ChatMembers.IsInChat(ctx, larkim.NewIsInChatChatMembersReqBuilder().ChatId(id).Build())
			return r.Code, r.StatusCode
		},
	}
	for name, call := range checks {
		c, status := call()
		wantCode(t, name, c, status, 232010)
	}
	// Even the tenant's own bot cannot pull another tenant's bot in.
	r := addMembers(t, client(srv, appID), id, "app_id", 0, lockedApp)
	wantCode(t, "invite another tenant's bot", r.Code, r.StatusCode, 232043)
	found, err := other.Im.V1.Chat.Search(ctx, larkim.NewSearchChatReqBuilder().Query("Tenant A").Build())
	if err != nil || !found.Success() || len(found.Data.Items) != 0 {
		t.Errorf("another tenant finds the public chat: %v %+v", err, found.Data)
	}
	if c := chatByID(t, srv, id); c.Name != "Tenant A only" || len(c.Members) != 1 {
		t.Errorf("the chat changed: %+v", c)
	}
}

// TestScopes: an app that may only read chats gets 99991672, naming the
// scopes, when it writes.
func TestScopes(t *testing.T) {
	srv := quntest.NewServer(t)
	id := mkChat(t, client(srv, helperApp), larkim.NewCreateChatReqBodyBuilder().Name("Scoped").Build())
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+helperApp, map[string]any{"scopes": []string{"im:chat:readonly"}}, nil); err != nil {
		t.Fatal(err)
	}
	reader := client(srv, helperApp)
	if r := getChat(t, reader, id, "open_id"); !r.Success() {
		t.Errorf("read with im:chat:readonly: %d %s", r.Code, r.Msg)
	}
	r := update(t, reader, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().Name("nope").Build())
	var subjects []string
	if r.Err != nil {
		for _, v := range r.Err.PermissionViolations {
			subjects = append(subjects, v.Subject)
		}
	}
	if r.Code != 99991672 || strings.Join(subjects, ",") != "im:chat,im:chat:update" {
		t.Errorf("update without scope: %d %v", r.Code, subjects)
	}
	for name, code := range map[string]int{
		"add members": addMembers(t, reader, id, "app_id", 0, appID).Code,
		"dissolve":    dissolve(t, reader, id).Code,
	} {
		if code != 99991672 {
			t.Errorf("%s without scope: %d", name, code)
		}
	}
}

// TestRateLimiterDown: when the shared limiter (Redis) does not answer, a
// call it must count is refused with Feishu's internal error (HTTP 500,
// 99991000), which the SDK's callers retry: limits fail closed.
func TestRateLimiterDown(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRedis("redis://127.0.0.1:1/0"))
	r := create(t, srv, appID, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build())
	if r.StatusCode != http.StatusInternalServerError || r.Code != 99991000 {
		t.Errorf("create with the limiter down: HTTP %d code %d %s", r.StatusCode, r.Code, r.Msg)
	}
}
