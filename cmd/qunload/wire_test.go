package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestWire: the raw client sends what net/http's would (method, path,
// query credential, header credential, JSON body with its length), reads
// the answer's status and body, keeps one connection for many calls, and
// dials again when the server closed it.
func TestWire(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.URL.Query().Get("access_token")+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+string(body))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	w, err := newWire(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()

	cases := []struct {
		r    request
		cred credential
		want string
	}{
		{request{"POST", "/open-apis/im/v1/chats", `{"name":"load"}`}, credential{header: "Authorization", value: "Bearer t-1"},
			`POST /open-apis/im/v1/chats  Bearer t-1 application/json; charset=utf-8 {"name":"load"}`},
		{request{"GET", "/cgi-bin/appchat/get?chatid=c1", ""}, credential{query: "access_token", value: "a b"},
			`GET /cgi-bin/appchat/get a b   `},
		{request{"POST", "/x?close=1", `{}`}, credential{}, `POST /x   application/json; charset=utf-8 {}`},
		{request{"POST", "/y", `{}`}, credential{}, `POST /y   application/json; charset=utf-8 {}`},
	}
	for _, c := range cases {
		status, body, err := w.call(c.r, c.cred)
		if err != nil {
			t.Fatalf("%s %s: %v", c.r.method, c.r.path, err)
		}
		if status != http.StatusTeapot || string(body) != c.want {
			t.Errorf("%s %s: %d %q, want 418 %q", c.r.method, c.r.path, status, body, c.want)
		}
	}
	// Three calls on the first connection, the fourth on a new one after
	// the server said it closes.
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if _, err := newWire("https://127.0.0.1:1"); err == nil {
		t.Error("an https URL was taken")
	}
}
