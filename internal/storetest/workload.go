package storetest

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

// DialectWorkload calls every API of the three dialects and the admin API
// once or twice on a quntest node (its store as QUN_TEST_POSTGRES says),
// so that a store's plan test sees the queries real requests issue.
func DialectWorkload(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	w := NewWorkload(t, srv.URL)

	// Feishu.
	tok := w.Str(w.Call("POST", "/open-apis/auth/v3/tenant_access_token/internal", nil, `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`), "tenant_access_token")
	fs := map[string]string{"Authorization": "Bearer " + tok}
	zhangsan := "ou_7d8a6e6df7621556ce0d21922b676706ccs"
	body := `{"name":"计划 plan","owner_id":"` + zhangsan + `","user_id_list":["` + zhangsan + `"],"bot_id_list":["cli_a10fbf7e94b8d01d"],"chat_type":"public"}`
	created := w.Call("POST", "/open-apis/im/v1/chats?uuid=plan-1", fs, body)
	w.Call("POST", "/open-apis/im/v1/chats?uuid=plan-1", fs, body) // dedupe
	chat := w.Str(w.Obj(created, "data"), "chat_id")
	c := "/open-apis/im/v1/chats/" + chat
	w.Call("GET", c, fs, "")
	w.Call("GET", c+"?user_id_type=user_id", fs, "")
	w.Call("PUT", c, fs, `{"name":"renamed","description":"d"}`)
	w.Call("POST", c+"/members?member_id_type=user_id", fs, `{"id_list":["lisi","user001"]}`)
	w.Call("POST", c+"/members?member_id_type=app_id", fs, `{"id_list":["cli_b20fbf7e94b8d02e"]}`)
	page := w.Call("GET", c+"/members?page_size=1", fs, "")
	if pt := w.Str(w.Obj(page, "data"), "page_token"); pt != "" {
		w.Call("GET", c+"/members?page_size=1&page_token="+url.QueryEscape(pt), fs, "")
	}
	w.Call("GET", c+"/members/is_in_chat", fs, "")
	w.Call("POST", c+"/managers/add_managers?member_id_type=user_id", fs, `{"manager_ids":["lisi"]}`)
	w.Call("POST", c+"/managers/delete_managers?member_id_type=user_id", fs, `{"manager_ids":["lisi"]}`)
	w.Call("DELETE", c+"/members?member_id_type=user_id", fs, `{"id_list":["user001"]}`)
	for range 3 {
		w.Call("POST", "/open-apis/im/v1/chats", fs, `{"name":"more 100%_"}`)
	}
	list := w.Call("GET", "/open-apis/im/v1/chats?page_size=2", fs, "")
	if pt := w.Str(w.Obj(list, "data"), "page_token"); pt != "" {
		w.Call("GET", "/open-apis/im/v1/chats?page_size=2&page_token="+url.QueryEscape(pt), fs, "")
	}
	w.Call("GET", "/open-apis/im/v1/chats?sort_type=ByActiveTimeDesc&page_size=2", fs, "")
	found := w.Call("GET", "/open-apis/im/v1/chats/search?query=more&page_size=1", fs, "")
	if pt := w.Str(w.Obj(found, "data"), "page_token"); pt != "" {
		w.Call("GET", "/open-apis/im/v1/chats/search?query=more&page_size=1&page_token="+url.QueryEscape(pt), fs, "")
	}
	w.Call("GET", "/open-apis/im/v1/chats/search?query=%25_", fs, "")
	w.Call("DELETE", c, fs, "")

	// DingTalk, new and legacy.
	dtok := w.Str(w.Call("POST", "/v1.0/oauth2/accessToken", nil, `{"appKey":"dingqundemo","appSecret":"demo-dingtalk-secret"}`), "accessToken")
	dh := map[string]string{"x-acs-dingtalk-access-token": dtok}
	group := w.Call("POST", "/v1.0/im/group/create", dh, `{"name":"Plan","owner":"manager4220","useridlist":["userId","lisi"],"extidlist":["unionId"]}`)
	cid, chatid := w.Str(group, "openConversationId"), w.Str(group, "chatid")
	w.Call("POST", "/v1.0/im/group/update", dh, `{"openConversationId":"`+cid+`","name":"Plan 2","addUserIds":["user001"],"removeUserIds":["lisi"],"ownerUserId":"userId"}`)
	w.Call("POST", "/v1.0/im/subAdministrators", dh, `{"openConversationId":"`+cid+`","userIds":["user001"],"role":2}`)
	w.Call("POST", "/v1.0/im/chat/"+chatid+"/convertToOpenConversationId", dh, "")
	lt := w.Str(w.Call("GET", "/gettoken?appkey=dingqundemo&appsecret=demo-dingtalk-secret", nil, ""), "access_token")
	legacy := w.Call("POST", "/chat/create?access_token="+lt, nil, `{"name":"Legacy","owner":"manager4220","useridlist":["manager4220","userId"]}`)
	w.Call("POST", "/chat/update?access_token="+lt, nil, `{"chatid":"`+w.Str(legacy, "chatid")+`","name":"L2","add_useridlist":["lisi"],"del_useridlist":["userId"]}`)
	w.Call("GET", "/chat/get?access_token="+lt+"&chatid="+w.Str(legacy, "chatid"), nil, "")

	// WeCom: server APIs and the simulated client.
	wt := w.Str(w.Call("GET", "/cgi-bin/gettoken?corpid=ww0123456789abcdef&corpsecret=demo-wecom-secret", nil, ""), "access_token")
	w.Call("GET", "/cgi-bin/get_jsapi_ticket?access_token="+wt, nil, "")
	w.Call("GET", "/cgi-bin/ticket/get?type=agent_config&access_token="+wt, nil, "")
	w.Call("POST", "/cgi-bin/appchat/create?access_token="+wt, nil, `{"name":"周会","owner":"zhangsan","userlist":["zhangsan","lisi","lisi2"],"chatid":"Plan42"}`)
	w.Call("POST", "/cgi-bin/appchat/update?access_token="+wt, nil, `{"chatid":"Plan42","name":"周会2","add_user_list":["user001"],"del_user_list":["lisi2"]}`)
	w.Call("GET", "/cgi-bin/appchat/get?chatid=Plan42&access_token="+wt, nil, "")
	st := w.Str(w.Call("POST", "/cgi-bin/service/get_suite_token", nil, `{"suite_id":"wwa5b4c3d2e1f00918","suite_secret":"demo-wecom-suite-secret","suite_ticket":"t"}`), "suite_access_token")
	ctxJSON := `"context":{"corp":"ww0123456789abcdef","user":"zhangsan","agent":"1000002","version":"4.1.30","platform":"windows"}`
	code := w.Str(w.Call("POST", "/wecom/client/v1/invoke", nil, `{"surface":"miniprogram","name":"login",`+ctxJSON+`}`), "code")
	w.Call("GET", "/cgi-bin/miniprogram/jscode2session?grant_type=authorization_code&js_code="+code+"&access_token="+wt, nil, "")
	w.Call("GET", "/cgi-bin/service/miniprogram/jscode2session?grant_type=authorization_code&js_code=x&suite_access_token="+st, nil, "")
	w.Call("POST", "/wecom/client/v1/invoke", nil, `{"surface":"miniprogram","name":"checkSession",`+ctxJSON+`}`)
	w.Call("POST", "/wecom/client/v1/invoke", nil, `{"surface":"miniprogram","name":"createCorpGroupChat",`+ctxJSON+`,"args":{"groupName":"讨论组","userIds":["lisi","lisi2"],"externalUserIds":["exid1","exid2"],"corpGroupUserIds":[{"corpId":"ww3333","userId":"userid123"},{"corpId":"ww4444","userId":"userid123"}]}}`)

	// Admin API and console.
	ah := map[string]string{"Authorization": "Bearer " + quntest.AdminToken}
	for _, p := range []string{"/admin/v1/directory", "/admin/v1/tenants", "/admin/v1/apps?platform=feishu", "/admin/v1/users?platform=wecom&tenant=ww0123456789abcdef",
		"/admin/v1/links", "/admin/v1/chats?limit=5", "/admin/v1/chats?platform=feishu&query=more&status=normal", "/admin/v1/chats/" + chatid,
		"/admin/v1/friendships?user=feishu:736588c9260f175e/zhangsan"} {
		w.Call("GET", p, ah, "")
	}
	var batch []string
	for i := range 5 {
		batch = append(batch, fmt.Sprintf(`{"platform":"feishu","tenant":"736588c9260f175e","user_id":"plan%d"}`, i))
	}
	w.Call("POST", "/admin/v1/users/batch", ah, `{"users":[`+strings.Join(batch, ",")+`]}`)
	w.Call("POST", "/admin/v1/friendships", ah, `{"a":"feishu:736588c9260f175e/plan0","b":"feishu:2ed263bf32cf1651/zhaoliu"}`)
	w.Call("PATCH", "/admin/v1/users/feishu/736588c9260f175e/plan1", ah, `{"status":"resigned"}`)
	w.Call("POST", "/admin/v1/apps", ah, `{"platform":"feishu","tenant":"736588c9260f175e","secret":"s"}`)
	w.Call("GET", "/console", map[string]string{"Cookie": "qun_admin=" + quntest.AdminToken}, "")
	w.Call("POST", "/admin/v1/reset", ah, "")
}

// Workload sends requests to a node for tests that watch what its store
// does.
type Workload struct {
	t    *testing.T
	base string
}

// NewWorkload sends requests to the node at base.
func NewWorkload(t *testing.T, base string) *Workload { return &Workload{t: t, base: base} }

// Call sends a request and decodes a JSON answer; any status is fine.
func (w *Workload) Call(method, path string, header map[string]string, body string) map[string]any {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.base+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		w.t.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, raw)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// Obj is the object m holds under key.
func (w *Workload) Obj(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// Str is the string m holds under key.
func (w *Workload) Str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}
