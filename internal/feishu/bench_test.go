package feishu_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

// BenchmarkCreateChat measures whole create-chat requests over loopback
// HTTP: token check, decoding, rules, one durable SQLite transaction and
// the answer. Run with -cpu to vary the number of concurrent clients.
func BenchmarkCreateChat(b *testing.B) {
	srv := quntest.NewServer(b, quntest.WithoutRateLimits())
	tok := "Bearer " + benchToken(b, srv)
	body := `{"name":"bench","owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs","user_id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/open-apis/im/v1/chats", strings.NewReader(body))
			req.Header.Set("Authorization", tok)
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("HTTP %d", resp.StatusCode)
			}
		}
	})
}

// BenchmarkRejectedCreate measures a create refused by a rule (232043)
// after resolving its IDs: no write, so no fsync.
func BenchmarkRejectedCreate(b *testing.B) {
	srv := quntest.NewServer(b, quntest.WithoutRateLimits())
	tok := "Bearer " + benchToken(b, srv)
	body := `{"user_id_list":["ou_00000000000000000000000000000000"]}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/open-apis/im/v1/chats", strings.NewReader(body))
			req.Header.Set("Authorization", tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 {
				b.Fatalf("HTTP %d", resp.StatusCode)
			}
		}
	})
}

func benchToken(b *testing.B, srv *quntest.Server) string {
	resp, err := http.Post(srv.URL+"/open-apis/auth/v3/tenant_access_token/internal", "application/json",
		strings.NewReader(`{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	_, after, _ := strings.Cut(string(raw), `"tenant_access_token":"`)
	tok, _, _ := strings.Cut(after, `"`)
	return tok
}

// BenchmarkEvents measures chat updates (PUT, a rename) when nobody is
// told (no app subscribed) and when the two bots in the chat are: each
// update then writes two events in its transaction, and the helper bot's
// are delivered over its long connection to the official larkws client.
// ns/op is an update's; events/s is the helper's deliveries per second,
// from the first update until the last event arrived.
func BenchmarkEvents(b *testing.B) {
	for _, subscribed := range []bool{false, true} {
		name := "unsubscribed"
		if subscribed {
			name = "subscribed"
		}
		b.Run(name, func(b *testing.B) {
			srv := quntest.NewServer(b, quntest.WithoutRateLimits())
			got := newReceived()
			got.notify = make(chan struct{}, 1<<20)
			if subscribed {
				connect(b, srv, helperApp, recorder(got, "", ""))
			} else {
				for _, app := range []string{appID, helperApp} {
					if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+app, map[string]any{"events": nil}, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			cli := client(srv, appID)
			id := mkChat(b, cli, larkim.NewCreateChatReqBodyBuilder().Name("bench").Build())
			addMembers(b, cli, id, "app_id", -1, helperApp)
			tok := "Bearer " + benchToken(b, srv)
			start := time.Now()
			before := len(got.wait(b, 0))
			b.ReportAllocs()
			b.ResetTimer()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("PUT", srv.URL+"/open-apis/im/v1/chats/"+id, strings.NewReader(fmt.Sprintf(`{"name":"bench %d"}`, n.Add(1))))
					req.Header.Set("Authorization", tok)
					req.Header.Set("Content-Type", "application/json; charset=utf-8")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("HTTP %d", resp.StatusCode)
					}
				}
			})
			b.StopTimer() // ns/op is the updates'; events/s counts until the last delivery
			if subscribed {
				got.waitLong(b, before+b.N, time.Minute)
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			}
		})
	}
}
