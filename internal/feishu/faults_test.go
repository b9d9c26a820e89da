package feishu_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
	// The client sees the connection close before the node journals the
	// call: wait for it.
	for start := time.Now(); verify(t, srv, map[string]any{"code": "dropped"}) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the dropped call was never journaled")
		}
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

// TestDeliveryFaults: delivery rules on a request URL push an event twice
// (the same event_id), drop a push (retried on Feishu's schedule), and
// close the app's long connections; each is in the delivery journal.
func TestDeliveryFaults(t *testing.T) {
	clock := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithClock(clock.Now))
	var mu sync.Mutex
	seen := map[string]int{}
	got := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			Challenge, Type string
			Header          struct {
				EventID string `json:"event_id"`
			}
		}
		json.NewDecoder(r.Body).Decode(&e)
		if e.Type == "url_verification" {
			json.NewEncoder(w).Encode(map[string]string{"challenge": e.Challenge})
			return
		}
		mu.Lock()
		seen[e.Header.EventID]++
		mu.Unlock()
		got <- e.Header.EventID
	}))
	defer hook.Close()
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+helperApp, map[string]any{"events": map[string]any{"mode": "webhook", "url": hook.URL}}, nil); err != nil {
		t.Fatal(err)
	}
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Deliveries").Build())
	addMembers(t, cli, id, "app_id", -1, helperApp)
	<-got // the helper's bot.added
	fault(t, srv, map[string]any{"app": helperApp, "delivery": "duplicate", "event_type": "im.chat.member.user.added_v1", "times": 1})
	addMembers(t, cli, id, "user_id", -1, "lisi")
	first, second := <-got, <-got
	if first != second {
		t.Errorf("a duplicated push came as %s and %s", first, second)
	}
	// A delayed push arrives, late.
	fault(t, srv, map[string]any{"app": helperApp, "delivery": "delay", "latency_ms": 400, "times": 1})
	sent := time.Now()
	addMembers(t, cli, id, "user_id", -1, "user002")
	<-got
	if late := time.Since(sent); late < 400*time.Millisecond {
		t.Errorf("a delayed push came after %v", late)
	}
	fault(t, srv, map[string]any{"app": helperApp, "delivery": "drop", "times": 1})
	addMembers(t, cli, id, "user_id", -1, "user001")
	select {
	case e := <-got:
		t.Fatalf("a dropped push arrived: %s", e)
	case <-time.After(300 * time.Millisecond):
	}
	clock.Advance(15 * time.Second)
	retried := <-got
	var j struct {
		Events []struct {
			EventID  string `json:"event_id"`
			Attempts []struct{ Status, Answer string }
		}
	}
	// Attempts are journaled in batches, after the answer: wait for both.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id+"&app="+helperApp+"&platform=feishu", nil, &j); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, e := range j.Events {
			if (e.EventID == retried || e.EventID == first) && len(e.Attempts) == 2 {
				done++
			}
		}
		if done == 2 || time.Since(start) > 5*time.Second {
			break
		}
	}
	for _, e := range j.Events {
		if e.EventID == retried && (len(e.Attempts) != 2 || e.Attempts[0].Status != "dropped" || e.Attempts[1].Status != "200") {
			t.Errorf("the dropped event's attempts: %+v", e.Attempts)
		}
		if e.EventID == first && (len(e.Attempts) != 2 || !strings.Contains(e.Attempts[0].Answer, "duplicate")) {
			t.Errorf("the duplicated event's attempts: %+v", e.Attempts)
		}
	}
	if seen[first] != 2 || seen[retried] != 1 {
		t.Errorf("pushes per event: %v", seen)
	}
	for _, bad := range []map[string]any{{"delivery": "explode"}, {"delivery": "delay"}, {"delivery": "drop", "error": "rate_limited"}} {
		bad["platform"] = "feishu"
		if err := srv.Admin("POST", "/admin/v1/faults", bad, nil); err == nil {
			t.Errorf("rule %v was accepted", bad)
		}
	}
}

// TestSilenceFault: with a silence rule for the app, its long
// connection's ping frames get no pong; removed, they do again.
func TestSilenceFault(t *testing.T) {
	srv := quntest.NewServer(t)
	resp, err := http.Post(srv.URL+"/callback/ws/endpoint", "application/json", strings.NewReader(`{"AppID":"`+appID+`","AppSecret":"`+appSecret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Data struct{ URL string } }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	conn, _, err := websocket.DefaultDialer.Dial(out.Data.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pongs := make(chan []byte, 4)
	go func() {
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			pongs <- msg
		}
	}()
	// A ping frame: service 1, method 0 (control), header type=ping.
	ping := []byte{0x08, 0x01, 0x10, 0x01, 0x18, 0x01, 0x20, 0x00, 0x2a, 0x0c, 0x0a, 0x04, 't', 'y', 'p', 'e', 0x12, 0x04, 'p', 'i', 'n', 'g'}
	send := func(want bool) {
		t.Helper()
		if err := conn.WriteMessage(websocket.BinaryMessage, ping); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-pongs:
			if !want || !bytes.Contains(p, []byte("pong")) {
				t.Errorf("answer %q (want a pong: %v)", p, want)
			}
		case <-time.After(700 * time.Millisecond):
			if want {
				t.Error("no pong")
			}
		}
	}
	send(true)
	id := fault(t, srv, map[string]any{"app": appID, "delivery": "silence"})
	send(false)
	if err := srv.Admin("DELETE", "/admin/v1/faults/"+id, nil, nil); err != nil {
		t.Fatal(err)
	}
	send(true)
}
