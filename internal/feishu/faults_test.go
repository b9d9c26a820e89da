package feishu_test

import (
	"testing"

	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

func fault(t *testing.T, srv *quntest.Server, rule map[string]any) string {
	t.Helper()
	rule["platform"] = "feishu"
	var out struct{ ID string }
	if err := srv.Admin("POST", "/admin/v1/faults", rule, &out); err != nil || out.ID == "" {
		t.Fatalf("add fault %v: %v", rule, err)
	}
	return out.ID
}

func verify(t *testing.T, srv *quntest.Server, filter map[string]any) int {
	t.Helper()
	var out struct{ Count int }
	if err := srv.Admin("POST", "/admin/v1/journal/verify", filter, &out); err != nil {
		t.Fatal(err)
	}
	return out.Count
}

// TestFaults: the official SDK sees injected faults as Feishu's own
// errors: a rate limit (429, 99991400, x-ogw-ratelimit headers) for the
// next call only, an invalid token it renews and retries once, a custom
// code, a rule for another app that leaves this one alone, added
// latency, and a dropped connection; each injected answer is journaled.
func TestFaults(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	cli := client(srv, appID)
	create := func() (*larkim.CreateChatResp, error) {
		return cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Name("Faulty").Build()).Build())
	}
	mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("warm the token").Build())
	fault(t, srv, map[string]any{"app": appID, "method": "POST", "path": "/open-apis/im/v1/chats", "times": 1, "error": "rate_limited"})
	r, err := create()
	if err != nil || r.Code != 99991400 || r.StatusCode != 429 || r.Header.Get("x-ogw-ratelimit-reset") == "" {
		t.Fatalf("an injected rate limit: %v %+v", err, r)
	}
	if r, err := create(); err != nil || !r.Success() {
		t.Fatalf("the next call: %v %+v", err, r)
	}
	// 99991663: the SDK fetches a token again and retries, and succeeds.
	fault(t, srv, map[string]any{"path": "/open-apis/im/v1/chats", "method": "POST", "times": 1, "error": "token_invalid"})
	if r, err := create(); err != nil || !r.Success() {
		t.Fatalf("after an injected 99991663: %v %+v", err, r)
	}
	yes := true
	if n, injected := verify(t, srv, map[string]any{"path": "/open-apis/im/v1/chats", "method": "POST"}), verify(t, srv, map[string]any{"injected": yes}); n != 5 || injected != 2 {
		t.Errorf("journal: %d creates, %d injected; want 5 and 2 (the retry of the 99991663 is a call of its own)", n, injected)
	}
	// A custom code, for another app only.
	id := fault(t, srv, map[string]any{"app": helperApp, "path": "/open-apis/im/v1/chats*", "error": "custom", "status": 400, "code": "232019", "message": "The request has timed out."})
	if r, err := create(); err != nil || !r.Success() {
		t.Errorf("a rule for another app failed this one: %v %+v", err, r)
	}
	h, err := client(srv, helperApp).Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build())
	if err != nil || h.Code != 232019 || h.Msg != "The request has timed out." {
		t.Errorf("the other app's custom fault: %v %+v", err, h)
	}
	if err := srv.Admin("DELETE", "/admin/v1/faults/"+id, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Latency, then the normal answer.
	fault(t, srv, map[string]any{"path": "/open-apis/im/v1/chats", "method": "GET", "times": 1, "latency_ms": 300})
	if r, err := cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build()); err != nil || !r.Success() {
		t.Fatalf("a slow list: %v %+v", err, r)
	}
	var j struct {
		Entries []struct {
			LatencyMS float64 `json:"latency_ms"`
		}
	}
	if err := srv.Admin("GET", "/admin/v1/journal?path=/open-apis/im/v1/chats&method=GET&injected=true&app="+appID, nil, &j); err != nil || len(j.Entries) != 1 || j.Entries[0].LatencyMS < 300 {
		t.Errorf("the slow call's journal: %v %+v", err, j)
	}
	// A dropped connection is a transport error to the SDK (a POST: Go's
	// client sends an idempotent GET again on a new connection).
	fault(t, srv, map[string]any{"path": "/open-apis/im/v1/chats", "method": "POST", "times": 1, "drop": true})
	if _, err := create(); err == nil {
		t.Error("a dropped call succeeded")
	}
	if n := verify(t, srv, map[string]any{"code": "dropped", "status": 0}); n != 1 {
		t.Errorf("dropped calls journaled: %d", n)
	}
	var left struct{ Faults []any }
	if err := srv.Admin("GET", "/admin/v1/faults", nil, &left); err != nil || len(left.Faults) != 0 {
		t.Errorf("rules of N calls are used up: %v %+v", err, left)
	}
	for _, bad := range []map[string]any{{"error": "nope"}, {}, {"error": "custom"}, {"error": "rate_limited", "probability": 2}} {
		bad["platform"] = "feishu"
		if err := srv.Admin("POST", "/admin/v1/faults", bad, nil); err == nil {
			t.Errorf("rule %v was accepted", bad)
		}
	}
}
