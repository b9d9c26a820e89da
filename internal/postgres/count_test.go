package postgres_test

import (
	"sync/atomic"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/storetest"
	"github.com/qunhq/qun/quntest"
)

// TestRoundTrips counts the round trips to PostgreSQL of one request (the
// statements, each transaction's BEGIN and ExpectMeta comparisons sent with its first, its COMMIT or
// ROLLBACK, the directory version read outside a transaction), the figure
// BENCHMARKS.md gives, and holds the line.
func TestRoundTrips(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	w := storetest.NewWorkload(t, srv.URL)
	tok := w.Str(w.Call("POST", "/open-apis/auth/v3/tenant_access_token/internal", nil, `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`), "tenant_access_token")
	fs := map[string]string{"Authorization": "Bearer " + tok}
	body := `{"name":"counted","owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs","user_id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`
	w.Call("POST", "/open-apis/im/v1/chats", fs, body) // warms the caches, as a running node has them
	var n atomic.Int64
	count := func(name string, budget int64, fn func()) {
		t.Helper()
		n.Store(0)
		postgres.SetTrace(func(string, []any) { n.Add(1) })
		fn()
		postgres.SetTrace(nil)
		t.Logf("%s: %d round trips", name, n.Load())
		if got := n.Load(); got > budget {
			t.Errorf("%s takes %d round trips, over its budget of %d", name, got, budget)
		}
	}
	var chat string
	count("Feishu create", 2, func() {
		chat = w.Str(w.Obj(w.Call("POST", "/open-apis/im/v1/chats", fs, body), "data"), "chat_id")
	})
	if chat == "" {
		t.Fatal("the create failed")
	}
	count("Feishu get chat", 6, func() { w.Call("GET", "/open-apis/im/v1/chats/"+chat, fs, "") })
}
