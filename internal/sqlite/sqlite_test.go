package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
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

// TestPanickingUpdate: an update that panics fails alone; the store keeps
// serving.
func TestPanickingUpdate(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "qun.db"))
	defer db.Close()
	err := db.Update(ctx, func(tx qun.Tx) error {
		tn := qun.Tenant{Platform: qun.Feishu, Key: "p"}
		if err := tx.CreateTenant(&tn); err != nil {
			return err
		}
		panic("boom")
	})
	if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Fatalf("Update = %v, want the panic as an error", err)
	}
	err = db.Update(ctx, func(tx qun.Tx) error {
		tn := qun.Tenant{Platform: qun.Feishu, Key: "p"}
		return tx.CreateTenant(&tn)
	})
	if err != nil {
		t.Fatalf("update after a panic: %v (the panicking one must have rolled back)", err)
	}
}

// TestCancelledUpdate: an update whose context ends before it runs does
// not run.
func TestCancelledUpdate(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "qun.db"))
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := db.Update(ctx, func(qun.Tx) error { ran = true; return nil })
	if err == nil || ran {
		t.Errorf("cancelled update: err %v, ran %v", err, ran)
	}
}

// TestUpdateAfterClose fails cleanly.
func TestUpdateAfterClose(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "qun.db"))
	db.Close()
	if err := db.Update(context.Background(), func(qun.Tx) error { return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
}
