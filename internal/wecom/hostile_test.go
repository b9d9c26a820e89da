package wecom_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qunhq/qun/quntest"
)

// TestTrailingBytes: every API that reads a body answers 47001 for one
// with anything after its JSON value, and changes nothing.
func TestTrailingBytes(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	q := url.Values{"access_token": {token(t, srv, corp, secret)}}
	made := post(t, srv, "/cgi-bin/appchat/create", q, `{"name":"周会","owner":"zhangsan","userlist":["zhangsan","lisi"],"chatid":"Team42"}`)
	if made.code() != 0 {
		t.Fatal(made)
	}
	before := countChats(t, srv)
	bodies := []struct{ path, body string }{
		{"/cgi-bin/appchat/create", `{"name":"x","owner":"zhangsan","userlist":["zhangsan","lisi"]}`},
		{"/cgi-bin/appchat/update", `{"chatid":"Team42","name":"renamed"}`},
		{"/cgi-bin/service/get_suite_token", `{"suite_id":"` + suiteID + `","suite_secret":"` + suiteSecret + `","suite_ticket":"t"}`},
	}
	for _, junk := range []string{"}", "]", " {}", "x", "\u00a0"} {
		for _, b := range bodies {
			if a := post(t, srv, b.path, q, b.body+junk); a.code() != 47001 {
				t.Errorf("%s %s: %v, want 47001", b.path, b.body+junk, a)
			}
		}
	}
	if n := countChats(t, srv); n != before {
		t.Errorf("%d chats after malformed requests, want %d", n, before)
	}
	if g := get(t, srv, "/cgi-bin/appchat/get", url.Values{"access_token": q["access_token"], "chatid": {"Team42"}}); !strings.Contains(string(mustJSON(g)), `"name":"周会"`) {
		t.Errorf("a malformed update changed the chat: %v", g)
	}
}

// TestUnknownRoutes: every path and method under /cgi-bin/ answers WeCom's
// envelope (HTTP 200, errcode): a POST API called with another method
// misses its body (40058), an unknown API is 48002. The simulated client's
// own paths (/wecom/client/...) are qun's, not WeCom's: an unknown one is a
// plain 404 and a wrong method a 405 with Allow, as docs/wecom.md says.
func TestUnknownRoutes(t *testing.T) {
	srv := quntest.NewServer(t)
	q := url.Values{"access_token": {token(t, srv, corp, secret)}}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/cgi-bin/appchat/create", 40058},
		{"PUT", "/cgi-bin/appchat/update", 40058},
		{"DELETE", "/cgi-bin/service/get_suite_token", 40058},
		{"PUT", "/cgi-bin/gettoken", 40058},
		{"DELETE", "/cgi-bin/appchat/get", 40058},
		{"GET", "/cgi-bin/nothing", 48002},
		{"POST", "/cgi-bin/", 48002},
		{"GET", "/cgi-bin/appchat/create/extra", 48002},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path+"?"+q.Encode(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if a := decode(t, resp); a.code() != c.code {
			t.Errorf("%s %s: %v, want %d", c.method, c.path, a, c.code)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/wecom/client/nothing", 404, ""},
		{"POST", "/wecom/client/client.js", 405, "GET, HEAD"},
		{"GET", "/wecom/client/v1/invoke", 405, "OPTIONS, POST"},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: HTTP %d Allow %q, want %d %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.status, c.allow)
		}
	}
}

func countChats(t *testing.T, srv *quntest.Server) int {
	t.Helper()
	var out struct {
		Chats []json.RawMessage `json:"chats"`
	}
	if err := srv.Admin("GET", "/admin/v1/chats", nil, &out); err != nil {
		t.Fatal(err)
	}
	return len(out.Chats)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
