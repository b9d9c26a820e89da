// Package quntest_test shows quntest from outside qun's module: every
// option and method it offers, in tests a bot developer would write.
package quntest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	dingim "github.com/alibabacloud-go/dingtalk/im_1_0"
	dingrobot "github.com/alibabacloud-go/dingtalk/robot_1_0"
	"github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/chatbot"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/xen0n/go-workwx"

	"github.com/qunhq/qun/quntest"
)

// TestCreateChat is the README's "Using qun in Go tests": the official
// Feishu SDK against an in-process node with the demo directory.
func TestCreateChat(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := lark.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret",
		lark.WithOpenBaseUrl(srv.URL),
		lark.WithTokenCache(quntest.NewTokenCache())) // the SDK's default cache is process-wide

	resp, err := cli.Im.V1.Chat.Create(context.Background(), larkim.NewCreateChatReqBuilder().
		Body(larkim.NewCreateChatReqBodyBuilder().Name("周会").Build()).Build())
	if err != nil || !resp.Success() {
		t.Fatalf("create: %v %+v", err, resp)
	}
	var chat struct {
		Name    string `json:"name"`
		Members []any  `json:"members"`
	}
	if err := srv.Admin("GET", "/admin/v1/chats/"+*resp.Data.ChatId, nil, &chat); err != nil {
		t.Fatal(err)
	}
	if chat.Name != "周会" || len(chat.Members) == 0 {
		t.Errorf("stored chat %+v", chat)
	}
}

// TestOwnDirectoryRestartReset: a node on your own fixtures and data
// directory keeps its chats across Restart, and Reset goes back to the
// fixtures.
func TestOwnDirectoryRestartReset(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	srv := quntest.NewServer(t,
		quntest.WithFixtures(filepath.Join("testdata", "fixtures.yaml")),
		quntest.WithDataDir(dir),
		quntest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		quntest.WithRequestTimeout(5*time.Second),
		quntest.WithoutEventDelivery(), // the outbox is written, nothing is pushed
		quntest.WithoutRateLimits())
	if srv.DataDir != dir || !strings.HasPrefix(srv.URL, "http://"+srv.Host) {
		t.Fatalf("DataDir %q URL %q Host %q", srv.DataDir, srv.URL, srv.Host)
	}
	tok := feishuToken(t, srv.URL, "cli_example", "example-secret")
	if code := createChat(t, srv.URL, tok); code != 0 {
		t.Fatalf("create on the fixtures' app: code %d", code)
	}
	srv.Restart()
	if n := len(chats(t, srv)); n != 1 {
		t.Errorf("%d chats after Restart, want 1", n)
	}
	srv.Reset()
	if n := len(chats(t, srv)); n != 0 {
		t.Errorf("%d chats after Reset, want 0", n)
	}
	if !strings.Contains(logs.String(), "request") {
		t.Errorf("WithLogger received no access log:\n%s", logs.String())
	}
	// The admin API is open to any HTTP client with the token.
	req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+quntest.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin with quntest.AdminToken: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestClockAndTokenTTL: a token dies when the test clock passes its
// lifetime.
func TestClockAndTokenTTL(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now), quntest.WithTokenTTL(quntest.Feishu, time.Minute))
	tok := feishuToken(t, srv.URL, "cli_a10fbf7e94b8d01d", "demo-feishu-secret")
	if code := createChat(t, srv.URL, tok); code != 0 {
		t.Fatalf("fresh token: code %d", code)
	}
	clk.Advance(2 * time.Minute)
	if code := createChat(t, srv.URL, tok); code != 99991663 {
		t.Errorf("token past its 1-minute TTL: code %d, want 99991663", code)
	}
	if !clk.Now().After(time.Now().Add(time.Minute)) {
		t.Errorf("clock at %v did not advance", clk.Now())
	}
}

// TestRateLimits: a platform's limits can be tightened to test a bot's
// back-off.
func TestRateLimits(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRateLimits(quntest.Feishu, quntest.Limit{N: 2, Per: time.Minute}),
		quntest.WithRateLimits(quntest.DingTalk), quntest.WithRateLimits(quntest.WeCom, quntest.Limit{N: 1, Per: time.Second}))
	tok := feishuToken(t, srv.URL, "cli_a10fbf7e94b8d01d", "demo-feishu-secret")
	for i, want := range []int{0, 0, 99991400} {
		if code := createChat(t, srv.URL, tok); code != want {
			t.Errorf("create %d: code %d, want %d", i+1, code, want)
		}
	}
}

func feishuToken(t *testing.T, base, app, secret string) string {
	t.Helper()
	var out struct {
		Code  int    `json:"code"`
		Token string `json:"tenant_access_token"`
	}
	call(t, "POST", base+"/open-apis/auth/v3/tenant_access_token/internal", "", `{"app_id":"`+app+`","app_secret":"`+secret+`"}`, &out)
	if out.Code != 0 {
		t.Fatalf("token for %s: code %d", app, out.Code)
	}
	return out.Token
}

func createChat(t *testing.T, base, tok string) int {
	t.Helper()
	var out struct {
		Code int `json:"code"`
	}
	call(t, "POST", base+"/open-apis/im/v1/chats", "Bearer "+tok, `{"name":"g"}`, &out)
	return out.Code
}

func chats(t *testing.T, srv *quntest.Server) []json.RawMessage {
	t.Helper()
	var out struct {
		Chats []json.RawMessage `json:"chats"`
	}
	if err := srv.Admin("GET", "/admin/v1/chats", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Chats
}

func call(t *testing.T, method, url, auth, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, raw)
	}
}

// TestConversation: a user posts in a chat as in the client, a bot
// answers with the SDK, and the test reads the conversation back.
func TestConversation(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := lark.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret",
		lark.WithOpenBaseUrl(srv.URL), lark.WithTokenCache(quntest.NewTokenCache()))
	chat, err := cli.Im.V1.Chat.Create(context.Background(), larkim.NewCreateChatReqBuilder().UserIdType("user_id").
		Body(larkim.NewCreateChatReqBodyBuilder().Name("周会").OwnerId("zhangsan").Build()).Build())
	if err != nil || !chat.Success() {
		t.Fatalf("create: %v %+v", err, chat)
	}
	id := *chat.Data.ChatId
	if _, err := srv.Post(id, "zhangsan", `{"text":"@_user_1 ping"}`, "cli_a10fbf7e94b8d01d"); err != nil {
		t.Fatal(err)
	}
	reply, err := cli.Im.V1.Message.Create(context.Background(), larkim.NewCreateMessageReqBuilder().ReceiveIdType("chat_id").
		Body(larkim.NewCreateMessageReqBodyBuilder().ReceiveId(id).MsgType("text").Content(`{"text":"pong"}`).Build()).Build())
	if err != nil || !reply.Success() {
		t.Fatalf("send: %v %+v", err, reply)
	}
	msgs, err := srv.Messages(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].SenderUser != "zhangsan" || msgs[1].SenderApp != "cli_a10fbf7e94b8d01d" || msgs[1].Content != `{"text":"pong"}` {
		t.Errorf("conversation %+v", msgs)
	}
}

// TestDingTalkBotLoop is the README's DingTalk bot loop: the official
// Stream SDK's chatbot handler hears "@robot ping" and answers through
// sessionWebhook with the SDK's replier.
func TestDingTalkBotLoop(t *testing.T) {
	srv := quntest.NewServer(t)
	cfg := &openapi.Config{Protocol: tea.String("http"), Endpoint: tea.String(srv.Host)}
	im, _ := dingim.NewClient(cfg)
	rc, _ := dingrobot.NewClient(cfg)
	tok := dingtalkToken(t, srv.URL)
	group, err := im.CreateGroupWithOptions(&dingim.CreateGroupRequest{Name: tea.String("周会"), Owner: tea.String("manager4220"), Useridlist: tea.StringSlice([]string{"userId"})},
		&dingim.CreateGroupHeaders{XAcsDingtalkAccessToken: tea.String(tok)}, &service.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.AddOrgRobotInstanceToGroupWithOptions(&dingrobot.AddOrgRobotInstanceToGroupRequest{OpenConversationId: group.Body.OpenConversationId, RobotCode: tea.String("dingqundemo")},
		&dingrobot.AddOrgRobotInstanceToGroupHeaders{XAcsDingtalkAccessToken: tea.String(tok)}, &service.RuntimeOptions{}); err != nil {
		t.Fatal(err)
	}
	cli := client.NewStreamClient(
		client.WithAppCredential(client.NewAppCredentialConfig("dingqundemo", "demo-dingtalk-secret")),
		client.WithOpenApiHost(srv.URL))
	cli.RegisterChatBotCallbackRouter(func(ctx context.Context, m *chatbot.BotCallbackDataModel) ([]byte, error) {
		reply := "pong to " + m.SenderStaffId // m.Text.Content is "@Qun ping"
		return nil, chatbot.NewChatbotReplier().SimpleReplyText(ctx, m.SessionWebhook, []byte(reply))
	})
	if err := cli.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	id := tea.StringValue(group.Body.Chatid)
	if _, err := srv.Post(id, "userId", `{"content":"@Qun ping"}`, "dingqundemo"); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		msgs, err := srv.Messages(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 2 && msgs[1].SenderApp == "dingqundemo" && msgs[1].Content == `{"content":"pong to userId"}` {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no reply: %+v", msgs)
		}
	}
}

func dingtalkToken(t *testing.T, base string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	call(t, "POST", base+"/v1.0/oauth2/accessToken", "", `{"appKey":"dingqundemo","appSecret":"demo-dingtalk-secret"}`, &out)
	return out.AccessToken
}

// TestWeComAppchat is the README's WeCom loop: go-workwx posts into the
// app chat it created; WeCom tells apps nothing of what users say there.
func TestWeComAppchat(t *testing.T) {
	srv := quntest.NewServer(t)
	app := workwx.New("ww0123456789abcdef", workwx.WithQYAPIHost(srv.URL)).WithApp("demo-wecom-secret", 1000002)
	id, err := app.CreateAppchat(&workwx.ChatInfo{Name: "周会", OwnerUserID: "zhangsan", MemberUserIDs: []string{"zhangsan", "lisi"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.SendMarkdownMessage(&workwx.Recipient{ChatID: id}, "**会议** 10:00", false); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.Messages(id)
	if err != nil || len(msgs) != 1 || msgs[0].Type != "markdown" || msgs[0].Content != `{"content":"**会议** 10:00"}` {
		t.Errorf("messages %v %+v", err, msgs)
	}
}
