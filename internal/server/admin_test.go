package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qunhq/qun/quntest"
)

// adminDo calls the admin API with the test token and returns the status,
// the headers and the body.
func adminDo(t *testing.T, srv *quntest.Server, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+quntest.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

// TestAdminConventions: creates answer 201, a known path with the wrong
// method 405 with Allow, an unknown path 404, all with the admin API's JSON
// error body; bodies with bytes after the JSON value are 400.
func TestAdminConventions(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, c := range []struct {
		method, path, body string
		status             int
		allow              string
	}{
		{"POST", "/admin/v1/tenants", `{"platform":"feishu"}`, 201, ""},
		{"POST", "/admin/v1/users", `{"platform":"feishu","tenant":"736588c9260f175e","user_id":"u201"}`, 201, ""},
		{"POST", "/admin/v1/users/batch", `{"users":[{"platform":"feishu","tenant":"736588c9260f175e","user_id":"u202"}]}`, 201, ""},
		{"POST", "/admin/v1/friendships", `{"a":"feishu:736588c9260f175e/u201","b":"feishu:736588c9260f175e/u202"}`, 201, ""},
		{"POST", "/admin/v1/links", `{"platform":"wecom","key":"l1","kind":"interconnect","corps":["ww3333","ww4444"]}`, 201, ""},
		{"POST", "/admin/v1/apps", `{"platform":"feishu","tenant":"736588c9260f175e","secret":"s"}`, 201, ""},
		{"POST", "/admin/v1/reset", ``, 200, ""},
		{"GET", "/admin/v1/tenants", ``, 200, ""},
		{"DELETE", "/admin/v1/tenants", ``, 405, "GET, POST"},
		{"PUT", "/admin/v1/users", ``, 405, "GET, POST"},
		{"GET", "/admin/v1/users/batch", ``, 405, "POST"},
		{"POST", "/admin/v1/chats/oc_x", ``, 405, "GET"},
		{"GET", "/admin/v1/reset", ``, 405, "POST"},
		{"GET", "/admin/v1/apps/feishu/cli_x", ``, 405, "PATCH, DELETE"},
		{"GET", "/admin/v1/nothing", ``, 404, ""},
		{"POST", "/admin/v1/tenants", `{"platform":"feishu"}}`, 400, ""},
		{"POST", "/admin/v1/users/batch", `{"users":[{"platform":"feishu","tenant":"736588c9260f175e","user_id":"u203"}]}]`, 400, ""},
	} {
		status, header, body := adminDo(t, srv, c.method, c.path, c.body)
		var e struct {
			Error struct{ Code, Message string }
		}
		isError := status >= 400
		if status != c.status || header.Get("Allow") != c.allow || (isError && (json.Unmarshal([]byte(body), &e) != nil || e.Error.Code == "")) {
			t.Errorf("%s %s: HTTP %d Allow %q %s, want %d Allow %q", c.method, c.path, status, header.Get("Allow"), body, c.status, c.allow)
		}
	}
}

// TestAdminBatchUsers: a batch creates users of several tenants in one
// transaction with the identifiers single adds give them; one bad user
// creates none.
func TestAdminBatchUsers(t *testing.T) {
	srv := quntest.NewServer(t)
	var users []map[string]any
	for i := range 300 {
		users = append(users, map[string]any{"platform": "feishu", "tenant": "736588c9260f175e", "user_id": fmt.Sprintf("bulk%04d", i), "name": "Bulk"})
	}
	users = append(users, map[string]any{"platform": "dingtalk", "tenant": "ding4c0a1f36e2b8d957", "user_id": "bulkding"})
	var out struct {
		Users []struct {
			Platform, Tenant string
			UserID           string `json:"user_id"`
			Aliases          []struct{ Kind, Scope, Value string }
		}
	}
	if err := srv.Admin("POST", "/admin/v1/users/batch", map[string]any{"users": users}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 301 || out.Users[0].UserID != "bulk0000" || out.Users[300].UserID != "bulkding" || out.Users[300].Platform != "dingtalk" {
		t.Fatalf("batch answered %d users", len(out.Users))
	}
	// The identifiers are those a single add gives (derived from tenant
	// and user ID): compare with a user added alone and then re-listed.
	var single struct {
		Aliases []struct{ Kind, Scope, Value string }
	}
	if err := srv.Admin("POST", "/admin/v1/users", map[string]any{"platform": "feishu", "tenant": "736588c9260f175e", "user_id": "alone"}, &single); err != nil {
		t.Fatal(err)
	}
	if len(out.Users[0].Aliases) == 0 || len(out.Users[0].Aliases) != len(single.Aliases) {
		t.Errorf("batch user has %d identifiers, a single add %d", len(out.Users[0].Aliases), len(single.Aliases))
	}
	// All or nothing: a duplicate in the batch fails it whole.
	bad := []map[string]any{
		{"platform": "feishu", "tenant": "736588c9260f175e", "user_id": "fresh1"},
		{"platform": "feishu", "tenant": "736588c9260f175e", "user_id": "bulk0001"},
	}
	if err := srv.Admin("POST", "/admin/v1/users/batch", map[string]any{"users": bad}, nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("batch with a duplicate: %v, want 409", err)
	}
	var listed struct {
		Users []struct {
			UserID string `json:"user_id"`
		}
	}
	if err := srv.Admin("GET", "/admin/v1/users?platform=feishu&tenant=736588c9260f175e", nil, &listed); err != nil {
		t.Fatal(err)
	}
	for _, u := range listed.Users {
		if u.UserID == "fresh1" {
			t.Error("a failed batch left fresh1 behind")
		}
	}
	// Over the limit, or with an unknown platform: 400 naming the user.
	status, _, body := adminDo(t, srv, "POST", "/admin/v1/users/batch", `{"users":[{"platform":"myspace","tenant":"x","user_id":"y"}]}`)
	if status != 400 || !strings.Contains(body, "users[0]") {
		t.Errorf("unknown platform: HTTP %d %s", status, body)
	}
	var huge bytes.Buffer
	huge.WriteString(`{"users":[`)
	for i := range 10001 {
		if i > 0 {
			huge.WriteString(",")
		}
		fmt.Fprintf(&huge, `{"platform":"feishu","tenant":"736588c9260f175e","user_id":"h%d"}`, i)
	}
	huge.WriteString(`]}`)
	if status, _, body := adminDo(t, srv, "POST", "/admin/v1/users/batch", huge.String()); status != 400 || !strings.Contains(body, "10000") {
		t.Errorf("10,001 users: HTTP %d %s", status, body)
	}
}

// TestAdminUsersPaged: the user listing pages with limit and next.
func TestAdminUsersPaged(t *testing.T) {
	srv := quntest.NewServer(t)
	type page struct {
		Users []struct {
			UserID string `json:"user_id"`
		}
		Next string
	}
	var all page
	if err := srv.Admin("GET", "/admin/v1/users?platform=feishu&tenant=736588c9260f175e", nil, &all); err != nil {
		t.Fatal(err)
	}
	var seen []string
	after := ""
	for range 100 {
		var p page
		if err := srv.Admin("GET", "/admin/v1/users?platform=feishu&tenant=736588c9260f175e&limit=7&after="+after, nil, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Users) > 7 {
			t.Fatalf("page of %d users, limit 7", len(p.Users))
		}
		for _, u := range p.Users {
			seen = append(seen, u.UserID)
		}
		if after = p.Next; after == "" {
			break
		}
	}
	if all.Next != "" || len(all.Users) < 60 || len(seen) != len(all.Users) || seen[0] != all.Users[0].UserID || seen[len(seen)-1] != all.Users[len(all.Users)-1].UserID {
		t.Errorf("paged through %d users, the listing has %d (next %q)", len(seen), len(all.Users), all.Next)
	}
	if status, _, _ := adminDo(t, srv, "GET", "/admin/v1/users?limit=0", ""); status != 400 {
		t.Errorf("limit=0: HTTP %d", status)
	}
}

// TestAdminDirectoryBounded: the directory lists at most 1000 users of a
// tenant and says when there are more (the user listing pages through
// them), so its cost does not grow with the users.
func TestAdminDirectoryBounded(t *testing.T) {
	srv := quntest.NewServer(t)
	var batch struct {
		Users []map[string]string `json:"users"`
	}
	for i := range 1001 {
		batch.Users = append(batch.Users, map[string]string{"platform": "feishu", "tenant": "2ed263bf32cf1651", "user_id": fmt.Sprintf("bulk%04d", i)})
	}
	if err := srv.Admin("POST", "/admin/v1/users/batch", batch, nil); err != nil {
		t.Fatal(err)
	}
	var dir struct {
		Tenants []struct {
			Key       string            `json:"key"`
			Users     []json.RawMessage `json:"users"`
			UsersMore bool              `json:"users_more"`
		}
	}
	if err := srv.Admin("GET", "/admin/v1/directory?platform=feishu", nil, &dir); err != nil {
		t.Fatal(err)
	}
	for _, tn := range dir.Tenants {
		switch tn.Key {
		case "2ed263bf32cf1651": // 2 users of the fixtures and 1001 more
			if len(tn.Users) != 1000 || !tn.UsersMore {
				t.Errorf("the large tenant lists %d users, more %v; want 1000 and true", len(tn.Users), tn.UsersMore)
			}
		case "736588c9260f175e":
			if len(tn.Users) < 60 || tn.UsersMore {
				t.Errorf("the demo tenant lists %d users, more %v", len(tn.Users), tn.UsersMore)
			}
		}
	}
}

// feishuCall makes a Feishu API call with the demo app's token.
func feishuCall(t *testing.T, srv *quntest.Server, method, path, body string) map[string]any {
	t.Helper()
	do := func(method, path, body, token string) map[string]any {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	tok := do("POST", "/open-apis/auth/v3/tenant_access_token/internal", `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`, "")
	out := do(method, path, body, tok["tenant_access_token"].(string))
	if out["code"] != float64(0) {
		t.Fatalf("%s %s: %v", method, path, out)
	}
	return out
}

// TestJournalAndSimulate: the journal lists a chat's events with their
// attempts, the console shows them next to the chat, and both admin APIs
// answer bad input with 400 or 404.
func TestJournalAndSimulate(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	created := feishuCall(t, srv, "POST", "/open-apis/im/v1/chats?user_id_type=user_id", `{"name":"Journal","owner_id":"zhangsan"}`)
	id := created["data"].(map[string]any)["chat_id"].(string)
	feishuCall(t, srv, "POST", "/open-apis/im/v1/chats/"+id+"/members?member_id_type=user_id", `{"id_list":["lisi"]}`)
	if err := srv.Admin("POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "lisi", "action": "leave"}, nil); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Events []struct {
			Seq      int64
			Type     string
			App      string
			Status   string
			Mode     string
			Attempts []any
		}
		Next int64
	}
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id+"&limit=1", nil, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Events) != 1 || j.Events[0].Type != "im.chat.member.user.deleted_v1" || j.Events[0].Status != "pending" || j.Events[0].Mode != "connection" || j.Next != j.Events[0].Seq {
		t.Fatalf("first page %+v", j)
	}
	next := j.Next
	j.Events = nil
	if err := srv.Admin("GET", fmt.Sprintf("/admin/v1/events?chat_id=%s&before=%d&app=cli_a10fbf7e94b8d01d&platform=feishu&status=pending", id, next), nil, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Events) != 1 || j.Events[0].Type != "im.chat.member.user.added_v1" || j.Events[0].App != "cli_a10fbf7e94b8d01d" {
		t.Errorf("second page %+v", j)
	}
	if err := srv.Admin("POST", "/admin/v1/chats/"+id+"/messages", map[string]any{"user": "zhangsan", "content": `{"text":"@_user_1 hello"}`,
		"mentions": []map[string]any{{"key": "@_user_1", "app": "cli_a10fbf7e94b8d01d"}}}, nil); err != nil {
		t.Fatal(err)
	}
	feishuCall(t, srv, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"`+id+`","msg_type":"text","content":"{\"text\":\"hi back\"}"}`)
	_, body := get(t, srv.URL+"/console/chats/"+id, "Cookie", "qun_admin="+quntest.AdminToken)
	for _, want := range []string{"Conversation (newest 2", "@_user_1 hello", "@_user_1 = bot 群助手 Demo Bot", "bot 群助手 Demo Bot", "hi back", "张三 (zhangsan)",
		"Events (newest 3", "im.chat.member.user.added_v1", "im.chat.member.user.deleted_v1", "none yet", "Journal: calls that named this chat", "POST /open-apis/im/v1/messages"} {
		if !strings.Contains(body, want) {
			t.Errorf("the chat's console page lacks %q", want)
		}
	}
	if _, body := get(t, srv.URL+"/console/directory", "Cookie", "qun_admin="+quntest.AdminToken); !strings.Contains(body, "No bot is connected") || !strings.Contains(body, "connection") {
		t.Error("the directory page lacks the connections")
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       string
	}{
		{"GET", "/admin/v1/events?status=lost", nil, "400"},
		{"GET", "/admin/v1/events?limit=0", nil, "400"},
		{"GET", "/admin/v1/events?limit=501", nil, "400"},
		{"GET", "/admin/v1/events?before=x", nil, "400"},
		{"GET", "/admin/v1/events?app=cli_a10fbf7e94b8d01d", nil, "400"},
		{"GET", "/admin/v1/events?app=nobody&platform=feishu", nil, "404"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id}, "400"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "lisi", "action": "dance"}, "400"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": "oc_nothere", "user": "lisi", "action": "join"}, "404"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "nobody", "action": "join"}, "404"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "lisi", "action": "leave"}, "403"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "zhangsan", "action": "leave"}, "403"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "zhangsan", "action": "rename"}, "400"},
		{"POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "zhangsan", "action": "add", "users": []string{"nobody"}}, "400"},
		{"POST", "/admin/v1/simulate", "[1]", "400"},
		{"PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"events": map[string]any{"mode": "push"}}, "400"},
		{"PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"events": map[string]any{"mode": "webhook", "url": "ftp://x"}}, "400"},
		{"PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"events": map[string]any{"mode": "connection", "types": []string{"im.message.reaction.created_v1"}}}, "400"},
		{"PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"events": map[string]any{"mode": "connection", "colour": "blue"}}, "400"},
		{"PATCH", "/admin/v1/apps/dingtalk/dingqundemo", map[string]any{"events": map[string]any{"mode": "webhook", "url": "http://x", "token": "t", "key": "short"}}, "400"},
		{"PATCH", "/admin/v1/apps/wecom/1000002?tenant=ww0123456789abcdef", map[string]any{"events": map[string]any{"mode": "connection"}}, "400"},
		{"PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"events": map[string]any{"mode": "webhook", "url": "http://127.0.0.1:1/"}}, "400"},
	} {
		err := srv.Admin(c.method, c.path, c.body, nil)
		if err == nil || !strings.Contains(err.Error(), ": "+c.status+" ") {
			t.Errorf("%s %s %v: %v, want %s", c.method, c.path, c.body, err, c.status)
		}
	}
	// Unsubscribing works, and a subscription can come back.
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/cli_a10fbf7e94b8d01d", map[string]any{"events": nil}, nil); err != nil {
		t.Fatal(err)
	}
	var apps struct {
		Apps []struct {
			Key    string
			Events any
		}
	}
	if err := srv.Admin("GET", "/admin/v1/apps?platform=feishu", nil, &apps); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps.Apps {
		if a.Key == "cli_a10fbf7e94b8d01d" && a.Events != nil {
			t.Errorf("still subscribed: %v", a.Events)
		}
	}
}

// TestConsolePost: the console's form posts as a member of a chat, with
// an @ of a bot: the message is in the chat (and on the console), the bot
// is told; a form without the admin cookie posts nothing.
func TestConsolePost(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	created := feishuCall(t, srv, "POST", "/open-apis/im/v1/chats?user_id_type=user_id", `{"name":"Console","owner_id":"zhangsan"}`)
	id := created["data"].(map[string]any)["chat_id"].(string)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(cookie bool, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/console/chats/"+id+"/messages", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie {
			req.AddCookie(&http.Cookie{Name: "qun_admin", Value: quntest.AdminToken})
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(false, url.Values{"user": {"zhangsan"}, "text": {"sneaky"}}); r.StatusCode != 303 || r.Header.Get("Location") != "/console" {
		t.Errorf("without the cookie: HTTP %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := post(true, url.Values{"user": {"zhangsan"}, "text": {"ping"}, "mention": {"cli_a10fbf7e94b8d01d"}}); r.StatusCode != 303 || r.Header.Get("Location") != "/console#"+id {
		t.Fatalf("post: HTTP %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := post(true, url.Values{"user": {"nobody"}, "text": {"x"}}); r.StatusCode != 400 {
		t.Errorf("post as nobody: HTTP %d", r.StatusCode)
	}
	msgs, err := srv.Messages(id)
	if err != nil || len(msgs) != 1 || msgs[0].SenderUser != "zhangsan" || msgs[0].Content != `{"text":"@_user_1 ping"}` {
		t.Fatalf("messages %v %+v", err, msgs)
	}
	var j struct{ Events []struct{ Type, App string } }
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id+"&limit=1", nil, &j); err != nil || len(j.Events) != 1 || j.Events[0].Type != "im.message.receive_v1" {
		t.Errorf("events %v %+v", err, j)
	}
	code, body := get(t, srv.URL+"/console/chats/"+id, "Cookie", "qun_admin="+quntest.AdminToken)
	if code != 200 || !strings.Contains(body, `action="/console/chats/`+id+`/messages"`) || !strings.Contains(body, "@_user_1 ping") {
		t.Errorf("console: HTTP %d, form %v", code, strings.Contains(body, "/console/chats/"))
	}
}
