package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/server"
	"github.com/qunhq/qun/internal/version"
	"github.com/qunhq/qun/quntest"
)

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminAuth(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", quntest.AdminToken}} {
		code, body := get(t, srv.URL+"/admin/v1/tenants", h...)
		if code != 401 || !strings.Contains(body, `"unauthorized"`) {
			t.Errorf("headers %v: HTTP %d %s", h, code, body)
		}
	}
	if code, _ := get(t, srv.URL+"/admin/v1/tenants", "X-Qun-Admin-Token", quntest.AdminToken); code != 200 {
		t.Errorf("X-Qun-Admin-Token: HTTP %d", code)
	}
}

// TestAdminDirectory creates a tenant, an app and users at run time and
// sees them listed, with generated identifiers in the platform's format.
func TestAdminDirectory(t *testing.T) {
	srv := quntest.NewServer(t)
	var tenant struct{ Key, Platform, Name string }
	if err := srv.Admin("POST", "/admin/v1/tenants", map[string]any{"platform": "feishu", "name": "Runtime Co", "policy": map[string]any{"public_chats": true}}, &tenant); err != nil {
		t.Fatal(err)
	}
	if len(tenant.Key) != 16 || tenant.Platform != "feishu" {
		t.Fatalf("tenant = %+v, want a generated 16-hex key", tenant)
	}
	var app struct{ Key, Secret, Tenant string }
	if err := srv.Admin("POST", "/admin/v1/apps", map[string]any{"platform": "feishu", "tenant": tenant.Key, "secret": "s3cret", "scopes": []string{"im:chat"}}, &app); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(app.Key, "cli_") || len(app.Key) != 20 || app.Tenant != tenant.Key {
		t.Fatalf("app = %+v", app)
	}
	var user struct {
		UserID  string `json:"user_id"`
		Aliases []struct{ Kind, Scope, Value string }
	}
	if err := srv.Admin("POST", "/admin/v1/users", map[string]any{"platform": "feishu", "tenant": tenant.Key, "user_id": "newbie", "name": "New"}, &user); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, a := range user.Aliases {
		if a.Scope == app.Key || a.Scope == tenant.Key {
			kinds[a.Kind] = a.Value
		}
	}
	if !strings.HasPrefix(kinds["open_id"], "ou_") || len(kinds["open_id"]) != 35 || !strings.HasPrefix(kinds["union_id"], "on_") || len(kinds["union_id"]) != 35 {
		t.Errorf("generated ids = %v", kinds)
	}
	// Duplicates conflict; unknown tenants are 404; bad input is 400.
	for _, c := range []struct {
		path string
		body map[string]any
		code string
	}{
		{"/admin/v1/users", map[string]any{"platform": "feishu", "tenant": tenant.Key, "user_id": "newbie"}, "409 Conflict"},
		{"/admin/v1/users", map[string]any{"platform": "feishu", "tenant": "nope", "user_id": "x"}, "404 Not Found"},
		{"/admin/v1/apps", map[string]any{"platform": "feishu", "tenant": tenant.Key}, "400 Bad Request"},
		{"/admin/v1/tenants", map[string]any{"platform": "myspace"}, "400 Bad Request"},
		{"/admin/v1/tenants", map[string]any{"platform": "feishu", "unknown_field": 1}, "400 Bad Request"},
	} {
		if err := srv.Admin("POST", c.path, c.body, nil); err == nil || !strings.Contains(err.Error(), c.code) {
			t.Errorf("POST %s %v: %v, want %s", c.path, c.body, err, c.code)
		}
	}
	// Friendships and status changes.
	if err := srv.Admin("POST", "/admin/v1/friendships", map[string]string{"a": "feishu:" + tenant.Key + "/newbie", "b": "feishu:736588c9260f175e/lisi"}, nil); err != nil {
		t.Fatal(err)
	}
	var friends struct {
		Friends []struct{ Tenant, UserID string }
	}
	if err := srv.Admin("GET", "/admin/v1/friendships?user=feishu:736588c9260f175e/lisi", nil, &friends); err != nil {
		t.Fatal(err)
	}
	if len(friends.Friends) != 1 || friends.Friends[0].Tenant != tenant.Key {
		t.Errorf("friends of lisi = %+v", friends)
	}
	var patched struct{ Status string }
	if err := srv.Admin("PATCH", "/admin/v1/users/feishu/"+tenant.Key+"/newbie", map[string]string{"status": "resigned"}, &patched); err != nil || patched.Status != "resigned" {
		t.Errorf("PATCH user: %v %+v", err, patched)
	}
	var dir struct {
		Tenants []struct {
			Key   string
			Apps  []any
			Users []any
		}
	}
	if err := srv.Admin("GET", "/admin/v1/directory?platform=feishu", nil, &dir); err != nil {
		t.Fatal(err)
	}
	if n := len(dir.Tenants); n != 4 || dir.Tenants[3].Key != tenant.Key || len(dir.Tenants[3].Users) != 1 {
		t.Errorf("directory has %d tenants: %+v", n, dir.Tenants)
	}

	// Reset goes back to the fixtures.
	if err := srv.Admin("POST", "/admin/v1/reset", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Admin("GET", "/admin/v1/directory?platform=feishu", nil, &dir); err != nil || len(dir.Tenants) != 3 {
		t.Errorf("after reset: %v, %d tenants", err, len(dir.Tenants))
	}
}

// TestAdminPatchApp toggles an app's bot ability.
func TestAdminPatchApp(t *testing.T) {
	srv := quntest.NewServer(t)
	var app struct {
		Bot    bool
		Scopes []string
	}
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"bot": false}, &app); err != nil {
		t.Fatal(err)
	}
	if app.Bot || len(app.Scopes) == 0 {
		t.Errorf("after PATCH: %+v, want bot off and scopes kept", app)
	}
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/cli_nope", map[string]any{"bot": false}, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("PATCH unknown app: %v", err)
	}
}

func TestConsoleAndMetrics(t *testing.T) {
	srv := quntest.NewServer(t)
	code, body := get(t, srv.URL+"/console")
	if code != 200 || !strings.Contains(body, `name="token"`) || strings.Contains(body, "demo-feishu-secret") {
		t.Errorf("console without token: HTTP %d, asks for the token: %v", code, strings.Contains(body, `name="token"`))
	}
	code, body = get(t, srv.URL+"/console", "Cookie", "qun_admin="+quntest.AdminToken)
	if code != 200 || !strings.Contains(body, "No chats yet") {
		t.Errorf("console: HTTP %d without its empty chat list", code)
	}
	code, body = get(t, srv.URL+"/console/directory", "Cookie", "qun_admin="+quntest.AdminToken)
	for _, want := range []string{"演示科技 Demo Tech", "cli_a10fbf7e94b8d01d", "zhangsan",
		"Corporation links", "chain-demo", "corp-group chats (互联群) true", "external (wechat)"} {
		if !strings.Contains(body, want) {
			t.Errorf("the directory page lacks %q (HTTP %d)", want, code)
		}
	}
	get(t, srv.URL+"/open-apis/im/v1/chats")
	code, body = get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, `qun_http_requests_total{code="",dialect="console",route="GET /console",status="200"}`) {
		t.Errorf("metrics: HTTP %d\n%s", code, body)
	}
	if v := version.Get(); !strings.Contains(body, `qun_build_info{commit="`+v.Commit+`",date="`+v.Date+`",goversion="`+runtime.Version()+`",version="`+v.Version+`"} 1`) {
		t.Errorf("metrics lack qun_build_info for %+v", v)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
}

// TestAdminDingTalk creates a DingTalk app with an agent ID, a visible range
// and the standard-group allowlist, and an external contact, at run time.
func TestAdminDingTalk(t *testing.T) {
	srv := quntest.NewServer(t)
	const corp = "ding4c0a1f36e2b8d957"
	var app struct {
		Key            string
		AgentID        string   `json:"agent_id"`
		Visible        []string `json:"visible"`
		StandardGroups bool     `json:"standard_groups"`
	}
	err := srv.Admin("POST", "/admin/v1/apps", map[string]any{
		"platform": "dingtalk", "tenant": corp, "secret": "s", "agent_id": "3009999999",
		"visible": []string{"lisi"}, "standard_groups": true, "scopes": []string{"qyapi_chat_manage"},
	}, &app)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(app.Key, "ding") || app.AgentID != "3009999999" || len(app.Visible) != 1 || !app.StandardGroups {
		t.Errorf("app = %+v", app)
	}
	var contact struct {
		Kind    string
		Contact string
		Aliases []struct{ Kind, Value string }
	}
	if err := srv.Admin("POST", "/admin/v1/users", map[string]any{"platform": "dingtalk", "tenant": corp, "user_id": "ext003", "kind": "external"}, &contact); err != nil {
		t.Fatal(err)
	}
	if contact.Kind != "external" || contact.Contact != "" || len(contact.Aliases) == 0 || contact.Aliases[0].Kind != "union_id" {
		t.Errorf("external contact = %+v", contact)
	}
}

// TestAdminWeCom switches a corporation's corp-group chats, links
// corporations, changes a chain's mutual visibility, and adds a WeChat
// contact.
func TestAdminWeCom(t *testing.T) {
	srv := quntest.NewServer(t)
	var corp struct {
		Key    string
		Policy struct {
			CorpGroupChat bool `json:"corp_group_chat"`
			PublicChats   bool `json:"public_chats"`
		}
	}
	if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/ww0123456789abcdef", map[string]any{"policy": map[string]any{"public_chats": true}}, &corp); err != nil {
		t.Fatal(err)
	}
	if corp.Key != "ww0123456789abcdef" || !corp.Policy.CorpGroupChat || !corp.Policy.PublicChats {
		t.Errorf("after patching public_chats: %+v (corp_group_chat must be kept)", corp)
	}
	if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/ww0123456789abcdef", map[string]any{"policy": map[string]any{"corp_group_chat": false}}, &corp); err != nil {
		t.Fatal(err)
	}
	if corp.Policy.CorpGroupChat {
		t.Errorf("corp_group_chat still on: %+v", corp)
	}
	if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/wwnope", map[string]any{"name": "x"}, nil); !strings.Contains(fmt.Sprint(err), "404") {
		t.Errorf("patching an unknown corp: %v, want 404", err)
	}

	type link struct {
		Key           string
		Kind          string
		MutualVisible bool `json:"mutual_visible"`
		Upstream      []string
		Downstream    []string
	}
	var got link
	if err := srv.Admin("POST", "/admin/v1/links", map[string]any{"platform": "wecom", "key": "l2", "kind": "interconnect", "corps": []string{"ww3333", "ww4444"}}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "interconnect" || len(got.Upstream) != 2 {
		t.Errorf("created link = %+v", got)
	}
	for _, bad := range []map[string]any{
		{"platform": "wecom", "key": "l3", "kind": "interconnect", "corps": []string{"ww3333", "wwmissing"}},
		{"platform": "wecom", "key": "l3", "kind": "ring", "upstream": []string{"ww3333", "ww4444"}},
		{"platform": "wecom", "key": "l3", "kind": "chain", "upstream": []string{"ww3333"}},
		{"platform": "wecom", "kind": "interconnect", "corps": []string{"ww3333", "ww4444"}},
	} {
		if err := srv.Admin("POST", "/admin/v1/links", bad, nil); err == nil {
			t.Errorf("POST /admin/v1/links %v succeeded", bad)
		}
	}
	if err := srv.Admin("PATCH", "/admin/v1/links/wecom/chain-demo", map[string]any{"mutual_visible": true}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "chain" || !got.MutualVisible || len(got.Downstream) != 2 {
		t.Errorf("patched chain = %+v", got)
	}
	var list struct{ Links []link }
	if err := srv.Admin("GET", "/admin/v1/links?platform=wecom", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Links) != 3 || !list.Links[1].MutualVisible || list.Links[2].Key != "l2" {
		t.Errorf("links = %+v", list.Links)
	}

	var contact struct{ Contact string }
	if err := srv.Admin("POST", "/admin/v1/users", map[string]any{"platform": "wecom", "tenant": "ww0123456789abcdef", "user_id": "wmNewCustomer", "kind": "external"}, &contact); err != nil {
		t.Fatal(err)
	}
	if contact.Contact != "wechat" {
		t.Errorf("contact type of a new external contact = %q, want wechat", contact.Contact)
	}

	// Agentids repeat across corps: ?tenant= picks the app.
	var app struct{ Tenant, Name string }
	if err := srv.Admin("PATCH", "/admin/v1/apps/wecom/1000002?tenant=ww4444", map[string]any{"name": "Renamed"}, &app); err != nil {
		t.Fatal(err)
	}
	var apps struct {
		Apps []struct{ Tenant, Key, Name string }
	}
	if err := srv.Admin("GET", "/admin/v1/apps?platform=wecom", nil, &apps); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps.Apps {
		if a.Key == "1000002" && (a.Name == "Renamed") != (a.Tenant == "ww4444") {
			t.Errorf("app %s of %s is named %q", a.Key, a.Tenant, a.Name)
		}
	}
}

// TestConsoleWrongToken: a wrong token in the login form says so (HTTP
// 401) instead of showing the form again as if nothing happened; the right
// one signs in.
func TestConsoleWrongToken(t *testing.T) {
	srv := quntest.NewServer(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(srv.URL+"/console", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), "Wrong token") || !strings.Contains(string(body), `name="token"`) || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: HTTP %d %s", resp.StatusCode, body)
	}
	resp, err = noRedirect.PostForm(srv.URL+"/console", url.Values{"token": {quntest.AdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 || resp.Cookies()[0].Value != quntest.AdminToken {
		t.Errorf("right token: HTTP %d cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// TestHealthAndReadiness: /healthz says the process is alive; /readyz that
// the node may take traffic (store migrated and reachable, not shutting
// down), so a load balancer drains a node that is stopping.
func TestHealthAndReadiness(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.AdminToken = t.TempDir(), "t"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Store = pgtest.Store(t)
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	probe := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := probe("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("readyz: %d %q", code, body)
	}
	// A store that stops answering makes the node unready, and ready again
	// when it comes back.
	store := &flakyStore{Store: pgtest.Store(t)}
	cfg.Store = store
	s2, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	rec := httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "store") {
		t.Errorf("readyz with the store down: %d %q", rec.Code, rec.Body.String())
	}
	store.down.Store(false)
	rec = httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("readyz with the store back: %d %q", rec.Code, rec.Body.String())
	}

	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := probe("/readyz"); code != 503 || !strings.Contains(body, "not ready") {
		t.Errorf("readyz after Shutdown: %d %q", code, body)
	}
	if code, body := probe("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz after Shutdown: %d %q", code, body)
	}
}

// flakyStore is a store whose reads fail while down is set.
type flakyStore struct {
	qun.Store
	down atomic.Bool
}

func (f *flakyStore) View(ctx context.Context, fn func(qun.Tx) error) error {
	if f.down.Load() {
		return errors.New("store unreachable")
	}
	return f.Store.View(ctx, fn)
}
