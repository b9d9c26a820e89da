package qun_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
)

// hookStore runs before once, just before the next Update: a change
// committed between a create's read of the directory and its update.
type hookStore struct {
	qun.Store
	once   sync.Once
	before func()
}

func (h *hookStore) Update(ctx context.Context, fn func(qun.Tx) error) error {
	if h.before != nil {
		h.once.Do(h.before)
	}
	return h.Store.Update(ctx, fn)
}

// TestCreateSeesDirectoryChanges: a create resolves its users before its
// update, and a directory change committed in between is not missed: the
// update resolves again and applies the rules to what is there now.
func TestCreateSeesDirectoryChanges(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "qun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &hookStore{Store: db}
	svc := qun.NewService(store)
	d, _, err := fixtures.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.LoadDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.IssueToken(ctx, qun.TokenRequest{Kind: qun.TenantToken, Platform: qun.Feishu, AppKey: "cli_a10fbf7e94b8d01d", Secret: "demo-feishu-secret", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	actor, err := svc.Authenticate(ctx, tok.Value, qun.TenantToken)
	if err != nil {
		t.Fatal(err)
	}
	in := qun.NewChat{Name: "g", Settings: qun.DefaultSettings(), Users: []qun.Ref{{Kind: qun.UserID, Value: "lisi"}}}
	// lisi resigns after the create read the directory, before its update.
	direct := qun.NewService(db) // another node, say: not through the hook
	store.before = func() {
		if _, err := direct.SetUserStatus(ctx, qun.UserRef{Platform: qun.Feishu, Tenant: "736588c9260f175e", UserID: "lisi"}, qun.Resigned); err != nil {
			t.Error(err)
		}
	}
	_, err = svc.CreateChat(ctx, actor, in)
	if qun.ErrorReason(err) != qun.ReasonUserResigned {
		t.Fatalf("create with a user who resigned meanwhile: %v, want %s", err, qun.ReasonUserResigned)
	}
	// Without a change in between, the read is used as is.
	in.Users = []qun.Ref{{Kind: qun.UserID, Value: "zhangsan"}}
	if _, err := svc.CreateChat(ctx, actor, in); err != nil {
		t.Fatal(err)
	}
}
