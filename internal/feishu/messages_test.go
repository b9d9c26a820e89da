package feishu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	"github.com/larksuite/oapi-sdk-go/v3/core/httpserverext"
	"github.com/larksuite/oapi-sdk-go/v3/event/dispatcher"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

func text(s string) string {
	b, _ := json.Marshal(map[string]string{"text": s})
	return string(b)
}

func send(t *testing.T, cli *lark.Client, chat, msgType, content string) *larkim.CreateMessageResp {
	t.Helper()
	resp, err := cli.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
		Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(chat).MsgType(msgType).Content(content).Build()).Build())
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return resp
}

// TestBotLoop: a user posts "@bot ping" in the client; the helper bot's
// unmodified handler, on the official long connection or behind
// httpserverext at an encrypted request URL, receives it with its mention
// and replies with the SDK; the reply is in the chat's history, after the
// post, as its reply.
func TestBotLoop(t *testing.T) {
	for _, mode := range []string{"connection", "webhook"} {
		t.Run(mode, func(t *testing.T) { botLoop(t, mode) })
	}
}

func botLoop(t *testing.T, mode string) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	helperCli := client(srv, helperApp)
	got := make(chan *larkim.P2MessageReceiveV1, 4)
	recalled := make(chan *larkim.P2MessageRecalledV1, 4)
	token, key := "", ""
	if mode == "webhook" {
		token, key = "v-token", "loop-key"
	}
	d := dispatcher.NewEventDispatcher(token, key).OnP2MessageRecalledV1(func(ctx context.Context, e *larkim.P2MessageRecalledV1) error {
		recalled <- e
		return nil
	}).OnP2MessageReceiveV1(func(ctx context.Context, e *larkim.P2MessageReceiveV1) error {
		got <- e
		resp, err := helperCli.Im.V1.Message.Reply(ctx, larkim.NewReplyMessageReqBuilder().MessageId(*e.Event.Message.MessageId).
			Body(larkim.NewReplyMessageReqBodyBuilder().MsgType("text").Content(text("pong")).Build()).Build())
		if err != nil || !resp.Success() {
			return fmt.Errorf("reply: %v %+v", err, resp)
		}
		return nil
	})
	if mode == "connection" {
		connect(t, srv, helperApp, d)
	} else {
		hook := httptest.NewServer(http.HandlerFunc(httpserverext.NewEventHandlerFunc(d)))
		defer hook.Close()
		sub := map[string]any{"mode": "webhook", "url": hook.URL, "token": token, "key": key}
		if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+helperApp, map[string]any{"events": sub}, nil); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Loop").OwnerId(ownerOpenID).Build())
	addMembers(t, cli, id, "app_id", -1, helperApp)

	// A message that mentions nobody is not the helper's to hear.
	simulatePost(t, srv, id, "zhangsan", text("hello everyone"), nil)
	simulatePost(t, srv, id, "zhangsan", text("@_user_1 ping"), []map[string]any{{"key": "@_user_1", "app": helperApp}})
	e := <-got
	zhang := openID(t, srv, demoTenant, "zhangsan", helperApp)
	m := e.Event.Message
	if *m.ChatId != id || *m.ChatType != "group" || *m.MessageType != "text" || *m.Content != text("@_user_1 ping") ||
		len(m.Mentions) != 1 || *m.Mentions[0].Key != "@_user_1" || *m.Mentions[0].Name != "帮手 Helper Bot" || !strings.HasPrefix(*m.Mentions[0].Id.OpenId, "ou_") ||
		*e.Event.Sender.SenderId.OpenId != zhang || *e.Event.Sender.SenderType != "user" || e.EventV2Base.Header.EventType != "im.message.receive_v1" {
		raw, _ := json.Marshal(e)
		t.Errorf("event %s", raw)
	}
	// The history, through the helper's SDK, oldest first: the two posts
	// and the reply to the second.
	var items []*larkim.Message
	for range 100 {
		resp, err := helperCli.Im.V1.Message.List(ctx, larkim.NewListMessageReqBuilder().ContainerIdType("chat").ContainerId(id).PageSize(10).Build())
		if err != nil || !resp.Success() {
			t.Fatalf("list: %v %+v", err, resp)
		}
		if items = resp.Data.Items; len(items) == 3 {
			break
		}
	}
	if len(items) != 3 || *items[2].ParentId != *m.MessageId || *items[2].Sender.Id != helperApp || *items[2].Sender.SenderType != "app" ||
		*items[2].Body.Content != text("pong") || *items[1].Sender.Id != zhang || *items[1].Sender.IdType != "open_id" {
		raw, _ := json.Marshal(items)
		t.Fatalf("history %s", raw)
	}
	select {
	case e := <-got:
		t.Errorf("a second event: %+v", e)
	default:
	}
	// The admin API lists what was said, by whom.
	var admin struct {
		Messages []struct {
			SenderUser string `json:"sender_user"`
			SenderApp  string `json:"sender_app"`
			Content    string
			ParentID   string `json:"parent_id"`
		}
	}
	if err := srv.Admin("GET", "/admin/v1/chats/"+id+"/messages?sender="+helperApp, nil, &admin); err != nil {
		t.Fatal(err)
	}
	if len(admin.Messages) != 1 || admin.Messages[0].Content != text("pong") || admin.Messages[0].ParentID != *m.MessageId {
		t.Errorf("the bot's messages: %+v", admin.Messages)
	}
	// Recalls: a bot recalls only its own messages; the user recalls the
	// ping in the client, the main bot its own message; the helper hears
	// of both (im.message.recalled_v1).
	mine := send(t, cli, id, "text", text("soon gone"))
	other, err := helperCli.Im.V1.Message.Delete(ctx, larkim.NewDeleteMessageReqBuilder().MessageId(*mine.Data.MessageId).Build())
	if err != nil || other.Code != 230012 || other.StatusCode != 400 {
		t.Errorf("recall another bot's message: %v %+v", err, other)
	}
	if err := srv.Recall(id, "zhangsan", *m.MessageId); err != nil {
		t.Fatal(err)
	}
	if err := srv.Recall(id, "lisi", *mine.Data.MessageId); err == nil {
		t.Error("a user recalled a bot's message")
	}
	del, err := cli.Im.V1.Message.Delete(ctx, larkim.NewDeleteMessageReqBuilder().MessageId(*mine.Data.MessageId).Build())
	if err != nil || !del.Success() {
		t.Fatalf("recall: %v %+v", err, del)
	}
	want := map[string]bool{*m.MessageId: true, *mine.Data.MessageId: true}
	for range 2 {
		r := <-recalled
		if !want[*r.Event.MessageId] || *r.Event.ChatId != id || *r.Event.RecallType != "message_owner" || *r.Event.RecallTime == "" || r.EventV2Base.Header.EventType != "im.message.recalled_v1" {
			raw, _ := json.Marshal(r)
			t.Errorf("recalled event %s", raw)
		}
		delete(want, *r.Event.MessageId)
	}
}

func simulatePost(t *testing.T, srv *quntest.Server, chat, user, content string, mentions []map[string]any) {
	t.Helper()
	if err := srv.Admin("POST", "/admin/v1/chats/"+chat+"/messages", map[string]any{"user": user, "content": content, "mentions": mentions}, nil); err != nil {
		t.Fatalf("post as %s: %v", user, err)
	}
}

// TestMessages: send, get, page the history both ways, recall, dedupe by
// uuid, mentions written as <at> tags, and every error a bot meets.
func TestMessages(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Messages").OwnerId(ownerOpenID).Build())
	addMembers(t, cli, id, "user_id", -1, "lisi")
	lisi := openID(t, srv, demoTenant, "lisi", appID)

	r := send(t, cli, id, "text", text(`hi <at user_id="`+lisi+`">李四</at> and <at user_id="all">所有人</at>`))
	if !r.Success() || *r.Data.Body.Content != text("hi @_user_1 and @_all") || len(r.Data.Mentions) != 2 || *r.Data.Mentions[0].Id != lisi || *r.Data.Sender.Id != appID || *r.Data.ChatId != id {
		raw, _ := json.Marshal(r)
		t.Fatalf("send: %s", raw)
	}
	for i := range 4 {
		send(t, cli, id, "interactive", fmt.Sprintf(`{"elements":[{"tag":"div","text":{"tag":"plain_text","content":"%d"}}]}`, i))
	}
	// Dedupe: the same uuid gives the first message.
	dd := func() string {
		resp, err := cli.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
			Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(text("once")).Uuid("u-1").Build()).Build())
		if err != nil || !resp.Success() {
			t.Fatalf("send with uuid: %v %+v", err, resp)
		}
		return *resp.Data.MessageId
	}
	if a, b := dd(), dd(); a != b {
		t.Errorf("uuid sent twice made %s and %s", a, b)
	}
	// Pages of 2, oldest first, then newest first.
	var asc, desc []string
	for _, sort := range []string{"ByCreateTimeAsc", "ByCreateTimeDesc"} {
		tok := ""
		for range 10 {
			b := larkim.NewListMessageReqBuilder().ContainerIdType("chat").ContainerId(id).PageSize(2).SortType(sort)
			if tok != "" {
				b.PageToken(tok)
			}
			resp, err := cli.Im.V1.Message.List(ctx, b.Build())
			if err != nil || !resp.Success() {
				t.Fatalf("list %s: %v %+v", sort, err, resp)
			}
			for _, m := range resp.Data.Items {
				if sort == "ByCreateTimeAsc" {
					asc = append(asc, *m.MessageId)
				} else {
					desc = append(desc, *m.MessageId)
				}
			}
			if !*resp.Data.HasMore {
				break
			}
			tok = *resp.Data.PageToken
		}
	}
	if len(asc) != 6 || asc[0] != *r.Data.MessageId || len(desc) != 6 || desc[5] != asc[0] || desc[0] != asc[5] {
		t.Errorf("asc %v desc %v", asc, desc)
	}
	// Get and recall.
	g, err := cli.Im.V1.Message.Get(ctx, larkim.NewGetMessageReqBuilder().MessageId(asc[1]).Build())
	if err != nil || !g.Success() || len(g.Data.Items) != 1 || *g.Data.Items[0].MsgType != "interactive" {
		t.Fatalf("get: %v %+v", err, g)
	}
	del, err := cli.Im.V1.Message.Delete(ctx, larkim.NewDeleteMessageReqBuilder().MessageId(asc[1]).Build())
	if err != nil || !del.Success() {
		t.Fatalf("recall: %v %+v", err, del)
	}
	g, _ = cli.Im.V1.Message.Get(ctx, larkim.NewGetMessageReqBuilder().MessageId(asc[1]).Build())
	if !*g.Data.Items[0].Deleted {
		t.Errorf("after recall: %+v", g.Data.Items[0])
	}

	// Errors.
	tokens := map[string]string{appID: "Bearer " + tenantToken(t, srv, appID), helperApp: "Bearer " + tenantToken(t, srv, helperApp)}
	raw := func(app, method, path, body string) (int, int) {
		r := do(t, method, srv.URL+path, tokens[app], body)
		var out struct{ Code int }
		json.Unmarshal(r.Body, &out)
		return r.Status, out.Code
	}
	for _, c := range []struct {
		name         string
		cli          string
		method, path string
		body         string
		code         int
	}{
		{"bot not in the chat", helperApp, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"` + id + `","msg_type":"text","content":"{\"text\":\"x\"}"}`, 230002},
		{"unknown chat", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"oc_00000000000000000000000000000000","msg_type":"text","content":"{\"text\":\"x\"}"}`, 230001},
		{"content not JSON", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"` + id + `","msg_type":"text","content":"hello"}`, 230001},
		{"text without text", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"` + id + `","msg_type":"text","content":"{\"txt\":\"x\"}"}`, 230001},
		{"unknown msg_type", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"` + id + `","msg_type":"hologram","content":"{}"}`, 230001},
		{"oversize card", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"` + id + `","msg_type":"interactive","content":"{\"x\":\"` + strings.Repeat("y", 31<<10) + `\"}"}`, 230025},
		{"no receive_id_type", appID, "POST", "/open-apis/im/v1/messages", `{"receive_id":"` + id + `","msg_type":"text","content":"{\"text\":\"x\"}"}`, 99992402},
		{"wrong type in body", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":1}`, 232001},
		{"bytes after the body", appID, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"` + id + `","msg_type":"text","content":"{\"text\":\"x\"}"} x`, 232001},
		{"recall in a chat the bot is not in", helperApp, "DELETE", "/open-apis/im/v1/messages/" + asc[2], ``, 230002},
		{"recall twice", appID, "DELETE", "/open-apis/im/v1/messages/" + asc[1], ``, 230011},
		{"reply to a recalled one", appID, "POST", "/open-apis/im/v1/messages/" + asc[1] + "/reply", `{"msg_type":"text","content":"{\"text\":\"x\"}"}`, 230011},
		{"unknown message", appID, "GET", "/open-apis/im/v1/messages/om_nothere", ``, 230001},
		{"history of a chat the bot is not in", helperApp, "GET", "/open-apis/im/v1/messages?container_id_type=chat&container_id=" + id, ``, 230002},
		{"bad page_size", appID, "GET", "/open-apis/im/v1/messages?container_id_type=chat&container_id=" + id + "&page_size=51", ``, 99992402},
	} {
		if status, code := raw(c.cli, c.method, c.path, c.body); code != c.code || status != 400 {
			t.Errorf("%s: HTTP %d code %d, want 400 %d", c.name, status, code, c.code)
		}
	}
}

// TestMessageGolden: the answers of send, reply and history match
// testdata/messages/ (IDs and times masked).
func TestMessageGolden(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Golden").OwnerId(ownerOpenID).Build())
	addMembers(t, cli, id, "user_id", -1, "lisi")
	lisi := openID(t, srv, demoTenant, "lisi", appID)
	tok := "Bearer " + tenantToken(t, srv, appID)
	mask := func(b []byte) []byte {
		s := strings.ReplaceAll(string(b), id, "oc_CHAT")
		s = regexp.MustCompile(`om_[0-9a-f]{32}`).ReplaceAllString(s, "om_MESSAGE")
		s = regexp.MustCompile(`"(create|update)_time":"\d+"`).ReplaceAllString(s, `"${1}_time":"TIME"`)
		return []byte(s)
	}
	sent := do(t, "POST", srv.URL+"/open-apis/im/v1/messages?receive_id_type=chat_id", tok,
		`{"receive_id":"`+id+`","msg_type":"text","content":"{\"text\":\"hi <at user_id=\\\"`+lisi+`\\\">李四</at>\"}"}`)
	golden.JSON(t, filepath.Join("testdata", "messages", "send_text.json"), mask(sent.Body), "  ")
	var out struct {
		Data struct {
			MessageID string `json:"message_id"`
		}
	}
	json.Unmarshal(sent.Body, &out)
	reply := do(t, "POST", srv.URL+"/open-apis/im/v1/messages/"+out.Data.MessageID+"/reply", tok, `{"msg_type":"interactive","content":"{\"elements\":[]}"}`)
	golden.JSON(t, filepath.Join("testdata", "messages", "reply_card.json"), mask(reply.Body), "  ")
	list := do(t, "GET", srv.URL+"/open-apis/im/v1/messages?container_id_type=chat&container_id="+id+"&page_size=1", tok, "")
	s := regexp.MustCompile(`"page_token":"[^"]+"`).ReplaceAllString(string(mask(list.Body)), `"page_token":"TOKEN"`)
	golden.JSON(t, filepath.Join("testdata", "messages", "list_page.json"), []byte(s), "  ")
}

// TestMutedChat: in a chat where only the owner and managers speak
// (set with the SDK's ChatModeration.Update), a member bot's send answers 230018
// and a member's post is refused, until the bot is made a manager; a
// dissolved chat takes no message.
func TestMutedChat(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli, helperCli := client(srv, appID), client(srv, helperApp)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Muted").Build()) // the bot owns it
	mod, err := cli.Im.V1.ChatModeration.Update(ctx, larkim.NewUpdateChatModerationReqBuilder().ChatId(id).
		Body(larkim.NewUpdateChatModerationReqBodyBuilder().ModerationSetting("only_owner").Build()).Build())
	if err != nil || !mod.Success() {
		t.Fatalf("mute: %v %+v", err, mod)
	}
	got, err := cli.Im.V1.ChatModeration.Get(ctx, larkim.NewGetChatModerationReqBuilder().ChatId(id).Build())
	if err != nil || !got.Success() || *got.Data.ModerationSetting != "only_owner" {
		t.Fatalf("moderation: %v %+v", err, got)
	}
	bad, err := cli.Im.V1.ChatModeration.Update(ctx, larkim.NewUpdateChatModerationReqBuilder().ChatId(id).
		Body(larkim.NewUpdateChatModerationReqBodyBuilder().ModerationSetting("everyone_but_bob").Build()).Build())
	if err != nil || bad.Code != 232001 {
		t.Errorf("an unknown moderation_setting: %v %+v", err, bad)
	}
	addMembers(t, cli, id, "app_id", -1, helperApp)
	addMembers(t, cli, id, "user_id", -1, "lisi")
	resp, err := helperCli.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
		Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(text("may I?")).Build()).Build())
	if err != nil || resp.Code != 230018 || resp.StatusCode != 400 {
		t.Errorf("a member bot in a muted chat: %v %+v", err, resp.CodeError)
	}
	if err := srv.Admin("POST", "/admin/v1/chats/"+id+"/messages", map[string]any{"user": "lisi", "content": text("me?")}, nil); err == nil || !strings.Contains(err.Error(), "only the owner and managers") {
		t.Errorf("a member in a muted chat: %v", err)
	}
	send(t, cli, id, "text", text("the owner speaks"))
	mgr, err := cli.Im.V1.ChatManagers.AddManagers(ctx, larkim.NewAddManagersChatManagersReqBuilder().ChatId(id).MemberIdType("app_id").
		Body(larkim.NewAddManagersChatManagersReqBodyBuilder().ManagerIds([]string{helperApp}).Build()).Build())
	if err != nil || !mgr.Success() {
		t.Fatalf("make the helper a manager: %v %+v", err, mgr)
	}
	send(t, helperCli, id, "text", text("now I may"))
	if msgs, err := srv.Messages(id); err != nil || len(msgs) != 2 {
		t.Errorf("messages %v %+v", err, msgs)
	}
	// Dissolved, the chat takes no message: 230001 (invalid receive_id).
	if del, err := cli.Im.V1.Chat.Delete(ctx, larkim.NewDeleteChatReqBuilder().ChatId(id).Build()); err != nil || !del.Success() {
		t.Fatalf("dissolve: %v %+v", err, del)
	}
	if r, err := cli.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
		Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(text("anyone?")).Build()).Build()); err != nil || r.Code != 230001 {
		t.Errorf("a dissolved chat: %v %+v", err, r.CodeError)
	}
}

// TestDirectMessages: a bot sends to a user (receive_id_type open_id,
// user_id, union_id) in their one-to-one chat, the same chat whatever the
// ID and however many first messages race; the user answers there and the
// bot hears it (chat_type p2p) without a mention; the chat is no group to
// the chat APIs; a user outside the visible range is 230013.
func TestDirectMessages(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	got := make(chan *larkim.P2MessageReceiveV1, 4)
	connect(t, srv, appID, dispatcher.NewEventDispatcher("", "").OnP2MessageReceiveV1(func(ctx context.Context, e *larkim.P2MessageReceiveV1) error {
		got <- e
		return nil
	}))
	cli := client(srv, appID)
	direct := func(cli *lark.Client, idType, id, content string) (*larkim.CreateMessageResp, error) {
		return cli.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType(idType).
			Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(content).Build()).Build())
	}
	lisi := openID(t, srv, demoTenant, "lisi", appID)
	// Eight first messages at once: one chat.
	chats := make(chan string, 8)
	for range 8 {
		go func() {
			r, err := direct(cli, "open_id", lisi, text("hello"))
			if err != nil || !r.Success() {
				t.Errorf("send to open_id: %v %+v", err, r)
				chats <- ""
				return
			}
			chats <- *r.Data.ChatId
		}()
	}
	id := <-chats
	for range 7 {
		if c := <-chats; c != id || !strings.HasPrefix(id, "oc_") {
			t.Fatalf("first messages landed in %q and %q", id, c)
		}
	}
	r, err := direct(cli, "user_id", "lisi", text("by user_id"))
	if err != nil || !r.Success() || *r.Data.ChatId != id {
		t.Fatalf("send to user_id: %v %+v", err, r)
	}
	simulatePost(t, srv, id, "lisi", text("hi bot"), nil)
	select {
	case e := <-got:
		if *e.Event.Message.ChatType != "p2p" || *e.Event.Message.ChatId != id || *e.Event.Message.Content != text("hi bot") {
			raw, _ := json.Marshal(e)
			t.Errorf("event %s", raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bot never heard the user")
	}
	hist, err := cli.Im.V1.Message.List(ctx, larkim.NewListMessageReqBuilder().ContainerIdType("chat").ContainerId(id).PageSize(20).Build())
	if err != nil || !hist.Success() || len(hist.Data.Items) != 10 {
		t.Fatalf("history: %v %+v", err, hist)
	}
	// No group: not listed, not readable as a chat.
	list, err := cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().Build())
	if err != nil || !list.Success() {
		t.Fatal(err, list)
	}
	for _, c := range list.Data.Items {
		if *c.ChatId == id {
			t.Error("the one-to-one chat is listed as a group")
		}
	}
	if g, err := cli.Im.V1.Chat.Get(ctx, larkim.NewGetChatReqBuilder().ChatId(id).Build()); err != nil || g.Success() {
		t.Errorf("get the one-to-one chat: %v %+v", err, g)
	}
	// Another bot cannot send into it by its chat_id.
	if r, err := direct(client(srv, helperApp), "chat_id", id, text("me too")); err != nil || r.Success() {
		t.Errorf("another bot in the one-to-one chat: %v %+v", err, r)
	}
	if err := srv.Admin("PATCH", "/admin/v1/apps/feishu/"+helperApp, map[string]any{"visible": []string{"zhangsan"}}, nil); err != nil {
		t.Fatal(err)
	}
	helper := client(srv, helperApp)
	for _, c := range []struct {
		name, idType, id string
		code             int
	}{
		{"outside the visible range", "user_id", "lisi", 230013},
		{"nobody", "open_id", "ou_nobody", 230001},
		{"email", "email", "lisi@example.com", 230001},
		{"another app's open_id", "open_id", lisi, 99992361},
		{"unknown receive_id_type", "phone", "123", 99992402},
	} {
		r, err := direct(helper, c.idType, c.id, text("x"))
		if err != nil || r.Code != c.code {
			t.Errorf("%s: %v %+v", c.name, err, r.CodeError)
		}
	}
	if r, err := direct(helper, "user_id", "zhangsan", text("inside")); err != nil || !r.Success() || *r.Data.ChatId == id {
		t.Errorf("inside the visible range: %v %+v", err, r)
	}
}

// TestSendRateLimit: sends over the tier's limit answer 99991400 with
// HTTP 429 through the SDK; more than 5 a second into one chat, from any
// of its bots, answer 230020.
func TestSendRateLimit(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRateLimits(quntest.Feishu, quntest.Limit{N: 3, Per: time.Minute}))
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Busy").Build())
	for i := range 3 {
		send(t, cli, id, "text", text(fmt.Sprint(i)))
	}
	r, err := cli.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
		Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(text("one too many")).Build()).Build())
	if err != nil || r.Code != 99991400 || r.StatusCode != 429 {
		t.Errorf("fourth send: %v %+v", err, r.CodeError)
	}
	clock := quntest.NewClock()
	srv = quntest.NewServer(t, quntest.WithClock(clock.Now))
	cli, helper := client(srv, appID), client(srv, helperApp)
	id = mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Busy").Build())
	addMembers(t, cli, id, "app_id", -1, helperApp)
	for i := range 5 {
		send(t, []*lark.Client{cli, helper}[i%2], id, "text", text(fmt.Sprint(i)))
	}
	r, err = helper.Im.V1.Message.Create(ctx, larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
		Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(text("sixth")).Build()).Build())
	if err != nil || r.Code != 230020 || r.StatusCode != 429 {
		t.Errorf("a sixth message in a second: %v %+v", err, r.CodeError)
	}
	clock.Advance(time.Second)
	send(t, helper, id, "text", text("a second later"))
}

// TestThreads: a reply with reply_in_thread starts a thread at the
// message replied to (both carry its omt_ thread_id); a reply to a
// message of the thread stays in it; a plain reply is in none.
func TestThreads(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Threads").Build())
	root := *send(t, cli, id, "text", text("topic")).Data.MessageId
	reply := func(to string, inThread bool) *larkim.ReplyMessageRespData {
		t.Helper()
		b := larkim.NewReplyMessageReqBodyBuilder().MsgType("text").Content(text("re"))
		if inThread {
			b.ReplyInThread(true)
		}
		r, err := cli.Im.V1.Message.Reply(ctx, larkim.NewReplyMessageReqBuilder().MessageId(to).Body(b.Build()).Build())
		if err != nil || !r.Success() {
			t.Fatalf("reply: %v %+v", err, r)
		}
		return r.Data
	}
	first := reply(root, true)
	thread := *first.ThreadId
	if !strings.HasPrefix(thread, "omt_") || *first.RootId != root || *first.ParentId != root {
		t.Fatalf("reply in thread: %+v", first)
	}
	g, err := cli.Im.V1.Message.Get(ctx, larkim.NewGetMessageReqBuilder().MessageId(root).Build())
	if err != nil || !g.Success() || g.Data.Items[0].ThreadId == nil || *g.Data.Items[0].ThreadId != thread {
		t.Errorf("the root: %v %+v", err, g)
	}
	if second := reply(*first.MessageId, false); second.ThreadId == nil || *second.ThreadId != thread || *second.RootId != root {
		t.Errorf("a reply in the thread: %+v", second)
	}
	other := *send(t, cli, id, "text", text("another")).Data.MessageId
	if plain := reply(other, false); plain.ThreadId != nil && *plain.ThreadId != "" {
		t.Errorf("a plain reply is in thread %q", *plain.ThreadId)
	}
}
