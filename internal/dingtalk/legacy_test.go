package dingtalk_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func wantErrcode(t *testing.T, what string, m map[string]any, code int) {
	t.Helper()
	if m["errcode"] != float64(code) || (code == 0) != (m["errmsg"] == "ok") {
		t.Errorf("%s: %v, want errcode %d", what, m, code)
	}
}

func TestLegacyToken(t *testing.T) {
	srv := quntest.NewServer(t)
	m := legacy(t, srv, "GET", "/gettoken", q("appkey", appKey, "appsecret", appSecret), "")
	wantErrcode(t, "gettoken", m, 0)
	tok, _ := m["access_token"].(string)
	if len(tok) != 32 || m["expires_in"] != float64(7200) {
		t.Errorf("gettoken = %v", m)
	}
	wantErrcode(t, "wrong secret", legacy(t, srv, "GET", "/gettoken", q("appkey", appKey, "appsecret", "x"), ""), 40096)
	wantErrcode(t, "no appkey", legacy(t, srv, "GET", "/gettoken", q("appsecret", "x"), ""), 40035)

	// One token store: a legacy token works on the new APIs, and back.
	if _, err := newClientWithToken(t, srv, tok).create(seedRequest()); err != nil {
		t.Errorf("legacy token on a new API: %v", err)
	}
	newTok := token(t, srv, appKey)
	if newTok != tok {
		t.Errorf("the new token endpoint issued %s while %s is valid", newTok, tok)
	}
	wantErrcode(t, "no access_token", legacy(t, srv, "GET", "/chat/get", q("chatid", "x"), ""), 41001)
	wantErrcode(t, "bad access_token", legacy(t, srv, "GET", "/chat/get", q("access_token", "nope", "chatid", "x"), ""), 40014)
}

func TestLegacyChat(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	tok := token(t, srv, appKey)
	at := q("access_token", tok)
	created := legacy(t, srv, "POST", "/chat/create", at,
		`{"name":"Legacy group","owner":"manager4220","useridlist":["manager4220","userId","lisi"],"showHistoryType":1,"searchable":1,"managementType":1}`)
	wantErrcode(t, "chat/create", created, 0)
	id, _ := created["chatid"].(string)
	if !chatIDPattern.MatchString(id) || !cidPattern.MatchString(created["openConversationId"].(string)) || created["conversationTag"] != float64(2) {
		t.Fatalf("chat/create = %v", created)
	}

	got := legacy(t, srv, "GET", "/chat/get", q("access_token", tok, "chatid", id), "")
	wantErrcode(t, "chat/get", got, 0)
	info, _ := got["chat_info"].(map[string]any)
	if info["name"] != "Legacy group" || info["owner"] != "manager4220" || info["chatid"] != id || info["status"] != float64(1) ||
		info["showHistoryType"] != float64(1) || info["searchable"] != float64(1) || info["managementType"] != float64(1) || info["mentionAllAuthority"] != float64(0) ||
		fmt.Sprint(info["useridlist"]) != "[manager4220 userId lisi]" {
		t.Errorf("chat_info = %v", info)
	}

	wantErrcode(t, "chat/update", legacy(t, srv, "POST", "/chat/update", at,
		`{"chatid":"`+id+`","name":"Renamed","add_useridlist":["user001"],"del_useridlist":["lisi"],"add_extidlist":["unionId"],"isBan":true}`), 0)
	info = legacy(t, srv, "GET", "/chat/get", q("access_token", tok, "chatid", id), "")["chat_info"].(map[string]any)
	if info["name"] != "Renamed" || info["chatBannedType"] != float64(1) || fmt.Sprint(info["useridlist"]) != "[manager4220 userId user001]" || fmt.Sprint(info["extidlist"]) != "[unionId]" {
		t.Errorf("after chat/update: %v", info)
	}

	// A group made with the new API reads through the legacy one: one core.
	resp, err := newClientWithToken(t, srv, tok).create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	info = legacy(t, srv, "GET", "/chat/get", q("access_token", tok, "chatid", tea.StringValue(resp.Body.Chatid)), "")["chat_info"].(map[string]any)
	if info["name"] != "Test Group" || fmt.Sprint(info["useridlist"]) != "[manager4220 userId]" || fmt.Sprint(info["extidlist"]) != "[unionId]" {
		t.Errorf("new-API group through chat/get: %v", info)
	}

	var forty []string
	for i := range 41 {
		forty = append(forty, fmt.Sprintf(`"user%03d"`, i+1))
	}
	for _, c := range []struct {
		name, path, body string
		code             int
	}{
		{"not JSON", "/chat/create", `name=x`, 43009},
		{"no name", "/chat/create", `{"owner":"manager4220","useridlist":["manager4220"]}`, 40035},
		{"long name", "/chat/create", `{"name":"` + strings.Repeat("长", 21) + `","owner":"manager4220","useridlist":["manager4220"]}`, 400002},
		{"no owner", "/chat/create", `{"name":"g","useridlist":["manager4220"]}`, 49013},
		{"no members", "/chat/create", `{"name":"g","owner":"manager4220"}`, 49010},
		{"41 members", "/chat/create", `{"name":"g","owner":"user001","useridlist":[` + strings.Join(forty, ",") + `]}`, 49011},
		{"owner not a member", "/chat/create", `{"name":"g","owner":"manager4220","useridlist":["userId"]}`, 40031},
		{"unknown member", "/chat/create", `{"name":"g","owner":"manager4220","useridlist":["manager4220","nobody"]}`, 40031},
		{"no chatid", "/chat/update", `{"name":"x"}`, 49000},
		{"unknown chatid", "/chat/update", `{"chatid":"chat00000000000000000000000000000000","name":"x"}`, 40016},
		{"add 41", "/chat/update", `{"chatid":"` + id + `","add_useridlist":[` + strings.Join(forty, ",") + `]}`, 49011},
		{"remove the owner", "/chat/update", `{"chatid":"` + id + `","del_useridlist":["manager4220"]}`, 40031},
	} {
		wantErrcode(t, c.name, legacy(t, srv, "POST", c.path, at, c.body), c.code)
	}
	wantErrcode(t, "chat/get without chatid", legacy(t, srv, "GET", "/chat/get", at, ""), 49000)
	wantErrcode(t, "chat/get unknown chatid", legacy(t, srv, "GET", "/chat/get", q("access_token", tok, "chatid", "chatnope"), ""), 40016)
	reader := q("access_token", token(t, srv, readerApp))
	wantErrcode(t, "create without permission", legacy(t, srv, "POST", "/chat/create", reader, `{"name":"g","owner":"manager4220","useridlist":["manager4220"]}`), 43007)
	wantErrcode(t, "another app's group", legacy(t, srv, "GET", "/chat/get", q("access_token", reader.Get("access_token"), "chatid", id), ""), 43007)

	// The legacy APIs share the 20-a-second budget per app and API.
	clk.Advance(time.Second)
	for i := range 20 {
		wantErrcode(t, fmt.Sprintf("get %d", i), legacy(t, srv, "GET", "/chat/get", q("access_token", tok, "chatid", id), ""), 0)
	}
	wantErrcode(t, "21st get in a second", legacy(t, srv, "GET", "/chat/get", q("access_token", tok, "chatid", id), ""), 90018)
}
