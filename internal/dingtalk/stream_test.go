//go:build !race

// The tests in this file run the official Stream SDK, which answers each
// frame on a goroutine of its own and writes the answers to its socket
// without synchronising them (client.processDataFrame →
// SendDataFrameResponse, v0.9.1): the race detector reports that race in
// the SDK, whatever qun does (qun sends a connection one frame at a time).
// They run in the suite's normal pass; qun's side of Stream runs under the
// race detector in TestStreamBadInput.

package dingtalk_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/chatbot"
	streamclient "github.com/open-dingtalk/dingtalk-stream-sdk-go/client"

	"github.com/qunhq/qun/quntest"
)

// TestStreamEvents: the official Stream SDK, pointed at qun with
// WithOpenApiHost, receives the group events of a group its app created,
// from the API and from users in the client.
func TestStreamEvents(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	g := newGot()
	stream(t, srv, appKey, g)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	id := tea.StringValue(resp.Body.Chatid)
	steps := []*im.UpdateGroupRequest{
		{Chatid: tea.String(id), AddUseridlist: tea.StringSlice([]string{"lisi", "user001"})},
		{Chatid: tea.String(id), Name: tea.String("Renamed")},
		{Chatid: tea.String(id), Owner: tea.String("lisi")},
		{Chatid: tea.String(id), DelUseridlist: tea.StringSlice([]string{"user001"})},
	}
	for _, s := range steps {
		if _, err := demo.update(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []map[string]any{
		{"chat_id": id, "user": "userId", "action": "leave"},
		{"chat_id": id, "user": "lisi", "action": "dissolve"},
	} {
		if err := srv.Admin("POST", "/admin/v1/simulate", a, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"chat_add_member userId=lisi,user001 operator=",
		"chat_update_title userId= operator= title=Renamed",
		"chat_update_owner userId= operator= owner=lisi",
		"chat_remove_member userId=user001 operator=",
		"chat_quit userId=userId operator=userId",
		"chat_disband userId= operator=lisi",
	}
	// Deliveries run in parallel, in no promised order (as on DingTalk).
	lines := g.wait(t, len(want))
	sort.Strings(lines)
	sort.Strings(want)
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, h := range g.headers {
		if h.EventCorpId != corpID || h.EventUnifiedAppId != appKey || len(h.EventId) != 32 || h.EventBornTime == 0 {
			t.Errorf("header %+v", h)
		}
	}
	g.quiet(t, len(want))
}

// TestStreamLater: a handler answering LATER gets the event again, with
// the same eventId, after the retry wait (10 s) under the test clock.
func TestStreamLater(t *testing.T) {
	clock := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithClock(clock.Now))
	g := newGot()
	g.later = 1
	stream(t, srv, appKey, g)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"})}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, 1)
	waitAttempts(t, srv, tea.StringValue(resp.Body.Chatid), 1)
	clock.Advance(9 * time.Second)
	g.quiet(t, 1)
	clock.Advance(time.Second)
	g.wait(t, 2)
	waitAttempts(t, srv, tea.StringValue(resp.Body.Chatid), 2)
	g.quiet(t, 2)
	if g.ids[0] != g.ids[1] {
		t.Errorf("eventIds %s and %s differ", g.ids[0], g.ids[1])
	}
	var j struct {
		Events []struct {
			Status   string
			Attempts []struct {
				OK     bool
				Status string
			}
		}
	}
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+tea.StringValue(resp.Body.Chatid), nil, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Events) != 1 || j.Events[0].Status != "delivered" || j.Events[0].Attempts[0].Status != "LATER" || !j.Events[0].Attempts[1].OK {
		t.Errorf("journal %+v", j)
	}
}

func waitAttempts(t *testing.T, srv *quntest.Server, chat string, n int) {
	t.Helper()
	for range 1000 {
		var j struct{ Events []struct{ Attempts []any } }
		if err := srv.Admin("GET", "/admin/v1/events?chat_id="+chat, nil, &j); err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, e := range j.Events {
			total += len(e.Attempts)
		}
		if total >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the journal never had %d attempts", n)
}

// TestRolledBackUpdateEmitsNothing: an update that adds members and then
// fails (the new owner is not in the group) tells nobody.
func TestRolledBackUpdateEmitsNothing(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	g := newGot()
	stream(t, srv, appKey, g)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	_, err = demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"}), Owner: tea.String("user002")})
	wantSDKError(t, "owner not in the group", err, 400, "parameter.invalid")
	g.quiet(t, 0)
	var j struct{ Events []any }
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+tea.StringValue(resp.Body.Chatid), nil, &j); err != nil || len(j.Events) != 0 {
		t.Errorf("journal %v %v", j, err)
	}
}

// TestChatbotLoop: the bot's loop with the official Stream SDK. A member
// @mentions the app's robot; the SDK's chatbot handler receives the
// message on the CALLBACK topic /v1.0/im/bot/messages/get and replies
// with the SDK's ChatbotReplier through sessionWebhook; the reply is in
// the group. A message that does not mention the robot is not delivered;
// a session that expired (90 minutes) or was forged answers errcode
// 300001.
func TestChatbotLoop(t *testing.T) {
	clock := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithClock(clock.Now))
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	id, cid := tea.StringValue(resp.Body.Chatid), tea.StringValue(resp.Body.OpenConversationId)
	addRobot(t, srv, demo, cid)
	got := make(chan chatbot.BotCallbackDataModel, 4)
	cli := streamclient.NewStreamClient(
		streamclient.WithAppCredential(streamclient.NewAppCredentialConfig(appKey, appSecret)),
		streamclient.WithOpenApiHost(srv.URL),
		streamclient.WithAutoReconnect(false),
	)
	cli.RegisterChatBotCallbackRouter(func(ctx context.Context, data *chatbot.BotCallbackDataModel) ([]byte, error) {
		got <- *data
		reply := "pong: " + strings.TrimSpace(data.Text.Content)
		if err := chatbot.NewChatbotReplier().SimpleReplyText(ctx, data.SessionWebhook, []byte(reply)); err != nil {
			t.Errorf("reply: %v", err)
		}
		return []byte(""), nil
	})
	if err := cli.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cli.Close)
	posted, err := srv.Post(id, seedMember, `{"content":"@Qun Demo ping"}`, appKey)
	if err != nil {
		t.Fatal(err)
	}
	var data chatbot.BotCallbackDataModel
	select {
	case data = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the chatbot handler was never called")
	}
	if data.ConversationId != cid || !data.IsInAtList || data.SenderStaffId != seedMember || data.MsgId != posted.MessageID ||
		data.ConversationType != "2" || data.Text.Content != "@Qun Demo ping" || data.Msgtype != "text" || data.ChatbotCorpId != corpID ||
		data.SenderCorpId != corpID || data.SenderNick == "" || data.IsAdmin ||
		data.SessionWebhookExpiredTime-data.CreateAt != (90*time.Minute).Milliseconds() ||
		!strings.HasPrefix(data.SessionWebhook, srv.URL+"/robot/sendBySession?session=") {
		t.Errorf("callback data %+v", data)
	}
	if len(data.AtUsers) != 1 || data.AtUsers[0].DingtalkId != data.ChatbotUserId || !strings.HasPrefix(data.ChatbotUserId, "$:LWCP_v1:$") {
		t.Errorf("atUsers %+v, chatbotUserId %q", data.AtUsers, data.ChatbotUserId)
	}
	var reply quntest.Message
	for start := time.Now(); reply.MessageID == ""; time.Sleep(10 * time.Millisecond) {
		msgs, err := srv.Messages(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.SenderApp == appKey {
				reply = m
			}
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no reply in the group: %+v", msgs)
		}
	}
	if reply.Type != "text" || reply.Content != `{"content":"pong: @Qun Demo ping"}` {
		t.Errorf("reply %+v", reply)
	}
	// Not mentioned, the robot hears nothing.
	if _, err := srv.Post(id, seedMember, `{"content":"just chatting"}`); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		t.Errorf("a message without @robot was delivered: %+v", d)
	case <-time.After(300 * time.Millisecond):
	}
	session := func(url, body string) map[string]any {
		t.Helper()
		r, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var out map[string]any
		if r.StatusCode != 200 || json.NewDecoder(r.Body).Decode(&out) != nil {
			t.Fatalf("sendBySession answered HTTP %d", r.StatusCode)
		}
		return out
	}
	for _, c := range []struct {
		name, body string
		code       float64
	}{
		{"markdown with an @", `{"msgtype":"markdown","markdown":{"title":"T","text":"@userId done"},"at":{"atUserIds":["userId"]}}`, 0},
		{"not JSON", `{"msgtype":`, 40035},
		{"bytes after the JSON", `{"msgtype":"text","text":{"content":"x"}} {}`, 40035},
		{"unknown msgtype", `{"msgtype":"hologram","hologram":{}}`, 40035},
		{"text without content", `{"msgtype":"text","text":{}}`, 40035},
		{"too long", `{"msgtype":"text","text":{"content":"` + strings.Repeat("x", 20000) + `"}}`, 460101},
	} {
		if out := session(data.SessionWebhook, c.body); out["errcode"] != c.code {
			t.Errorf("%s: %v", c.name, out)
		}
	}
	if out := session(srv.URL+"/robot/sendBySession?session=forged.session", `{"msgtype":"text","text":{"content":"x"}}`); out["errcode"] != float64(300001) {
		t.Errorf("a forged session: %v", out)
	}
	clock.Advance(90 * time.Minute)
	if out := session(data.SessionWebhook, `{"msgtype":"text","text":{"content":"late"}}`); out["errcode"] != float64(300001) {
		t.Errorf("an expired session: %v", out)
	}
	msgs, err := srv.Messages(id)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(msgs); n != 4 || msgs[3].Type != "markdown" {
		t.Errorf("the group's messages: %+v", msgs)
	}
}

// TestDisconnectFault: a delivery rule closes the app's Stream
// connections (a SYSTEM disconnect frame first, as DingTalk does when it
// moves a client); the attempt is journaled as disconnected and the event
// stays pending for its retry.
func TestDisconnectFault(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	g := newGot()
	stream(t, srv, appKey, g)
	if err := srv.Admin("POST", "/admin/v1/faults", map[string]any{"platform": "dingtalk", "app": appKey, "delivery": "disconnect", "times": 1}, nil); err != nil {
		t.Fatal(err)
	}
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"})}); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var out struct{ Connections []any }
		var j struct {
			Events []struct {
				Status   string
				Attempts []struct{ Status string }
			}
		}
		if err := srv.Admin("GET", "/admin/v1/connections", nil, &out); err != nil {
			t.Fatal(err)
		}
		if err := srv.Admin("GET", "/admin/v1/events?chat_id="+tea.StringValue(resp.Body.Chatid), nil, &j); err != nil {
			t.Fatal(err)
		}
		if len(out.Connections) == 0 && len(j.Events) == 1 && len(j.Events[0].Attempts) == 1 && j.Events[0].Attempts[0].Status == "disconnected" && j.Events[0].Status == "pending" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("connections %v, journal %+v", out.Connections, j)
		}
	}
	g.quiet(t, 0)
}
