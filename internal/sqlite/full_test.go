package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/qunhq/qun/internal/sqlite"
)

// TestOpenOnFullDisk: opening a database on a full disk says the disk is
// full. It mounts a 64 KiB tmpfs, which needs root (CI runs as root).
func TestOpenOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("mounting a tmpfs needs root: %v", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, 0)
	if err := os.WriteFile(filepath.Join(dir, "fill"), make([]byte, 60<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "qun.db"))
	if err == nil {
		db.Close()
		t.Fatal("opened a database on a full disk")
	}
	if !errors.Is(err, sqlite.ErrDiskFull) || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("error %q does not say the disk is full", err)
	}
}
