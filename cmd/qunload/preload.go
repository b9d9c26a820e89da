package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
)

// The preloaded chats: in the demo's Feishu tenant, created by its app,
// the demo bot and one user (owner) in each, with IDs qunload can
// recompute (preloadChatID), so that the load needs no listing first.
const (
	preloadTenant = "736588c9260f175e"
	preloadApp    = "cli_a10fbf7e94b8d01d"
	preloadBatch  = 10000
)

// preloadChatID is the chat_id of the i-th preloaded chat.
func preloadChatID(i int) string { return fmt.Sprintf("oc_%032x", i+1) }

// preload builds a data directory with the demo directory and n chats of
// two members each, writing in large transactions (a growth benchmark
// needs a million chats in minutes, not the hours the API would take).
func preload(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qunload preload", flag.ContinueOnError)
	data := fs.String("data", "", "data directory to fill (qun serve --data); must not exist")
	n := fs.Int("chats", 10000, "how many chats")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("preload: -data is required")
	}
	if _, err := os.Stat(*data); err == nil {
		return fmt.Errorf("preload: %s exists", *data)
	}
	ctx := context.Background()
	start := time.Now()
	db, err := sqlite.Open(ctx, filepath.Join(*data, "qun.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	svc := qun.NewService(db)
	d, raw, err := fixtures.Load("")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if _, _, err := svc.Bootstrap(ctx, d, hex.EncodeToString(sum[:])); err != nil {
		return err
	}
	var (
		tenant qun.Tenant
		app    qun.App
		users  []qun.User
	)
	err = db.View(ctx, func(tx qun.Tx) error {
		if tenant, err = tx.TenantByKey(qun.Feishu, preloadTenant); err != nil {
			return err
		}
		if app, err = tx.AppByKey(qun.Feishu, tenant.ID, preloadApp); err != nil {
			return err
		}
		all, err := tx.Users(qun.Feishu, tenant.ID)
		for _, u := range all {
			if u.Status == qun.Active {
				users = append(users, u)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	base := time.Now().Add(-time.Duration(*n) * time.Second).Truncate(time.Millisecond)
	for from := 0; from < *n; from += preloadBatch {
		err := db.Update(ctx, func(tx qun.Tx) error {
			for i := from; i < min(from+preloadBatch, *n); i++ {
				at := base.Add(time.Duration(i) * time.Second)
				owner := users[i%len(users)]
				c := qun.Chat{
					ChatID: preloadChatID(i), Class: qun.Internal, Platform: qun.Feishu, TenantID: tenant.ID,
					CreatorApp: app.ID, OwnerUser: owner.ID,
					Name:     fmt.Sprintf("项目%d组 weekly %d", i%1000, i),
					Settings: qun.DefaultSettings(), Status: qun.Normal, CreatedAt: at, UpdatedAt: at,
				}
				if err := tx.CreateChat(&c); err != nil {
					return err
				}
				if _, err := tx.AddMember(qun.Member{Chat: c.ID, User: owner.ID, Role: qun.RoleOwner, JoinedAt: at}); err != nil {
					return err
				}
				if _, err := tx.AddMember(qun.Member{Chat: c.ID, App: app.ID, Role: qun.RoleMember, JoinedAt: at}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	size := int64(0)
	filepath.Walk(*data, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	fmt.Fprintf(out, "preloaded %d chats (%d members) into %s in %s; %d bytes on disk, %d bytes a chat\n",
		*n, 2**n, *data, time.Since(start).Round(time.Millisecond), size, size/int64(max(1, *n)))
	return nil
}
