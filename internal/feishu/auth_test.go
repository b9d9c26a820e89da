package feishu_test

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkcore "github.com/larksuite/oapi-sdk-go/v3/core"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

func tokenCall(t *testing.T, srv *quntest.Server, path, body string) map[string]any {
	t.Helper()
	r := do(t, "POST", srv.URL+path, "", body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200 (token endpoints always answer 200)", path, r.Status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	return r.JSON(t)
}

// TestTenantAccessToken covers the token endpoint and Feishu's reuse rule:
// the same token while 30 minutes or more remain, a new one after; both
// stay valid until they expire.
func TestTenantAccessToken(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	const path = "/open-apis/auth/v3/tenant_access_token/internal"
	creds := `{"app_id":"` + appID + `","app_secret":"` + appSecret + `"}`
	first := tokenCall(t, srv, path, creds)
	tok, _ := first["tenant_access_token"].(string)
	if first["code"] != float64(0) || first["msg"] != "ok" || first["expire"] != float64(7200) || !regexp.MustCompile(`^t-[0-9a-f]{40}$`).MatchString(tok) {
		t.Fatalf("first answer = %v", first)
	}
	clk.Advance(89 * time.Minute)
	again := tokenCall(t, srv, path, creds)
	if again["tenant_access_token"] != tok || again["expire"] != float64(7200-89*60) {
		t.Errorf("with 31 minutes left: %v, want the same token expiring in %d", again, 7200-89*60)
	}
	clk.Advance(2 * time.Minute)
	fresh := tokenCall(t, srv, path, creds)
	if fresh["tenant_access_token"] == tok || fresh["expire"] != float64(7200) {
		t.Errorf("with 29 minutes left: %v, want a new token", fresh)
	}
	for _, tk := range []string{tok, fresh["tenant_access_token"].(string)} {
		r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", "Bearer "+tk, `{}`)
		if r.Status != 200 {
			t.Errorf("token %s is not valid: %s", tk, r.Body)
		}
	}
	clk.Advance(30 * time.Minute)
	r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", "Bearer "+tok, `{}`)
	if r.Status != 400 || r.JSON(t)["code"] != float64(99991663) {
		t.Errorf("expired token: HTTP %d %s, want 400 and 99991663", r.Status, r.Body)
	}
}

func TestAppAccessToken(t *testing.T) {
	srv := quntest.NewServer(t)
	m := tokenCall(t, srv, "/open-apis/auth/v3/app_access_token/internal", `{"app_id":"`+appID+`","app_secret":"`+appSecret+`"}`)
	app, _ := m["app_access_token"].(string)
	tenant, _ := m["tenant_access_token"].(string)
	if m["code"] != float64(0) || !strings.HasPrefix(app, "a-") || !strings.HasPrefix(tenant, "t-") || m["expire"] != float64(7200) {
		t.Fatalf("answer = %v", m)
	}
	// An app token is not a tenant token.
	r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", "Bearer "+app, `{}`)
	if r.Status != 400 || r.JSON(t)["code"] != float64(99991663) {
		t.Errorf("app token on an im API: HTTP %d %s, want 400 and 99991663", r.Status, r.Body)
	}
	if r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", "Bearer "+tenant, `{}`); r.Status != 200 {
		t.Errorf("its tenant token: HTTP %d %s", r.Status, r.Body)
	}
}

func TestTokenErrors(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, c := range []struct {
		name, body string
		code       float64
		msg        string
	}{
		{"wrong secret", `{"app_id":"` + appID + `","app_secret":"nope"}`, 10014, "app secret invalid"},
		{"unknown app", `{"app_id":"cli_0000000000000000","app_secret":"x"}`, 10003, "invalid param"},
		{"missing secret", `{"app_id":"` + appID + `"}`, 10003, "invalid param"},
		{"malformed", `{"app_id":`, 10003, "invalid param"},
		{"wrong types", `{"app_id":1,"app_secret":true}`, 10003, "invalid param"},
	} {
		m := tokenCall(t, srv, "/open-apis/auth/v3/tenant_access_token/internal", c.body)
		if m["code"] != c.code || m["msg"] != c.msg {
			t.Errorf("%s: %v, want code %v msg %q", c.name, m, c.code, c.msg)
		}
	}
	// The SDK reports a failed token request as a larkcore.CodeError.
	cli := lark.NewClient(appID, "wrong-secret", lark.WithOpenBaseUrl(srv.URL), lark.WithLogLevel(larkcore.LogLevelError), lark.WithTokenCache(quntest.NewTokenCache()))
	resp, err := cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build())
	var ce larkcore.CodeError
	if !errors.As(err, &ce) || ce.Code != 10014 || resp != nil {
		t.Errorf("SDK with a wrong secret: resp %v, err %#v; want a CodeError 10014", resp, err)
	}
}

// TestBearer checks the Authorization header of the im APIs.
func TestBearer(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := tenantToken(t, srv, appID)
	for _, c := range []struct {
		name, header string
		code         float64
	}{
		{"missing", "", 99991661},
		{"no Bearer scheme", tok, 99991661},
		{"other scheme", "Basic " + tok, 99991661},
		{"empty token", "Bearer ", 99991661},
		{"unknown token", "Bearer t-0000000000000000000000000000000000000000", 99991663},
		{"lower-case scheme", "bearer " + tok, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", c.header, `{}`)
			m := r.JSON(t)
			if m["code"] != c.code {
				t.Fatalf("code %v, want %v: %s", m["code"], c.code, r.Body)
			}
			if c.code == 0 {
				return
			}
			detail, _ := m["error"].(map[string]any)
			if r.Status != 400 || detail["log_id"] == nil || detail["log_id"] != r.Header.Get("X-Tt-Logid") {
				t.Errorf("HTTP %d, error %v, X-Tt-Logid %q", r.Status, detail, r.Header.Get("X-Tt-Logid"))
			}
		})
	}
	// The SDK sees a revoked token as resp.Code 99991663 with err == nil.
	var out struct{}
	if err := srv.Admin("DELETE", "/admin/v1/apps/feishu/"+helperApp, nil, &out); err != nil {
		t.Fatal(err)
	}
	resp, err := client(srv, helperApp).Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build())
	var ce larkcore.CodeError
	if !errors.As(err, &ce) || ce.Code != 10003 {
		t.Errorf("deleted app through the SDK: resp %v err %v; want token error 10003", resp, err)
	}
}
