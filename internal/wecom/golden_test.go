package wecom_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

// masks replace generated values so answers compare byte for byte.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"access_token":"[0-9A-Za-z]{64}"`), `"access_token":"ACCESS_TOKEN"`},
	{regexp.MustCompile(`"session_key":"[A-Za-z0-9+/]{22}=="`), `"session_key":"kJtdi6RF+Dv67QkbLlPGjw=="`},
	{regexp.MustCompile(`"chatId":"wr[0-9A-Za-z]{28}"`), `"chatId":"wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"`},
	{regexp.MustCompile(`hint: \[\d+_\d+_[0-9a-f]{32}\], from ip: [0-9.]+`), `hint: [1567242049_37_672ca929031519780941b843b1b71c94], from ip: 127.0.0.1`},
}

func matchGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	for _, m := range masks {
		body = m.re.ReplaceAll(body, []byte(m.with))
	}
	golden.JSON(t, filepath.Join("testdata", name), body, "  ")
}

func raw(t *testing.T, method, u, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// TestGolden pins the wire form of the answers, keys in WeCom's order:
// gettoken, an error, jscode2session, appchat/get and send, and what the simulated
// client answers createCorpGroupChat.
func TestGolden(t *testing.T) {
	srv := quntest.NewServer(t)
	matchGolden(t, "gettoken.json", raw(t, "GET", srv.URL+"/cgi-bin/gettoken?corpid="+corp+"&corpsecret="+secret, ""))
	matchGolden(t, "gettoken_invalid_credential.json", raw(t, "GET", srv.URL+"/cgi-bin/gettoken?corpid="+corp+"&corpsecret=wrong", ""))
	tok := token(t, srv, corp, secret)
	login := invoke(t, srv, "miniprogram", "login", zhangsan, map[string]any{}, nil)
	matchGolden(t, "jscode2session.json", raw(t, "GET", srv.URL+"/cgi-bin/miniprogram/jscode2session?"+url.Values{"access_token": {tok}, "js_code": {login.Code}, "grant_type": {"authorization_code"}}.Encode(), ""))
	matchGolden(t, "appchat_create.json", raw(t, "POST", srv.URL+"/cgi-bin/appchat/create?access_token="+tok, `{"name":"NAME","owner":"lisi","userlist":["lisi","lisi2","user001"],"chatid":"CHATID"}`))
	matchGolden(t, "appchat_get.json", raw(t, "GET", srv.URL+"/cgi-bin/appchat/get?access_token="+tok+"&chatid=CHATID", ""))
	matchGolden(t, "appchat_send.json", raw(t, "POST", srv.URL+"/cgi-bin/appchat/send?access_token="+tok, `{"chatid":"CHATID","msgtype":"text","text":{"content":"hello"},"safe":0}`))
	matchGolden(t, "appchat_send_too_long.json", raw(t, "POST", srv.URL+"/cgi-bin/appchat/send?access_token="+tok, `{"chatid":"CHATID","msgtype":"text","text":{"content":"`+strings.Repeat("x", 2049)+`"}}`))

	b, _ := json.Marshal(map[string]any{"surface": "miniprogram", "name": "createCorpGroupChat", "context": zhangsan, "args": seedArgs()})
	matchGolden(t, "client_create_corp_group_chat.json", raw(t, "POST", srv.URL+"/wecom/client/v1/invoke", string(b)))
}
