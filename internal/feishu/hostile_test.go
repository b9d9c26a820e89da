package feishu_test

import (
	"strings"
	"testing"

	"github.com/qunhq/qun/quntest"
)

// TestTrailingBytes: every API that reads a body answers 232001 (or, for
// the token endpoints, 10003) for one with anything after its JSON value.
func TestTrailingBytes(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	auth := "Bearer " + tenantToken(t, srv, appID)
	made := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", auth, `{"name":"g"}`).JSON(t)
	id := made["data"].(map[string]any)["chat_id"].(string)
	base := srv.URL + "/open-apis/im/v1/chats"
	for _, junk := range []string{"}", "]", " {}", "x", "\u00a0"} {
		for _, c := range []struct{ method, url, body string }{
			{"POST", base, `{"name":"x"}`},
			{"PUT", base + "/" + id, `{"name":"renamed"}`},
			{"POST", base + "/" + id + "/members", `{"id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`},
			{"DELETE", base + "/" + id + "/members", `{"id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`},
			{"POST", base + "/" + id + "/managers/add_managers", `{"manager_ids":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`},
			{"POST", base + "/" + id + "/managers/delete_managers", `{"manager_ids":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`},
		} {
			r := do(t, c.method, c.url, auth, c.body+junk)
			if m := r.JSON(t); r.Status != 400 || m["code"] != float64(232001) {
				t.Errorf("%s %s %s: HTTP %d %v, want 400 232001", c.method, c.url, c.body+junk, r.Status, m)
			}
		}
		r := do(t, "POST", srv.URL+"/open-apis/auth/v3/tenant_access_token/internal", "", `{"app_id":"`+appID+`","app_secret":"demo-feishu-secret"}`+junk)
		if m := r.JSON(t); m["code"] == float64(0) {
			t.Errorf("token with %q after the body: %v", junk, m)
		}
	}
	if got := len(chats(t, srv)); got != 1 {
		t.Errorf("%d chats after malformed creates, want 1", got)
	}
}

// TestUnknownRoutes: an unknown path or a wrong method under /open-apis/
// answers as Feishu's gateway does, HTTP 404 text/plain "404 page not
// found" (docs/feishu.md), never a 405.
func TestUnknownRoutes(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/open-apis/nothing"},
		{"PATCH", "/open-apis/im/v1/chats"},
		{"POST", "/open-apis/im/v1/chats/oc_x/members/is_in_chat"},
		{"GET", "/open-apis/auth/v3/tenant_access_token/internal"},
		{"PUT", "/open-apis/im/v1/chats/oc_x/managers/add_managers"},
	} {
		r := do(t, c.method, srv.URL+c.path, "", "")
		if r.Status != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") || string(r.Body) != "404 page not found\n" {
			t.Errorf("%s %s: HTTP %d %s %q, want 404 text", c.method, c.path, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	}
}
