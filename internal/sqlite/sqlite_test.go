package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
	"github.com/qunhq/qun/internal/storetest"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) qun.Store {
		return open(t, filepath.Join(t.TempDir(), "qun.db"))
	})
}

// TestReopen writes, closes and reopens the database: what was committed is
// there, and migrations do not run twice.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "qun.db")
	db := open(t, path)
	tenant := qun.Tenant{Platform: qun.Feishu, Key: "k", Name: "Kept"}
	chat := qun.Chat{ChatID: "oc_kept", Platform: qun.Feishu, Name: "Kept chat", Status: qun.Normal, Settings: qun.DefaultSettings(), CreatedAt: time.Now()}
	err := db.Update(ctx, func(tx qun.Tx) error {
		if err := tx.CreateTenant(&tenant); err != nil {
			return err
		}
		chat.TenantID = tenant.ID
		return tx.CreateChat(&chat)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	defer db.Close()
	err = db.View(ctx, func(tx qun.Tx) error {
		c, err := tx.ChatByChatID("oc_kept")
		if err != nil {
			return err
		}
		if c.Name != "Kept chat" || c.TenantID != tenant.ID {
			t.Errorf("reopened chat = %+v", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
