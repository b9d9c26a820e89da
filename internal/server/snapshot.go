package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// Snapshots through the admin API (GET exports, POST restores) and the
// command line (qun export, serve --import and --export-on-exit).

// WriteSnapshot writes a snapshot as its document: JSON, indented, keys
// in a fixed order, no HTML escaping, so equal states write equal bytes.
func WriteSnapshot(w io.Writer, snap qun.Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(snap)
}

// ReadSnapshot reads a snapshot document.
func ReadSnapshot(r io.Reader) (qun.Snapshot, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return qun.Snapshot{}, err
	}
	var snap qun.Snapshot
	if err := httpx.UnmarshalKnown(raw, &snap); err != nil {
		return qun.Snapshot{}, fmt.Errorf("not a qun snapshot: %w", err)
	}
	return snap, nil
}

// Restore replaces the node's (the deployment's) state with a snapshot.
func (s *Server) Restore(ctx context.Context, snap qun.Snapshot) error {
	return s.svc.Restore(ctx, snap)
}

// ExportFile writes the node's state to path.
func (s *Server) ExportFile(ctx context.Context, path string) error {
	snap, err := s.svc.Export(ctx)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, snap); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func (s *Server) adminExport(w http.ResponseWriter, r *http.Request) {
	snap, err := s.svc.Export(r.Context())
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", adminJSON)
	w.Header().Set("Content-Disposition", `attachment; filename="qun-snapshot.json"`)
	WriteSnapshot(w, snap)
}

// adminRestore replaces the whole state with the snapshot in the body.
func (s *Server) adminRestore(r *http.Request) (any, error) {
	raw, err := httpx.ReadBody(nil, r, maxSnapshotBody)
	if err != nil {
		return nil, badRequest{"snapshot: " + err.Error()}
	}
	snap, err := ReadSnapshot(bytes.NewReader(raw))
	if err != nil {
		return nil, badRequest{err.Error()}
	}
	if err := s.svc.Restore(r.Context(), snap); err != nil {
		return nil, err
	}
	n := 0
	for _, t := range snap.Tenants {
		n += len(t.Users)
	}
	return map[string]int{"tenants": len(snap.Tenants), "users": n, "chats": len(snap.Chats)}, nil
}

// maxSnapshotBody bounds a snapshot sent to the admin API.
const maxSnapshotBody = 256 << 20
