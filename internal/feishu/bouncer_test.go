package feishu_test

import (
	"sync"
	"testing"

	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/quntest"
)

// TestThroughPgbouncer: qun on PostgreSQL behind pgbouncer 1.18 in
// transaction mode (no prepared statements kept, a server connection per
// transaction), selected by the DSN parameter default_query_exec_mode=exec:
// the SDK's create, get, member add and update work, and ten concurrent
// creates with one uuid make one chat.
func TestThroughPgbouncer(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	srv := quntest.NewServer(t, quntest.WithDatabase(pgtest.Bouncer(t)), quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Bounced").OwnerId(ownerOpenID).Build())
	if r := getChat(t, cli, id, "open_id"); !r.Success() || *r.Data.Name != "Bounced" {
		t.Fatalf("get: %d %s", r.Code, r.Msg)
	}
	if r := addMembers(t, cli, id, "open_id", -1, openID(t, srv, demoTenant, "lisi", appID)); !r.Success() {
		t.Errorf("add a member: %d %s", r.Code, r.Msg)
	}
	upd, err := cli.Im.V1.Chat.Update(ctx, larkim.NewUpdateChatReqBuilder().ChatId(id).Body(larkim.NewUpdateChatReqBodyBuilder().Name("Bounced again").Build()).Build())
	if err != nil || !upd.Success() {
		t.Errorf("update: %v %+v", err, upd)
	}
	if r := getChat(t, cli, id, "open_id"); *r.Data.Name != "Bounced again" || *r.Data.UserCount != "2" {
		t.Errorf("after the update: %+v", r.Data)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := create(t, srv, appID, larkim.NewCreateChatReqBuilder().Uuid("through-pgbouncer").Body(larkim.NewCreateChatReqBodyBuilder().Name("Once").Build()).Build())
			mu.Lock()
			defer mu.Unlock()
			if !r.Success() {
				t.Errorf("create: %d %s", r.Code, r.Msg)
				return
			}
			ids[*r.Data.ChatId] = true
		}()
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Errorf("ten creates with one uuid made %d chats", len(ids))
	}
}
