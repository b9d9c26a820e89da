package sqlite_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/sqlite"
	"github.com/qunhq/qun/internal/storetest"
	"github.com/qunhq/qun/quntest"
)

// TestStatementCounts counts the statements one operation issues, the
// figure BENCHMARKS.md tracks (SQLite parses and steps each one; a network
// store pays a round trip for each), and holds the line: an operation that
// grows past its budget fails here.
func TestStatementCounts(t *testing.T) {
	t.Setenv(pgtest.Env, "") // the node must run on SQLite, whatever the run is for
	var n atomic.Int64
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	w := storetest.NewWorkload(t, srv.URL)
	tok := w.Str(w.Call("POST", "/open-apis/auth/v3/tenant_access_token/internal", nil, `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`), "tenant_access_token")
	fs := map[string]string{"Authorization": "Bearer " + tok}
	users := func(from, count int) string {
		var ids []string
		for i := from; i < from+count; i++ {
			ids = append(ids, fmt.Sprintf(`"user%03d"`, i))
		}
		return strings.Join(ids, ",")
	}
	count := func(name string, budget int64, fn func()) {
		t.Helper()
		n.Store(0)
		sqlite.SetTrace(func(q string, _ []any) {
			n.Add(1)
			if testing.Verbose() {
				t.Logf("  %s", oneLine(q)[:min(110, len(oneLine(q)))])
			}
		})
		fn()
		sqlite.SetTrace(nil)
		got := n.Load()
		t.Logf("%s: %d statements", name, got)
		if got > budget {
			t.Errorf("%s issues %d statements, over its budget of %d", name, got, budget)
		}
	}
	var chat string
	count("Feishu create with 50 users", 8, func() {
		m := w.Call("POST", "/open-apis/im/v1/chats?user_id_type=user_id", fs, `{"name":"counted","user_id_list":[`+users(1, 50)+`]}`)
		if chat = w.Str(w.Obj(m, "data"), "chat_id"); chat == "" {
			t.Fatalf("create: %v", m)
		}
	})
	// Adding members tells the bots in the chat (the demo apps subscribe
	// to every event): who subscribed (one meta read, the apps cached),
	// which of them are in the chat, the users named, the tenant, and the
	// outbox row make five statements of the 20.
	count("Feishu add 10 members", 20, func() {
		if m := w.Call("POST", "/open-apis/im/v1/chats/"+chat+"/members?member_id_type=user_id", fs, `{"id_list":[`+users(51, 10)+`]}`); m["code"] != float64(0) {
			t.Fatalf("add members: %v", m)
		}
	})
	count("Feishu get chat", 3, func() { w.Call("GET", "/open-apis/im/v1/chats/"+chat, fs, "") })
	for i := range 99 {
		w.Call("POST", "/open-apis/im/v1/chats?user_id_type=user_id", fs, fmt.Sprintf(`{"name":"c%d","owner_id":"user%03d"}`, i, 1+i%50))
	}
	count("Feishu list 100 chats", 8, func() {
		if m := w.Call("GET", "/open-apis/im/v1/chats?page_size=100", fs, ""); len(w.Obj(m, "data")["items"].([]any)) != 100 {
			t.Fatalf("list: %v", m)
		}
	})
}
