package dingtalk_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

// TestTrailingBytes: a body with anything after its JSON value is
// malformed on every route that reads one (400 parameter.invalid on the
// new APIs, errcode 43009 on the legacy ones), and changes nothing.
func TestTrailingBytes(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	c := newClient(t, srv, appKey)
	made, err := c.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	cid := tea.StringValue(made.Body.OpenConversationId)
	chatID := tea.StringValue(made.Body.Chatid)
	before := len(chats(t, srv))

	newStyle := []struct{ path, body string }{
		{"/v1.0/im/group/create", `{"name":"x","owner":"manager4220","useridlist":["userId"]}`},
		{"/v1.0/im/group/update", `{"openConversationId":"` + cid + `","name":"renamed"}`},
		{"/v1.0/im/subAdministrators", `{"openConversationId":"` + cid + `","userIds":["userId"],"role":2}`},
		{"/v1.0/oauth2/accessToken", `{"appKey":"dingqundemo","appSecret":"demo-dingtalk-secret"}`},
	}
	legacyStyle := []struct{ path, body string }{
		{"/chat/create", `{"name":"x","owner":"manager4220","useridlist":["manager4220","userId"]}`},
		{"/chat/update", `{"chatid":"` + chatID + `","name":"renamed"}`},
	}
	for _, junk := range []string{"}", "]", " {}", "x", "\u00a0"} {
		for _, r := range newStyle {
			req, _ := http.NewRequest("POST", srv.URL+r.path, strings.NewReader(r.body+junk))
			req.Header.Set("x-acs-dingtalk-access-token", c.token)
			req.Header.Set("Content-Type", "application/json")
			status, m := send(t, req)
			if status != 400 || m["code"] != "parameter.invalid" {
				t.Errorf("%s %q: HTTP %d %v, want 400 parameter.invalid", r.path, r.body+junk, status, m)
			}
		}
		for _, r := range legacyStyle {
			wantErrcode(t, r.path+" "+r.body+junk, legacy(t, srv, "POST", r.path, q("access_token", c.token), r.body+junk), 43009)
		}
	}
	if after := chats(t, srv); len(after) != before {
		t.Errorf("%d chats after malformed requests, want %d", len(after), before)
	}
	if got := chat(t, srv, chatID).Name; got != "Test Group" {
		t.Errorf("a malformed update renamed the group to %q", got)
	}
}

// TestUnknownRoutes: every path and method of the dialect answers in its
// envelope. The new APIs answer unknown paths and methods with JSON
// (InvalidAction.NotFound); the legacy family answers HTTP 200 with
// errcode 404 for an unknown path and 43001/43002 for a wrong method, as
// DingTalk's global error table gives them.
func TestUnknownRoutes(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, c := range []struct {
		method, path string
		errcode      int
	}{
		{"POST", "/gettoken", 43001},
		{"PUT", "/gettoken", 43001},
		{"GET", "/chat/create", 43002},
		{"DELETE", "/chat/update", 43002},
		{"POST", "/chat/get", 43001},
		{"GET", "/chat/nothing", 404},
		{"POST", "/chat/", 404},
		{"GET", "/chat/get/extra", 404},
	} {
		m := legacy(t, srv, c.method, c.path, nil, "")
		if m["errcode"] != float64(c.errcode) || m["errmsg"] == "" {
			t.Errorf("%s %s: %v, want errcode %d", c.method, c.path, m, c.errcode)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1.0/im/group/create"},
		{"DELETE", "/v1.0/im/group/update"},
		{"GET", "/v1.0/oauth2/accessToken"},
		{"POST", "/v1.0/nothing"},
		{"PATCH", "/v1.0/im/subAdministrators"},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		status, m := send(t, req)
		if status != 404 || m["code"] != "InvalidAction.NotFound" || m["requestid"] == "" {
			t.Errorf("%s %s: HTTP %d %v, want 404 InvalidAction.NotFound", c.method, c.path, status, m)
		}
	}
}

// send does req and decodes its JSON answer.
func send(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: HTTP %d, not JSON (%s): %q", req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return resp.StatusCode, m
}

// chats lists the stored chats through the admin API.
func chats(t *testing.T, srv *quntest.Server) []json.RawMessage {
	t.Helper()
	var out struct {
		Chats []json.RawMessage `json:"chats"`
	}
	if err := srv.Admin("GET", "/admin/v1/chats", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Chats
}
