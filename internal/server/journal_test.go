package server_test

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qunhq/qun/quntest"
)

type journalEntry struct {
	Seq                                        int64
	Platform, App, Tenant, Method, Path, Route string
	Query, Code, Request, Response, Node       string
	LogID                                      string `json:"log_id"`
	Status                                     int
	LatencyMS                                  float64 `json:"latency_ms"`
	Truncated                                  bool
}

type journalPage struct {
	Node    string
	On      bool
	Entries []journalEntry
	Next    int64
}

// TestJournal: the node journals each platform call (who, what, the
// answer's status and code, the bodies with secrets redacted, capped),
// and not the admin API's; the journal filters, pages, counts (verify)
// and clears.
func TestJournal(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	created := feishuCall(t, srv, "POST", "/open-apis/im/v1/chats?user_id_type=user_id", `{"name":"Journal","owner_id":"zhangsan"}`)
	id := created["data"].(map[string]any)["chat_id"].(string)
	resp, err := http.Post(srv.URL+"/open-apis/im/v1/chats/"+id+"/members?member_id_type=user_id", "application/json", strings.NewReader(`{"id_list":["nobody"]}`)) // no token
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("a call without a token: %v %v", err, resp)
	}
	resp.Body.Close()
	var page journalPage
	if err := srv.Admin("GET", "/admin/v1/journal", nil, &page); err != nil {
		t.Fatal(err)
	}
	if !page.On || page.Node == "" || len(page.Entries) != 3 {
		t.Fatalf("journal %+v", page)
	}
	newest, create, token := page.Entries[0], page.Entries[1], page.Entries[2]
	if newest.Code != "99991661" || newest.Status != 400 || newest.App != "" || !strings.Contains(newest.Response, "99991661") {
		t.Errorf("the refused call %+v", newest)
	}
	if create.Platform != "feishu" || create.App != "cli_a10fbf7e94b8d01d" || create.Tenant != "736588c9260f175e" || create.Method != "POST" ||
		create.Path != "/open-apis/im/v1/chats" || create.Query != "user_id_type=user_id" || create.Status != 200 || create.Code != "" ||
		create.Route != "POST /open-apis/im/v1/chats" || create.LogID == "" || !strings.Contains(create.Request, `"name":"Journal"`) || !strings.Contains(create.Response, id) {
		t.Errorf("the create %+v", create)
	}
	if strings.Contains(token.Request+token.Response, "demo-feishu-secret") || !strings.Contains(token.Request, `"app_secret":"***"`) ||
		!strings.Contains(token.Response, `"tenant_access_token":"***"`) {
		t.Errorf("secrets in the journal: %+v", token)
	}
	var chat journalPage
	if err := srv.Admin("GET", "/admin/v1/journal?chat_id="+id+"&limit=1", nil, &chat); err != nil || len(chat.Entries) != 1 || chat.Next == 0 {
		t.Fatalf("the chat's first page: %v %+v", err, chat)
	}
	if err := srv.Admin("GET", "/admin/v1/journal?chat_id="+id+"&before="+strconv.FormatInt(chat.Next, 10), nil, &chat); err != nil || len(chat.Entries) != 1 || chat.Entries[0].Path != "/open-apis/im/v1/chats" {
		t.Fatalf("the chat's second page: %v %+v", err, chat)
	}
	var n struct{ Count int }
	for _, c := range []struct {
		filter map[string]any
		want   int
	}{
		{map[string]any{"path": "/open-apis/im/v1/chats", "method": "POST"}, 1},
		{map[string]any{"path": "/open-apis/im/v1/chats*"}, 2},
		{map[string]any{"platform": "feishu", "status": 400}, 1},
		{map[string]any{"app": "cli_a10fbf7e94b8d01d"}, 1},
		{map[string]any{"code": "232001"}, 0},
	} {
		if err := srv.Admin("POST", "/admin/v1/journal/verify", c.filter, &n); err != nil || n.Count != c.want {
			t.Errorf("verify %v: %v %d, want %d", c.filter, err, n.Count, c.want)
		}
	}
	if err := srv.Admin("GET", "/admin/v1/journal?status=x", nil, nil); err == nil {
		t.Error("a bad status filter was accepted")
	}
	var cleared struct{ Cleared int }
	if err := srv.Admin("DELETE", "/admin/v1/journal", nil, &cleared); err != nil || cleared.Cleared != 3 {
		t.Fatalf("clear: %v %+v", err, cleared)
	}
	if err := srv.Admin("GET", "/admin/v1/journal", nil, &page); err != nil || len(page.Entries) != 0 {
		t.Errorf("after clear: %v %+v", err, page)
	}
	// A big body is kept up to the cap.
	feishuCall(t, srv, "POST", "/open-apis/im/v1/chats", `{"name":"Big","description":"`+strings.Repeat("d", 5000)+`"}`)
	if err := srv.Admin("GET", "/admin/v1/journal?path=/open-apis/im/v1/chats&method=POST", nil, &page); err != nil || len(page.Entries) != 1 ||
		!page.Entries[0].Truncated || len(page.Entries[0].Request) != 4096 {
		t.Errorf("a big body: %v %d bytes, truncated %v", err, len(page.Entries[0].Request), page.Entries[0].Truncated)
	}
}

// TestJournalOff: with Journal 0 the node keeps nothing and says so.
func TestJournalOff(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithJournal(0))
	feishuCall(t, srv, "GET", "/open-apis/im/v1/chats", "")
	var page journalPage
	if err := srv.Admin("GET", "/admin/v1/journal", nil, &page); err != nil || page.On || len(page.Entries) != 0 {
		t.Errorf("an off journal: %v %+v", err, page)
	}
	if resp, err := http.Get(srv.URL + "/admin/v1/journal"); err != nil || resp.StatusCode != 401 {
		t.Errorf("the journal without the admin token: %v %v", err, resp.Status)
	}
}

// TestTokens: the admin API and the console list the live tokens (which
// app holds which, until when), their values cut to a prefix; a token the
// clock expired is not listed.
func TestTokens(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := tenantToken(t, srv)
	var out struct {
		Tokens []struct {
			Token, Kind, Platform, App, Tenant string
			ExpiresIn                          int `json:"expires_in"`
		}
	}
	if err := srv.Admin("GET", "/admin/v1/tokens", nil, &out); err != nil || len(out.Tokens) != 1 {
		t.Fatalf("tokens: %v %+v", err, out)
	}
	if got := out.Tokens[0]; got.Kind != "tenant" || got.Platform != "feishu" || got.App != "cli_a10fbf7e94b8d01d" || got.Tenant != "736588c9260f175e" ||
		got.ExpiresIn < 7000 || got.ExpiresIn > 7200 || got.Token != tok[:8]+"…" {
		t.Errorf("token %+v", got)
	}
	if _, body := get(t, srv.URL+"/console/controls", "Cookie", "qun_admin="+quntest.AdminToken); !strings.Contains(body, `<table class="tokens">`) || strings.Contains(body, tok) {
		t.Error("the console's tokens: missing, or showing a whole token")
	}
	if err := srv.Admin("POST", "/admin/v1/clock/advance", map[string]any{"by": "3h"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Admin("GET", "/admin/v1/tokens", nil, &out); err != nil || len(out.Tokens) != 0 {
		t.Errorf("tokens after 3 hours: %v %+v", err, out)
	}
}

// TestRateLimitState: the admin API and the console show the rate-limit
// windows in use (the node's, or the deployment's in Redis), most used
// first, refused calls not counted.
func TestRateLimitState(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRateLimits(quntest.Feishu, quntest.Limit{N: 2, Per: time.Minute}))
	tok := tenantToken(t, srv)
	for i, want := range []int{0, 0, 99991400} {
		if code := feishuCode(t, srv, tok, "GET", "/open-apis/im/v1/chats"); code != want {
			t.Fatalf("call %d: code %d, want %d", i, code, want)
		}
	}
	var out struct {
		Shared  bool
		Windows []struct {
			Key  string
			Used int
			Last time.Time
		}
	}
	if err := srv.Admin("GET", "/admin/v1/ratelimits", nil, &out); err != nil || len(out.Windows) == 0 {
		t.Fatalf("windows: %v %+v", err, out)
	}
	w := out.Windows[0]
	if w.Key != "feishu|GET /open-apis/im/v1/chats|cli_a10fbf7e94b8d01d|736588c9260f175e" || w.Used != 2 || time.Since(w.Last) > time.Minute || out.Shared != (os.Getenv("QUN_TEST_REDIS") != "") {
		t.Errorf("windows %+v", out)
	}
	if _, body := get(t, srv.URL+"/console/controls", "Cookie", "qun_admin="+quntest.AdminToken); !strings.Contains(body, "feishu|GET /open-apis/im/v1/chats|cli_a10fbf7e94b8d01d") {
		t.Error("the console lacks the window")
	}
}
