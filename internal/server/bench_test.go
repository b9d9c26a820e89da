package server_test

import (
	"fmt"
	"testing"

	"github.com/qunhq/qun/quntest"
)

// BenchmarkAdminUsers adds users through the admin API: one request per
// user, and batches of 1,000 in one request (one transaction). Each
// reports users/s; the directory grows as the benchmark runs, so the
// single figure also shows whether an add costs more as users accumulate.
func BenchmarkAdminUsers(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		srv := quntest.NewServer(b)
		b.ResetTimer()
		for i := range b.N {
			u := map[string]any{"platform": "feishu", "tenant": "736588c9260f175e", "user_id": fmt.Sprintf("s%07d", i)}
			if err := srv.Admin("POST", "/admin/v1/users", u, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
	})
	b.Run("batch1000", func(b *testing.B) {
		srv := quntest.NewServer(b)
		b.ResetTimer()
		for i := range b.N {
			users := make([]map[string]any, 1000)
			for j := range users {
				users[j] = map[string]any{"platform": "feishu", "tenant": "736588c9260f175e", "user_id": fmt.Sprintf("b%04d-%04d", i, j)}
			}
			if err := srv.Admin("POST", "/admin/v1/users/batch", map[string]any{"users": users}, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "users/s")
	})
}

// BenchmarkJournal measures what the request journal costs a call: the
// same Feishu GET chat on a node that journals (the default, 1000 calls)
// and on one started with --journal 0, side by side.
func BenchmarkJournal(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"off", 0}, {"on", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			srv := quntest.NewServer(b, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery(), quntest.WithJournal(c.size))
			tok := tenantToken(b, srv)
			created := feishuPost(b, srv, tok, "/open-apis/im/v1/chats", `{"name":"bench"}`)
			path := "/open-apis/im/v1/chats/" + created["data"].(map[string]any)["chat_id"].(string)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := feishuCode(b, srv, tok, "GET", path); code != 0 {
						b.Errorf("code %d", code)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
