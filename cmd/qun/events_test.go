package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	larkcore "github.com/larksuite/oapi-sdk-go/v3/core"
	"github.com/larksuite/oapi-sdk-go/v3/event/dispatcher"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"
	larkws "github.com/larksuite/oapi-sdk-go/v3/ws"
)

const (
	helperApp    = "cli_b20fbf7e94b8d02e"
	helperSecret = "demo-helper-secret"
)

// bot is an official long-connection client counting what it receives.
type bot struct {
	mu   sync.Mutex
	seen map[string]int // event_id → deliveries
	got  []string       // event types, in arrival order
}

// connectBot starts larkws for app against node p and waits until p holds
// the connection.
func connectBot(t *testing.T, p *proc, app, secret string) *bot {
	t.Helper()
	b := &bot{seen: map[string]int{}}
	note := func(id, typ string) error {
		b.mu.Lock()
		b.seen[id]++
		b.got = append(b.got, typ)
		b.mu.Unlock()
		return nil
	}
	d := dispatcher.NewEventDispatcher("", "").
		OnP2ChatMemberBotAddedV1(func(_ context.Context, e *larkim.P2ChatMemberBotAddedV1) error {
			return note(e.EventV2Base.Header.EventID, e.EventV2Base.Header.EventType)
		}).
		OnP2ChatMemberUserAddedV1(func(_ context.Context, e *larkim.P2ChatMemberUserAddedV1) error {
			return note(e.EventV2Base.Header.EventID, e.EventV2Base.Header.EventType)
		}).
		OnP2ChatUpdatedV1(func(_ context.Context, e *larkim.P2ChatUpdatedV1) error {
			return note(e.EventV2Base.Header.EventID, e.EventV2Base.Header.EventType)
		})
	ctx, cancel := context.WithCancel(context.Background())
	cli := larkws.NewClient(app, secret, larkws.WithEventHandler(d), larkws.WithDomain(p.URL), larkws.WithLogLevel(larkcore.LogLevelError))
	done := make(chan struct{})
	go func() { defer close(done); cli.Start(ctx) }()
	t.Cleanup(func() { cancel(); cli.Close(); <-done })
	admin := map[string]string{"Authorization": "Bearer " + clusterAdmin}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		conns := mustCall(t, "GET", p.URL+"/admin/v1/connections", admin, nil)
		list, _ := conns.body["connections"].([]any)
		for _, c := range list {
			if c.(map[string]any)["app"] == app {
				return b
			}
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%s never connected to %s", app, p.URL)
		}
	}
}

// wait waits until the bot has n deliveries.
func (b *bot) wait(t *testing.T, n int) []string {
	t.Helper()
	for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		if len(b.got) >= n {
			out := append([]string(nil), b.got...)
			b.mu.Unlock()
			return out
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t.Fatalf("the bot got %v, want %d events", b.got, n)
	return nil
}

// makeChanges creates a chat through p, adds the helper bot and lisi, and
// renames it: the helper is told three things (bot added, user added,
// updated), the creator two (user added, updated).
func makeChanges(t *testing.T, p *proc) string {
	t.Helper()
	tok := feishuToken(t, p)
	ans, err := createChat(p, tok, "events", "")
	if err != nil || ans.num("code") != 0 {
		t.Fatalf("create: %+v %v", ans, err)
	}
	id := ans.data()["chat_id"].(string)
	for _, add := range []string{`?member_id_type=app_id`, `?member_id_type=user_id`} {
		ids := `["` + helperApp + `"]`
		if strings.Contains(add, "user_id") {
			ids = `["lisi"]`
		}
		if a := mustCall(t, "POST", p.URL+"/open-apis/im/v1/chats/"+id+"/members"+add, bearer(tok), map[string]any{"id_list": jsonList(ids)}); a.num("code") != 0 {
			t.Fatalf("add members: %+v", a)
		}
	}
	if a := mustCall(t, "PUT", p.URL+"/open-apis/im/v1/chats/"+id, bearer(tok), map[string]any{"name": "renamed"}); a.num("code") != 0 {
		t.Fatalf("update: %+v", a)
	}
	return id
}

func jsonList(s string) []string {
	var out []string
	for _, v := range strings.Split(strings.Trim(s, "[]"), ",") {
		out = append(out, strings.Trim(v, `"`))
	}
	return out
}

// journalNodes returns the node of every attempt at the chat's events.
func journalNodes(t *testing.T, p *proc, chat string) (attempts map[string][]string, pending int) {
	t.Helper()
	admin := map[string]string{"Authorization": "Bearer " + clusterAdmin}
	j := mustCall(t, "GET", p.URL+"/admin/v1/events?chat_id="+chat, admin, nil)
	evs, _ := j.body["events"].([]any)
	attempts = map[string][]string{}
	for _, e := range evs {
		m := e.(map[string]any)
		if m["status"] == "pending" {
			pending++
		}
		as, _ := m["attempts"].([]any)
		for _, a := range as {
			attempts[m["app"].(string)] = append(attempts[m["app"].(string)], a.(map[string]any)["node"].(string))
		}
	}
	return attempts, pending
}

// TestEventsAcrossNodes: with two nodes on one store, a change made
// through node A is delivered once to the bot connected to node B, by B;
// the events of a bot connected nowhere wait, survive node A's SIGKILL,
// and are delivered when it connects to a restarted node.
func TestEventsAcrossNodes(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("--rate-limits", "off"), c.start("--rate-limits", "off")
	helper := connectBot(t, b, helperApp, helperSecret)
	id := makeChanges(t, a)
	got := helper.wait(t, 3)
	time.Sleep(500 * time.Millisecond)
	helper.mu.Lock()
	for ev, n := range helper.seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", ev, n)
		}
	}
	if len(helper.got) != 3 {
		t.Errorf("the helper got %v, want 3 events", helper.got)
	}
	helper.mu.Unlock()
	// An attempt is journaled after its ack: wait for the helper's three.
	nodes, pending := journalNodes(t, a, id)
	for start := time.Now(); len(nodes[helperApp]) < 3 && time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		nodes, pending = journalNodes(t, a, id)
	}
	bNode := "/" + strconv.Itoa(b.cmd.Process.Pid)
	for _, n := range nodes[helperApp] {
		if !strings.HasSuffix(n, bNode) {
			t.Errorf("the helper's event was delivered by node %s, not B (%s)", n, bNode)
		}
	}
	if len(nodes[helperApp]) != 3 || pending != 2 {
		t.Fatalf("journal: %v, %d pending (want 3 attempts by B, the creator's 2 waiting); got %v", nodes, pending, got)
	}

	// The creator's events are committed and undelivered: kill -9 A.
	a.kill()
	a2 := c.start("--rate-limits", "off")
	mine := connectBot(t, a2, feishuApp, feishuSecret)
	if got := mine.wait(t, 2); len(got) != 2 {
		t.Errorf("after the crash the creator got %v", got)
	}
	_, pending = journalNodes(t, a2, id)
	for start := time.Now(); pending != 0 && time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		_, pending = journalNodes(t, a2, id)
	}
	if pending != 0 {
		t.Errorf("%d events still pending", pending)
	}
}

// TestEventsSurviveCrash: on the embedded store too, events committed but
// not delivered survive a SIGKILL of the node.
func TestEventsSurviveCrash(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := spawn(t, "--data", data, "--rate-limits", "off")
	id := makeChanges(t, p)
	if _, pending := journalNodes(t, p, id); pending != 5 {
		t.Fatalf("%d events pending before the crash, want 5 (nobody is connected)", pending)
	}
	p.kill()
	p2 := spawn(t, "--data", data, "--rate-limits", "off")
	helper := connectBot(t, p2, helperApp, helperSecret)
	mine := connectBot(t, p2, feishuApp, feishuSecret)
	h, m := helper.wait(t, 3), mine.wait(t, 2)
	if fmt.Sprint(len(h), len(m)) != "3 2" {
		t.Errorf("after the crash: helper %v, creator %v", h, m)
	}
}
