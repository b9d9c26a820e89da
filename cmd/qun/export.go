package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/server"
	"github.com/qunhq/qun/internal/stores"
)

// export writes a snapshot to stdout: from a running node through its
// admin API (--url, --admin-token), or from a stopped node's store
// (--data, --db).
func export(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("qun export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "a running node, e.g. http://127.0.0.1:8080 (GET /admin/v1/snapshot)")
	token := fs.String("admin-token", getenv("QUN_ADMIN_TOKEN"), "the node's admin token, with --url (env QUN_ADMIN_TOKEN)")
	data := fs.String("data", "", "a stopped node's SQLite data directory")
	db := fs.String("db", "", "a postgres:// URL of a deployment's database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *url != "" && (*data != "" || *db != ""):
		return fmt.Errorf("export: give --url, or --data or --db, not both")
	case *url != "":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(*url, "/")+"/admin/v1/snapshot", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+*token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			return fmt.Errorf("export: %s: %s", resp.Status, b)
		}
		_, err = io.Copy(stdout, resp.Body)
		return err
	case *data == "" && *db == "":
		return fmt.Errorf("export: give --url (a running node) or --data / --db (a stopped one's store)")
	}
	if *data != "" {
		if _, err := os.Stat(*data); err != nil {
			return fmt.Errorf("export: --data: %w", err)
		}
	}
	store, err := stores.Open(ctx, *db, *data)
	if err != nil {
		return err
	}
	defer store.Close()
	snap, err := qun.NewService(store).Export(ctx)
	if err != nil {
		return err
	}
	return server.WriteSnapshot(stdout, snap)
}
