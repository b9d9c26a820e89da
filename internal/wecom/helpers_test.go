package wecom_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	workwx "github.com/xen0n/go-workwx"

	"github.com/qunhq/qun/quntest"
)

// The demo directory's WeCom identities (internal/fixtures/demo.yaml).
const (
	corp         = "ww0123456789abcdef"
	agentID      = 1000002
	agent        = "1000002"
	secret       = "demo-wecom-secret"
	narrowAgent  = 1000003
	narrowSecret = "demo-wecom-narrow-secret"
	suiteID      = "wwa5b4c3d2e1f00918"
	suiteSecret  = "demo-wecom-suite-secret"
	downstream   = "ww4444"
	downstreamB  = "ww7b2c9d4e1f3a5b6c"
	switchedOff  = "ww0ff0ff0ff0ff0ff0"
	unlinked     = "ww1c2d3e4f5a6b7c8d"
	initiator    = "zhangsan"
)

// app is the demo's self-built app through go-workwx.
func app(srv *quntest.Server) *workwx.WorkwxApp {
	return workwx.New(corp, workwx.WithQYAPIHost(srv.URL)).WithApp(secret, agentID)
}

// wantCode fails unless err is a WeCom error with errcode code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var we *workwx.WorkwxClientError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want errcode %d", err, code)
	}
	if int(we.Code) != code {
		t.Fatalf("errcode = %d (%s), want %d", we.Code, we.Msg, code)
	}
	checkErrmsg(t, we.Msg, code)
}

// checkErrmsg checks an errmsg has WeCom's shape: text, hint, caller IP and
// the lookup link for the code.
func checkErrmsg(t testing.TB, msg string, code int) {
	t.Helper()
	if !errmsgShape.MatchString(msg) || !strings.HasSuffix(msg, "?e="+itoa(code)) {
		t.Errorf("errmsg %q is not in WeCom's format for %d", msg, code)
	}
}

// answer is an API answer read as plain JSON.
type answer map[string]any

func (a answer) code() int {
	n, _ := a["errcode"].(float64)
	return int(n)
}

func (a answer) str(key string) string {
	s, _ := a[key].(string)
	return s
}

// get calls a GET API and decodes its answer, which must be HTTP 200 JSON
// with WeCom's headers.
func get(t testing.TB, srv *quntest.Server, path string, q url.Values) answer {
	t.Helper()
	resp, err := http.Get(srv.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

// post calls a POST API with a raw body.
func post(t *testing.T, srv *quntest.Server, path string, q url.Values, body string) answer {
	t.Helper()
	resp, err := http.Post(srv.URL+path+"?"+q.Encode(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func decode(t testing.TB, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Fatalf("HTTP %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	if resp.Header.Get("Error-Code") != itoa(a.code()) {
		t.Errorf("Error-Code header %q, errcode %d", resp.Header.Get("Error-Code"), a.code())
	}
	if a.code() == 0 && a.str("errmsg") != "ok" {
		t.Errorf("success errmsg %q, want ok", a.str("errmsg"))
	}
	if a.code() != 0 {
		checkErrmsg(t, a.str("errmsg"), a.code())
	}
	return a
}

// token gets an access token with plain HTTP.
func token(t testing.TB, srv *quntest.Server, corpID, corpSecret string) string {
	t.Helper()
	a := get(t, srv, "/cgi-bin/gettoken", url.Values{"corpid": {corpID}, "corpsecret": {corpSecret}})
	if a.code() != 0 {
		t.Fatalf("gettoken %s: %v", corpID, a)
	}
	return a.str("access_token")
}

// suiteToken gets the demo suite's suite_access_token.
func suiteToken(t *testing.T, srv *quntest.Server) string {
	t.Helper()
	a := post(t, srv, "/cgi-bin/service/get_suite_token", nil, `{"suite_id":"`+suiteID+`","suite_secret":"`+suiteSecret+`","suite_ticket":"any-ticket"}`)
	if a.code() != 0 {
		t.Fatalf("get_suite_token: %v", a)
	}
	return a.str("suite_access_token")
}

// client is who runs a page in the simulated WeCom app.
type client struct {
	Corp     string `json:"corp"`
	User     string `json:"user"`
	Agent    string `json:"agent,omitempty"`
	Suite    string `json:"suite,omitempty"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
}

// zhangsan is the demo's initiator on a current Windows client.
var zhangsan = client{Corp: corp, User: initiator, Agent: agent, Version: "4.1.30", Platform: "windows"}

// result is what a client call answers the page.
type result struct {
	ErrMsg      string          `json:"errMsg"`
	ErrMsgRaw   string          `json:"err_msg"`
	ChatID      string          `json:"chatId"`
	Code        string          `json:"code"`
	ExpireIn    *int            `json:"expireIn"`
	CheckResult map[string]bool `json:"checkResult"`
}

// invoke makes a client call the way client.js does.
func invoke(t *testing.T, srv *quntest.Server, surface, name string, c client, args any, extra map[string]any) result {
	t.Helper()
	body := map[string]any{"surface": surface, "name": name, "args": args, "context": c, "url": "https://app.example.com/page?x=1"}
	for k, v := range extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL+"/wecom/client/v1/invoke", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("invoke answers without CORS")
	}
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.ErrMsg != r.ErrMsgRaw {
		t.Errorf("errMsg %q and err_msg %q differ", r.ErrMsg, r.ErrMsgRaw)
	}
	return r
}

// signIn runs the mini-program login for c and exchanges the code with the
// app's backend credentials, as a developer's server does.
func signIn(t *testing.T, srv *quntest.Server, c client) {
	t.Helper()
	r := invoke(t, srv, "miniprogram", "login", c, map[string]any{}, nil)
	if r.ErrMsg != "login:ok" || r.Code == "" {
		t.Fatalf("login: %+v", r)
	}
	if _, err := app(srv).JSCode2Session(r.Code); err != nil && c.Corp == corp && c.Agent == agent {
		t.Fatalf("jscode2session: %v", err)
	}
}

// chatDetail reads a chat through the admin API.
type chatDetail struct {
	ChatID  string `json:"chat_id"`
	Class   string `json:"class"`
	Name    string `json:"name"`
	Tenant  string `json:"tenant"`
	Creator string `json:"creator_app"`
	Members []struct {
		Role string
		User struct {
			Tenant string `json:"tenant"`
			UserID string `json:"user_id"`
		}
	}
}

func adminChat(t *testing.T, srv *quntest.Server, chatID string) chatDetail {
	t.Helper()
	var d chatDetail
	if err := srv.Admin("GET", "/admin/v1/chats/"+chatID, nil, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// members lists a chat's members as corp/userid, the owner first.
func (d chatDetail) members() []string {
	var out []string
	for _, m := range d.Members {
		out = append(out, m.User.Tenant+"/"+m.User.UserID)
	}
	return out
}
