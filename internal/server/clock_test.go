package server_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/quntest"
)

type clockAnswer struct {
	Now      time.Time
	UnixMS   int64 `json:"unix_ms"`
	Frozen   bool
	OffsetMS int64 `json:"offset_ms"`
}

// twoNodes starts two nodes on one store: a PostgreSQL schema when the
// run has one, else one SQLite data directory.
func twoNodes(t *testing.T, opts ...quntest.Option) (*quntest.Server, *quntest.Server) {
	t.Helper()
	if pgtest.URL() != "" {
		db := pgtest.Schema(t)
		return quntest.NewServer(t, append(opts, quntest.WithDatabase(db))...), quntest.NewServer(t, append(opts, quntest.WithDatabase(db))...)
	}
	dir := filepath.Join(t.TempDir(), "shared")
	return quntest.NewServer(t, append(opts, quntest.WithDataDir(dir))...), quntest.NewServer(t, append(opts, quntest.WithDataDir(dir))...)
}

// TestClock: the admin API freezes, advances and resets the time of the
// whole deployment: set through node A, node B creates chats at that
// time and refuses a token the advance expired; reset goes back to the
// real time.
func TestClock(t *testing.T) {
	a, b := twoNodes(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	var c clockAnswer
	if err := a.Admin("GET", "/admin/v1/clock", nil, &c); err != nil || c.Frozen || c.OffsetMS != 0 || time.Since(c.Now) > time.Minute {
		t.Fatalf("the real clock: %v %+v", err, c)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := a.Admin("POST", "/admin/v1/clock/freeze", map[string]any{"at": at}, &c); err != nil || !c.Frozen || !c.Now.Equal(at) || c.UnixMS != at.UnixMilli() {
		t.Fatalf("freeze: %v %+v", err, c)
	}
	// Node B, on its next call, is in 2030 too.
	created := feishuCall(t, b, "POST", "/open-apis/im/v1/chats", `{"name":"Frozen"}`)
	id := created["data"].(map[string]any)["chat_id"].(string)
	var chat struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := b.Admin("GET", "/admin/v1/chats/"+id, nil, &chat); err != nil || !chat.CreatedAt.Equal(at) {
		t.Fatalf("created on node B at %v (%v), want %v", chat.CreatedAt, err, at)
	}
	tok := tenantToken(t, b)
	if err := a.Admin("POST", "/admin/v1/clock/advance", map[string]any{"by": "2h1s"}, &c); err != nil || !c.Now.Equal(at.Add(2*time.Hour+time.Second)) {
		t.Fatalf("advance: %v %+v", err, c)
	}
	if code := feishuCode(t, b, tok, "GET", "/open-apis/im/v1/chats/"+id); code != 99991663 {
		t.Errorf("a token past its two hours on node B: code %d", code)
	}
	for _, bad := range []map[string]any{{"by": "-1h"}, {"by": "soon"}, {}} {
		if err := a.Admin("POST", "/admin/v1/clock/advance", bad, nil); err == nil {
			t.Errorf("advance %v was accepted", bad)
		}
	}
	if err := a.Admin("POST", "/admin/v1/clock/reset", nil, &c); err != nil || c.Frozen || c.OffsetMS != 0 || time.Since(c.Now) > time.Minute {
		t.Fatalf("reset: %v %+v", err, c)
	}
	// Unfrozen with an offset, the clock runs.
	if err := a.Admin("POST", "/admin/v1/clock/advance", map[string]any{"ms": 3_600_000}, &c); err != nil || c.Frozen || c.OffsetMS != 3_600_000 || time.Until(c.Now) < 59*time.Minute {
		t.Fatalf("advance a running clock: %v %+v", err, c)
	}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		var cb clockAnswer
		if err := b.Admin("GET", "/admin/v1/clock", nil, &cb); err != nil {
			t.Fatal(err)
		}
		if cb.OffsetMS == 3_600_000 {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("node B never saw the offset: %+v", cb)
		}
	}
}

func tenantToken(t testing.TB, srv *quntest.Server) string {
	t.Helper()
	var out struct {
		Token string `json:"tenant_access_token"`
	}
	resp, err := http.Post(srv.URL+"/open-apis/auth/v3/tenant_access_token/internal", "application/json",
		strings.NewReader(`{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&out) != nil || out.Token == "" {
		t.Fatal("no tenant_access_token")
	}
	return out.Token
}

// feishuCode calls a Feishu API with a token and returns the answer's code.
func feishuCode(t testing.TB, srv *quntest.Server, tok, method, path string) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Code int }
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Code
}

// TestFaultsAcrossNodes: a rule added through node A fails calls on node
// B at once, and a rule of two calls fails two calls in all, whichever
// node serves them.
func TestFaultsAcrossNodes(t *testing.T) {
	a, b := twoNodes(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	tok := tenantToken(t, b)
	if err := a.Admin("POST", "/admin/v1/faults", map[string]any{"platform": "feishu", "path": "/open-apis/im/v1/chats", "method": "GET", "times": 2, "error": "system_error"}, nil); err != nil {
		t.Fatal(err)
	}
	for i, srv := range []*quntest.Server{b, a, b, a} {
		want := 0
		if i < 2 {
			want = 99991000
		}
		if code := feishuCode(t, srv, tok, "GET", "/open-apis/im/v1/chats"); code != want {
			t.Errorf("call %d: code %d, want %d", i, code, want)
		}
	}
}
