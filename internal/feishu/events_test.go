package feishu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	larkcore "github.com/larksuite/oapi-sdk-go/v3/core"
	"github.com/larksuite/oapi-sdk-go/v3/core/httpserverext"
	larkevent "github.com/larksuite/oapi-sdk-go/v3/event"
	"github.com/larksuite/oapi-sdk-go/v3/event/dispatcher"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"
	larkws "github.com/larksuite/oapi-sdk-go/v3/ws"

	"github.com/gorilla/websocket"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

// received is what a bot's dispatcher handed its handlers, one line per
// event: "<type> <chat_id> operator=<open_id> …".
type received struct {
	mu      sync.Mutex
	lines   []string
	headers []larkevent.EventHeader
	notify  chan struct{}
	// fail makes the handlers fail this many times more.
	fail int
}

func newReceived() *received { return &received{notify: make(chan struct{}, 256)} }

func (r *received) add(h *larkevent.EventHeader, line string) error {
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.headers = append(r.headers, *h)
	failing := r.fail > 0
	if failing {
		r.fail--
	}
	r.mu.Unlock()
	r.notify <- struct{}{}
	if failing {
		return fmt.Errorf("the handler fails on purpose")
	}
	return nil
}

// wait returns the lines once there are n, or fails.
func (r *received) wait(t testing.TB, n int) []string {
	t.Helper()
	return r.waitLong(t, n, 10*time.Second)
}

// waitLong is wait with a deadline of d.
func (r *received) waitLong(t testing.TB, n int, d time.Duration) []string {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		if len(r.lines) >= n {
			out := append([]string(nil), r.lines...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("got %d events, want %d: %q", len(r.lines), n, r.lines)
		}
	}
}

// quiet fails if more than n events arrive within a while.
func (r *received) quiet(t *testing.T, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) > n {
		t.Errorf("got %d events, want %d: %q", len(r.lines), n, r.lines[n:])
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func opID(id *larkim.UserId) string {
	if id == nil {
		return "<nil>"
	}
	return deref(id.OpenId)
}

func usersOf(us []*larkim.ChatMemberUser) string {
	var out []string
	for _, u := range us {
		out = append(out, opID(u.UserId)+"/"+deref(u.Name)+"/"+deref(u.TenantKey))
	}
	return strings.Join(out, ",")
}

// recorder returns an official dispatcher that writes every chat event
// it routes to r.
func recorder(r *received, token, key string) *dispatcher.EventDispatcher {
	return dispatcher.NewEventDispatcher(token, key).
		OnP2ChatMemberBotAddedV1(func(_ context.Context, e *larkim.P2ChatMemberBotAddedV1) error {
			return r.add(e.EventV2Base.Header, fmt.Sprintf("%s %s operator=%s name=%s", e.EventV2Base.Header.EventType, deref(e.Event.ChatId), opID(e.Event.OperatorId), deref(e.Event.Name)))
		}).
		OnP2ChatMemberBotDeletedV1(func(_ context.Context, e *larkim.P2ChatMemberBotDeletedV1) error {
			return r.add(e.EventV2Base.Header, fmt.Sprintf("%s %s operator=%s", e.EventV2Base.Header.EventType, deref(e.Event.ChatId), opID(e.Event.OperatorId)))
		}).
		OnP2ChatMemberUserAddedV1(func(_ context.Context, e *larkim.P2ChatMemberUserAddedV1) error {
			return r.add(e.EventV2Base.Header, fmt.Sprintf("%s %s operator=%s users=%s", e.EventV2Base.Header.EventType, deref(e.Event.ChatId), opID(e.Event.OperatorId), usersOf(e.Event.Users)))
		}).
		OnP2ChatMemberUserDeletedV1(func(_ context.Context, e *larkim.P2ChatMemberUserDeletedV1) error {
			return r.add(e.EventV2Base.Header, fmt.Sprintf("%s %s operator=%s users=%s", e.EventV2Base.Header.EventType, deref(e.Event.ChatId), opID(e.Event.OperatorId), usersOf(e.Event.Users)))
		}).
		OnP2ChatUpdatedV1(func(_ context.Context, e *larkim.P2ChatUpdatedV1) error {
			owner := ""
			if o := e.Event.AfterChange.OwnerId; o != nil {
				owner = " owner=" + opID(e.Event.BeforeChange.OwnerId) + "->" + opID(o)
			}
			return r.add(e.EventV2Base.Header, fmt.Sprintf("%s %s operator=%s name=%s->%s%s", e.EventV2Base.Header.EventType, deref(e.Event.ChatId), opID(e.Event.OperatorId),
				deref(e.Event.BeforeChange.Name), deref(e.Event.AfterChange.Name), owner))
		}).
		OnP2ChatDisbandedV1(func(_ context.Context, e *larkim.P2ChatDisbandedV1) error {
			return r.add(e.EventV2Base.Header, fmt.Sprintf("%s %s operator=%s name=%s", e.EventV2Base.Header.EventType, deref(e.Event.ChatId), opID(e.Event.OperatorId), deref(e.Event.Name)))
		})
}

// connect starts the official long-connection client of app against srv
// and waits until qun holds its connection.
func connect(t testing.TB, srv *quntest.Server, app string, d *dispatcher.EventDispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cli := larkws.NewClient(app, secrets[app], larkws.WithEventHandler(d), larkws.WithDomain(srv.URL), larkws.WithLogLevel(larkcore.LogLevelError))
	done := make(chan struct{})
	go func() { defer close(done); cli.Start(ctx) }()
	t.Cleanup(func() { cancel(); cli.Close(); <-done })
	waitConnected(t, srv, app, 1)
}

// waitConnected waits until the admin API lists n connections of app.
func waitConnected(t testing.TB, srv *quntest.Server, app string, n int) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		var out struct {
			Connections []struct {
				App         string
				Connections int
			}
		}
		if err := srv.Admin("GET", "/admin/v1/connections", nil, &out); err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, c := range out.Connections {
			if c.App == app {
				got = c.Connections
			}
		}
		if got == n {
			return
		}
	}
	t.Fatalf("%s never had %d connections", app, n)
}

// journal is the delivery journal of a chat.
type journal struct {
	Events []struct {
		EventID  string `json:"event_id"`
		App      string
		Type     string
		Mode     string
		Status   string
		Attempts []struct {
			EventID   string `json:"event_id"`
			At        time.Time
			Transport string
			Target    string
			OK        bool
			Status    string
			Answer    string
		}
	}
}

// deliveredJournal waits until every event of app in the chat's journal
// is delivered (an attempt is journaled after its answer) and returns it.
func deliveredJournal(t *testing.T, srv *quntest.Server, chatID, app string) journal {
	t.Helper()
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		j := journalOf(t, srv, chatID)
		done := true
		for _, e := range j.Events {
			done = done && (e.App != app || e.Status == "delivered")
		}
		if done || time.Since(start) > 5*time.Second {
			return j
		}
	}
}

func journalOf(t *testing.T, srv *quntest.Server, chatID string) journal {
	t.Helper()
	var j journal
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+chatID, nil, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func simulate(t *testing.T, srv *quntest.Server, body map[string]any) {
	t.Helper()
	if err := srv.Admin("POST", "/admin/v1/simulate", body, nil); err != nil {
		t.Fatalf("simulate %v: %v", body, err)
	}
}

// lifecycle takes a chat through every change the helper bot is told
// of: added to it, a user added and removed through the API, renamed, a
// user joining and leaving in the client, renamed by the owner in the
// client, dissolved. It returns the chat and what the helper must get.
func lifecycle(t *testing.T, srv *quntest.Server) (string, []string) {
	t.Helper()
	cli := client(srv, appID)
	lisi := openID(t, srv, demoTenant, "lisi", helperApp)
	zhang := openID(t, srv, demoTenant, "zhangsan", helperApp)
	u1 := openID(t, srv, demoTenant, "user001", helperApp)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Events").OwnerId(ownerOpenID).Build())
	addMembers(t, cli, id, "app_id", -1, helperApp)
	addMembers(t, cli, id, "user_id", -1, "lisi")
	if resp, err := cli.Im.V1.Chat.Update(ctx, larkim.NewUpdateChatReqBuilder().ChatId(id).
		Body(larkim.NewUpdateChatReqBodyBuilder().Name("Events renamed").Build()).Build()); err != nil || !resp.Success() {
		t.Fatalf("update: %v %+v", err, resp)
	}
	removeMembers(t, cli, id, "user_id", "lisi")
	simulate(t, srv, map[string]any{"chat_id": id, "user": "user001", "action": "join"})
	simulate(t, srv, map[string]any{"chat_id": id, "user": "user001", "action": "leave"})
	simulate(t, srv, map[string]any{"chat_id": id, "user": "zhangsan", "action": "rename", "name": "By hand"})
	if resp, err := cli.Im.V1.Chat.Delete(ctx, larkim.NewDeleteChatReqBuilder().ChatId(id).Build()); err != nil || !resp.Success() {
		t.Fatalf("delete: %v %+v", err, resp)
	}
	return id, []string{
		"im.chat.member.bot.added_v1 " + id + " operator= name=Events",
		"im.chat.member.user.added_v1 " + id + " operator= users=" + lisi + "/李四/" + demoTenant,
		"im.chat.updated_v1 " + id + " operator= name=Events->Events renamed",
		"im.chat.member.user.deleted_v1 " + id + " operator= users=" + lisi + "/李四/" + demoTenant,
		"im.chat.member.user.added_v1 " + id + " operator=" + u1 + " users=" + u1 + "/演示用户 001/" + demoTenant,
		"im.chat.member.user.deleted_v1 " + id + " operator=" + u1 + " users=" + u1 + "/演示用户 001/" + demoTenant,
		"im.chat.updated_v1 " + id + " operator=" + zhang + " name=Events renamed->By hand",
		"im.chat.disbanded_v1 " + id + " operator= name=By hand",
	}
}

// checkLifecycle checks that the helper got exactly want, with headers of
// its own app and tenant.
func checkLifecycle(t *testing.T, helper *received, want []string) {
	t.Helper()
	// Deliveries run in parallel, in no promised order (as on Feishu).
	got := helper.wait(t, len(want))
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, h := range helper.headers {
		if h.AppID != helperApp || h.TenantKey != demoTenant || len(h.EventID) != 32 || h.CreateTime == "" {
			t.Errorf("header %+v", h)
		}
	}
	helper.quiet(t, len(want))
}

// TestLongConnectionEvents: the official larkws client, pointed at qun,
// receives every chat lifecycle event its bot is told of, typed, with the
// fields of the change; its acks are journaled.
func TestLongConnectionEvents(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	helper := newReceived()
	connect(t, srv, helperApp, recorder(helper, "", ""))
	id, want := lifecycle(t, srv)
	checkLifecycle(t, helper, want)

	// The journal has each event once, delivered over the long connection
	// with the client's ack; the main app is not connected, so its events
	// wait.
	j := deliveredJournal(t, srv, id, helperApp)
	var delivered, waiting int
	for _, e := range j.Events {
		switch {
		case e.App == helperApp && e.Status == "delivered" && len(e.Attempts) == 1:
			a := e.Attempts[0]
			if !a.OK || a.Transport != "long_connection" || a.Status != "200" || !strings.Contains(a.Answer, `"code":200`) || !strings.Contains(a.Answer, "biz_rt=") || a.EventID != e.EventID {
				t.Errorf("attempt %+v", a)
			}
			delivered++
		case e.App == appID && e.Status == "pending" && len(e.Attempts) == 0:
			waiting++
		default:
			t.Errorf("journal entry %+v", e)
		}
	}
	if delivered != len(want) || waiting == 0 {
		t.Errorf("journal: %d delivered, %d waiting; want %d delivered and some waiting", delivered, waiting, len(want))
	}

	// Once the main app connects, what waited for it is delivered.
	mine := newReceived()
	connect(t, srv, appID, recorder(mine, "", ""))
	got := mine.wait(t, waiting)
	mine.quiet(t, waiting)
	lisiHere := openID(t, srv, demoTenant, "lisi", appID)
	// Delivery runs in parallel: what waited arrives in any order.
	slices.Sort(got)
	if waiting != 7 || !slices.Contains(got, "im.chat.member.user.added_v1 "+id+" operator= users="+lisiHere+"/李四/"+demoTenant) || !strings.HasPrefix(got[0], "im.chat.disbanded_v1 "+id) {
		t.Errorf("the main app got, once connected:\n%s", strings.Join(got, "\n"))
	}
}

// TestWebhookEvents: the official dispatcher behind httpserverext, at a
// request URL, answers the challenge when the URL is saved and receives
// the events, plain and encrypted.
func TestWebhookEvents(t *testing.T) {
	for _, key := range []string{"", "encrypt-key-123"} {
		t.Run(fmt.Sprintf("key=%q", key), func(t *testing.T) {
			srv := quntest.NewServer(t, quntest.WithoutRateLimits())
			got := newReceived()
			hook := httptest.NewServer(http.HandlerFunc(httpserverext.NewEventHandlerFunc(recorder(got, "v-token", key))))
			defer hook.Close()
			sub := map[string]any{"mode": "webhook", "url": hook.URL, "token": "v-token", "key": key}
			if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+helperApp, map[string]any{"events": sub}, nil); err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			id, want := lifecycle(t, srv)
			checkLifecycle(t, got, want)
			for _, h := range got.headers {
				if h.Token != "v-token" {
					t.Errorf("header %+v", h)
				}
			}
			for _, e := range deliveredJournal(t, srv, id, helperApp).Events {
				if e.App == helperApp && (e.Status != "delivered" || e.Attempts[0].Transport != "webhook" || e.Attempts[0].Target != hook.URL || e.Attempts[0].Status != "200") {
					t.Errorf("journal entry %+v", e)
				}
			}
		})
	}
}

// TestWebhookChallengeRefused: a URL that does not echo the challenge is
// not saved.
func TestWebhookChallengeRefused(t *testing.T) {
	srv := quntest.NewServer(t)
	for name, h := range map[string]http.HandlerFunc{
		"500":       func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
		"garbage":   func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"challenge":"no"}`)) },
		"wrong key": httpserverext.NewEventHandlerFunc(dispatcher.NewEventDispatcher("t", "another-key")),
	} {
		hook := httptest.NewServer(h)
		err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+appID, map[string]any{"events": map[string]any{"mode": "webhook", "url": hook.URL, "token": "t", "key": "k"}}, nil)
		hook.Close()
		if err == nil || !strings.Contains(err.Error(), "challenge") {
			t.Errorf("%s: %v, want the challenge refused", name, err)
		}
	}
}

// TestRedelivery: a handler that fails twice gets the event three times
// with the same event_id, at the first attempt, about 15 s and 5 min
// later, under the test clock; the journal has the three attempts.
func TestRedelivery(t *testing.T) {
	clock := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithClock(clock.Now))
	got := newReceived()
	got.fail = 2
	hook := httptest.NewServer(http.HandlerFunc(httpserverext.NewEventHandlerFunc(recorder(got, "", ""))))
	defer hook.Close()
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+appID, map[string]any{"events": map[string]any{"mode": "webhook", "url": hook.URL}}, nil); err != nil {
		t.Fatal(err)
	}
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Retry").Build())
	addMembers(t, cli, id, "user_id", -1, "lisi")
	// attempts waits until the journal has n attempts: an attempt is
	// journaled after the handler answered.
	attempts := func(n int) {
		t.Helper()
		for range 1000 {
			j := journalOf(t, srv, id)
			if len(j.Events) == 1 && len(j.Events[0].Attempts) == n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("the journal never had %d attempts", n)
	}
	got.wait(t, 1)
	attempts(1)
	clock.Advance(14 * time.Second)
	got.quiet(t, 1) // not yet
	clock.Advance(time.Second)
	got.wait(t, 2)
	attempts(2)
	clock.Advance(5*time.Minute - time.Second)
	got.quiet(t, 2)
	clock.Advance(time.Second)
	got.wait(t, 3)
	attempts(3)
	got.quiet(t, 3)
	if got.headers[0].EventID != got.headers[1].EventID || got.headers[1].EventID != got.headers[2].EventID {
		t.Errorf("event_ids %q %q %q differ", got.headers[0].EventID, got.headers[1].EventID, got.headers[2].EventID)
	}
	j := journalOf(t, srv, id)
	if len(j.Events) != 1 || j.Events[0].Status != "delivered" || len(j.Events[0].Attempts) != 3 {
		t.Fatalf("journal %+v", j)
	}
	as := j.Events[0].Attempts
	for i, want := range []struct {
		wait   time.Duration // after the attempt before
		ok     bool
		status string
	}{{0, false, "500"}, {15 * time.Second, false, "500"}, {5 * time.Minute, true, "200"}} {
		d := time.Duration(0)
		if i > 0 {
			d = as[i].At.Sub(as[i-1].At)
		}
		if d < want.wait || d > want.wait+time.Second || as[i].OK != want.ok || as[i].Status != want.status {
			t.Errorf("attempt %d %v after the one before, ok=%v status=%s; want %v, ok=%v status=%s", i, d, as[i].OK, as[i].Status, want.wait, want.ok, want.status)
		}
	}
}

// TestRolledBackChangeEmitsNothing: a change that fails after writing
// tells nobody.
func TestRolledBackChangeEmitsNothing(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Rollback").OwnerId(ownerOpenID).Build())
	// The owner cannot leave: the simulated leave fails after nothing, and
	// a remove of the owner with a member fails after removing the member.
	addMembers(t, cli, id, "user_id", -1, "lisi")
	before := len(journalOf(t, srv, id).Events)
	err := srv.Admin("POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "zhangsan", "action": "remove", "users": []string{"lisi", "zhangsan"}}, nil)
	if err == nil {
		t.Fatal("removing the owner succeeded")
	}
	if n := len(journalOf(t, srv, id).Events); n != before {
		t.Errorf("%d events after a rolled-back change, want %d", n, before)
	}
	if ids := memberIDs(t, cli, id, "user_id", 100); len(ids) != 2 {
		t.Errorf("members %v: the failed change was not rolled back", ids)
	}
}

// TestEventGolden: the payload of every event type, as the journal keeps
// it, matches testdata/events/ (the chat ID, event ID and time masked).
func TestEventGolden(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Golden").OwnerId(ownerOpenID).Build())
	addMembers(t, cli, id, "app_id", -1, helperApp)
	addMembers(t, cli, id, "user_id", -1, "lisi")
	if resp, err := cli.Im.V1.Chat.Update(ctx, larkim.NewUpdateChatReqBuilder().ChatId(id).
		Body(larkim.NewUpdateChatReqBodyBuilder().Name("Golden 2").Description("described").EditPermission("only_owner").Build()).Build()); err != nil || !resp.Success() {
		t.Fatalf("update: %v %+v", err, resp)
	}
	simulatePost(t, srv, id, "zhangsan", text("@_user_1 ping @_user_2"), []map[string]any{{"key": "@_user_1", "app": helperApp}, {"key": "@_user_2", "user": "lisi"}})
	msgs, err := srv.Messages(id)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages %v %+v", err, msgs)
	}
	if err := srv.Recall(id, "zhangsan", msgs[0].MessageID); err != nil {
		t.Fatal(err)
	}
	simulate(t, srv, map[string]any{"chat_id": id, "user": "zhangsan", "action": "transfer", "users": []string{"lisi"}})
	simulate(t, srv, map[string]any{"chat_id": id, "user": "user001", "action": "join"})
	simulate(t, srv, map[string]any{"chat_id": id, "user": "lisi", "action": "remove", "users": []string{"user001"}})
	removeMembers(t, cli, id, "app_id", helperApp)
	simulate(t, srv, map[string]any{"chat_id": id, "user": "lisi", "action": "dissolve"})
	var j struct {
		Events []struct {
			App, Type, Body string
		}
	}
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id, nil, &j); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := len(j.Events) - 1; i >= 0; i-- { // oldest first
		e := j.Events[i]
		name := e.Type
		if e.App == helperApp {
			name = "helper." + name
		}
		if seen[name] {
			name += ".2"
		}
		seen[name] = true
		body := strings.ReplaceAll(e.Body, id, "oc_CHAT")
		body = regexp.MustCompile(`"event_id":"[0-9a-f]{32}"`).ReplaceAllString(body, `"event_id":"EVENT_ID"`)
		body = regexp.MustCompile(`"(create|update|recall)_time":"\d+"`).ReplaceAllString(body, `"${1}_time":"TIME"`)
		body = regexp.MustCompile(`"om_[0-9a-f]{32}"`).ReplaceAllString(body, `"om_MESSAGE"`)
		golden.JSON(t, filepath.Join("testdata", "events", name+".json"), []byte(body), "  ")
	}
	if len(seen) < 11 {
		t.Errorf("only %d payloads: %v", len(seen), seen)
	}
}

// hookServer answers the url_verification challenge, then does what
// events tells it to with every event.
func hookServer(t *testing.T, events http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var c struct{ Challenge, Type string }
		if json.Unmarshal(body, &c) == nil && c.Type == "url_verification" {
			json.NewEncoder(w).Encode(map[string]string{"challenge": c.Challenge})
			return
		}
		events(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBadReceivers: a request URL that hangs, answers 500 or answers
// garbage is retried and journaled, and holds up neither the API nor the
// deliveries to other bots; the hanging one has at most 8 attempts under
// way at once.
func TestBadReceivers(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	release := make(chan struct{})
	var hanging, peak atomic.Int32
	var first atomic.Int64 // when the first attempt came (Unix ns)
	hang := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := hanging.Add(1)
		first.CompareAndSwap(0, time.Now().UnixNano())
		// The peak counts the attempts before the first ones time out
		// (3 s): after that a handler may still be running here for an
		// attempt the node has already given up and replaced.
		if time.Since(time.Unix(0, first.Load())) < 2*time.Second {
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		}
		defer hanging.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	fail := hookServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	garbage := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Write([]byte("\x00\x01garbage, not HTTP\r\n\r\n"))
			conn.Close()
		}
	})
	for app, hook := range map[string]*httptest.Server{appID: hang, innerApp: fail, storeApp: garbage} {
		patch := map[string]any{"events": map[string]any{"mode": "webhook", "url": hook.URL}}
		if app == innerApp {
			patch["scopes"] = []string{"im:chat"} // it lacks a chat-reading scope
		}
		if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+app, patch, nil); err != nil {
			t.Fatalf("subscribe %s: %v", app, err)
		}
	}
	helper := newReceived()
	connect(t, srv, helperApp, recorder(helper, "", ""))
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Bad receivers").OwnerId(ownerOpenID).Build())
	addMembers(t, cli, id, "app_id", -1, helperApp, innerApp, storeApp)
	for i := range 10 {
		addMembers(t, cli, id, "user_id", -1, fmt.Sprintf("user%03d", i+1))
	}
	// The API answered, and the helper got its 11 events, while the main
	// app's attempts hang.
	helper.wait(t, 11)
	if hanging.Load() == 0 {
		t.Fatal("no attempt was hanging: the test proves nothing")
	}
	// The hanging attempts time out (3 s) and are journaled; the others
	// failed at once; all of them are due again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var j struct {
			Events []struct {
				App, Status string
				Attempts    []struct {
					OK     bool
					Status string
				}
			}
		}
		if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id+"&limit=500", nil, &j); err != nil {
			t.Fatal(err)
		}
		status := map[string]map[string]int{}
		for _, e := range j.Events {
			for _, a := range e.Attempts {
				if status[e.App] == nil {
					status[e.App] = map[string]int{}
				}
				status[e.App][a.Status]++
			}
		}
		if status[appID]["timeout"] == 10 && status[innerApp]["500"] == 11 && status[storeApp]["error"] == 11 && status[helperApp]["200"] == 11 {
			// A receiver that hangs holds at most 8 of the node's workers.
			if p := peak.Load(); p > 8 || p < 2 {
				t.Errorf("%d attempts hung at once, want 2 to 8", p)
			}
			for _, e := range j.Events {
				if (e.App == helperApp) != (e.Status == "delivered") || (e.App != helperApp && e.Status != "pending") {
					t.Errorf("event of %s is %s", e.App, e.Status)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempts by app and status: %v", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLongConnectionBadInput: the endpoint answers a malformed body, bad
// credentials and a wrong method as larkws reads them; a WebSocket with a
// bad ticket is refused with the handshake headers; frames that do not
// decode are skipped, and the connection keeps serving.
func TestLongConnectionBadInput(t *testing.T) {
	srv := quntest.NewServer(t)
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/callback/ws/endpoint", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	for _, c := range []struct {
		body   string
		status int
		code   float64
	}{
		{`{`, 400, 400},
		{`{"AppID":"x","AppSecret":"y"} trailing`, 400, 400},
		{`{"AppID":1}`, 400, 400},
		{`{"AppID":"` + appID + `","AppSecret":"wrong"}`, 200, 514},
		{`{"AppID":"cli_nobody","AppSecret":"x"}`, 200, 514},
		{`{"AppID":"` + appID + `","AppSecret":"` + appSecret + `"}`, 200, 0},
	} {
		if status, out := post(c.body); status != c.status || out["code"] != c.code {
			t.Errorf("%s: %d %v, want %d code %v", c.body, status, out, c.status, c.code)
		}
	}
	if resp, err := http.Get(srv.URL + "/callback/ws/endpoint"); err != nil || resp.StatusCode != http.StatusNotFound { // the gateway's 404 for a wrong method
		t.Errorf("GET endpoint: %v %v", resp.StatusCode, err)
	}
	ws := "ws" + strings.TrimPrefix(srv.URL, "http") + "/callback/ws/connect?device_id=1&service_id=1&ticket="
	_, resp, err := websocket.DefaultDialer.Dial(ws+"forged", nil)
	if err == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Handshake-Status") != "514" || resp.Header.Get("Handshake-Msg") == "" {
		t.Errorf("a forged ticket: %v %+v", err, resp)
	}
	// A real connection survives garbage, then answers a ping.
	_, out := post(`{"AppID":"` + appID + `","AppSecret":"` + appSecret + `"}`)
	u := out["data"].(map[string]any)["URL"].(string)
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range [][]byte{{0xff, 0xff, 0xff}, []byte("text, not protobuf"), {0x2a, 0x05, 0x01}} {
		if err := conn.WriteMessage(websocket.BinaryMessage, junk); err != nil {
			t.Fatal(err)
		}
	}
	conn.WriteMessage(websocket.TextMessage, []byte("{}"))
	// A ping frame: service 1, method 0 (control), header type=ping.
	ping := []byte{0x08, 0x01, 0x10, 0x01, 0x18, 0x01, 0x20, 0x00, 0x2a, 0x0c, 0x0a, 0x04, 't', 'y', 'p', 'e', 0x12, 0x04, 'p', 'i', 'n', 'g'}
	if err := conn.WriteMessage(websocket.BinaryMessage, ping); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, pong, err := conn.ReadMessage()
	if err != nil || !bytes.Contains(pong, []byte("pong")) || !bytes.Contains(pong, []byte(`"PingInterval":120`)) {
		t.Errorf("pong %q %v", pong, err)
	}
}

// TestEventsNeedAScope: a bot in the chat without a chat-reading scope is
// told nothing.
func TestEventsNeedAScope(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Scopes").Build())
	addMembers(t, cli, id, "app_id", -1, helperApp, innerApp, noScopeApp)
	addMembers(t, cli, id, "user_id", -1, "lisi")
	told := map[string]int{}
	for _, e := range journalOf(t, srv, id).Events {
		told[e.App]++
	}
	// helper: bot added, user added; the creator: user added.
	if told[helperApp] != 2 || told[appID] != 1 || told[innerApp] != 0 || told[noScopeApp] != 0 {
		t.Errorf("events by app: %v", told)
	}
}
