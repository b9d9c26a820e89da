package wecom_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qunhq/qun/quntest"
)

// BenchmarkCorpGroupChat measures the seed's createCorpGroupChat as the
// simulated client sends it: session check, the rules over three
// corporations and two contacts, one durable transaction of seven members.
func BenchmarkCorpGroupChat(b *testing.B) {
	srv := quntest.NewServer(b, quntest.WithoutRateLimits())
	r := invokeRaw(b, srv, map[string]any{"surface": "miniprogram", "name": "login", "context": zhangsan})
	if _, err := app(srv).JSCode2Session(r["code"].(string)); err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"surface": "miniprogram", "name": "createCorpGroupChat", "context": zhangsan, "args": seedArgs()})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(srv.URL+"/wecom/client/v1/invoke", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(raw, []byte(`"createCorpGroupChat:ok"`)) {
				b.Fatalf("%s", raw)
			}
		}
	})
}

// BenchmarkAppchatCreate measures POST /cgi-bin/appchat/create with three
// members.
func BenchmarkAppchatCreate(b *testing.B) {
	srv := quntest.NewServer(b, quntest.WithoutRateLimits())
	u := srv.URL + "/cgi-bin/appchat/create?" + url.Values{"access_token": {token(b, srv, corp, secret)}}.Encode()
	const body = `{"name":"bench","userlist":["lisi","lisi2","user001"]}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(u, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.HasPrefix(raw, []byte(`{"errcode":0,`)) {
				b.Fatalf("%s", raw)
			}
		}
	})
}

// invokeRaw makes a client call and decodes the answer loosely.
func invokeRaw(tb testing.TB, srv *quntest.Server, body map[string]any) map[string]any {
	tb.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL+"/wecom/client/v1/invoke", "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out
}
