package dingtalk_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	"github.com/alibabacloud-go/tea/tea"
	streamclient "github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/event"

	"github.com/gorilla/websocket"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

// got collects what a bot's handler received, one line per event:
// "<eventType> userId=<…> title=… owner=… operator=…".
type got struct {
	mu      sync.Mutex
	lines   []string
	ids     []string
	notify  chan struct{}
	later   int // answer LATER this many times more
	headers []event.EventHeader
}

func newGot() *got { return &got{notify: make(chan struct{}, 256)} }

type groupEvent struct {
	ChatID             string   `json:"chatId"`
	CorpID             string   `json:"corpId"`
	Operator           string   `json:"operator"`
	OpenConversationID string   `json:"openConversationId"`
	UserID             []string `json:"userId"`
	UnionID            []string `json:"unionId"`
	Title              string   `json:"title"`
	Owner              string   `json:"owner"`
	EventType          string   `json:"eventType"`
	TimeStamp          string   `json:"timeStamp"`
	// The HTTP callback's flattened fields.
	FlatType string `json:"EventType"`
	EventID  string `json:"eventId"`
}

func (g *got) add(id string, e groupEvent) bool {
	g.mu.Lock()
	defer func() { g.mu.Unlock(); g.notify <- struct{}{} }()
	line := fmt.Sprintf("%s userId=%s operator=%s", e.EventType, strings.Join(e.UserID, ","), e.Operator)
	if e.Title != "" {
		line += " title=" + e.Title
	}
	if e.Owner != "" {
		line += " owner=" + e.Owner
	}
	g.lines = append(g.lines, line)
	g.ids = append(g.ids, id)
	if g.later > 0 {
		g.later--
		return false
	}
	return true
}

func (g *got) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		if len(g.lines) >= n {
			out := append([]string(nil), g.lines...)
			g.mu.Unlock()
			return out
		}
		g.mu.Unlock()
		select {
		case <-g.notify:
		case <-deadline:
			t.Fatalf("got %d events, want %d: %q", len(g.lines), n, g.lines)
		}
	}
}

func (g *got) quiet(t *testing.T, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.lines) > n {
		t.Errorf("got %d events, want %d: %q", len(g.lines), n, g.lines[n:])
	}
}

// stream starts the official Stream client of app against srv, every
// EVENT routed to g, and waits until qun holds the connection.
func stream(t *testing.T, srv *quntest.Server, app string, g *got) {
	t.Helper()
	cli := streamclient.NewStreamClient(
		streamclient.WithAppCredential(streamclient.NewAppCredentialConfig(app, secrets[app])),
		streamclient.WithOpenApiHost(srv.URL),
		streamclient.WithAutoReconnect(false),
	)
	cli.RegisterAllEventRouter(event.NewDefaultEventFrameHandler(func(_ context.Context, h *event.EventHeader, raw []byte) (event.EventProcessStatusType, error) {
		var e groupEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Errorf("event data %s: %v", raw, err)
		}
		g.mu.Lock()
		g.headers = append(g.headers, *h)
		g.mu.Unlock()
		if !g.add(h.EventId, e) {
			return event.EventProcessStatusKLater, nil
		}
		return event.EventProcessStatusKSuccess, nil
	}).OnEventReceived)
	if err := cli.Start(context.Background()); err != nil {
		t.Fatalf("stream start: %v", err)
	}
	t.Cleanup(cli.Close)
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		var out struct{ Connections []struct{ App string } }
		if err := srv.Admin("GET", "/admin/v1/connections", nil, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Connections) > 0 {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the stream connection never registered")
		}
	}
}

// callbackKey and the decoder below follow DingTalk's callback document
// (and WeCom's, whose scheme it is), independently of qun's code: there
// is no official Go decoder.
const (
	callbackToken = "cbtoken"
	callbackKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

func sign(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

func decrypt(t *testing.T, enc string) ([]byte, string) {
	key, _ := base64.StdEncoding.DecodeString(callbackKey + "=")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw)%16 != 0 {
		t.Fatalf("ciphertext %q", enc)
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, raw)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 || len(plain)%32 != 0 {
		t.Fatalf("padding %d of %d bytes: not PKCS#7 to 32", pad, len(plain))
	}
	plain = plain[:len(plain)-pad]
	n := binary.BigEndian.Uint32(plain[16:20])
	return plain[20 : 20+n], string(plain[20+n:])
}

func encrypt(msg, receiver string) string {
	key, _ := base64.StdEncoding.DecodeString(callbackKey + "=")
	var b bytes.Buffer
	b.WriteString("0123456789abcdef")
	binary.Write(&b, binary.BigEndian, uint32(len(msg)))
	b.WriteString(msg + receiver)
	pad := 32 - b.Len()%32
	b.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, _ := aes.NewCipher(key)
	out := make([]byte, b.Len())
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, b.Bytes())
	return base64.StdEncoding.EncodeToString(out)
}

// TestHTTPCallback: with an HTTP callback URL, the URL is checked with
// check_url when saved, and events arrive encrypted, signed, flattened.
func TestHTTPCallback(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	g := newGot()
	var checked bool
	robotMsgs := make(chan map[string]any, 2)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var body struct{ Encrypt string }
		raw, _ := io.ReadAll(r.Body)
		if ts := r.Header.Get("timestamp"); ts != "" {
			// The robot's message: plain JSON, signed with the app secret
			// as DingTalk's robot documentation gives it.
			mac := hmac.New(sha256.New, []byte(appSecret))
			io.WriteString(mac, ts+"\n"+appSecret)
			var m map[string]any
			if r.Header.Get("sign") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) || json.Unmarshal(raw, &m) != nil {
				t.Errorf("robot message: sign %q body %s", r.Header.Get("sign"), raw)
			}
			robotMsgs <- m
			return
		}
		if err := json.Unmarshal(raw, &body); err != nil || sign(callbackToken, q.Get("timestamp"), q.Get("nonce"), body.Encrypt) != q.Get("msg_signature") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		msg, receiver := decrypt(t, body.Encrypt)
		if receiver != appKey {
			t.Errorf("receiver %q, want the appKey", receiver)
		}
		var e groupEvent
		json.Unmarshal(msg, &e)
		if e.FlatType == "check_url" {
			checked = true
		} else {
			e.EventType = e.FlatType
			g.add(e.EventID, e)
		}
		enc := encrypt("success", appKey)
		json.NewEncoder(w).Encode(map[string]string{"msg_signature": sign(callbackToken, "1700000000000", "n0nce", enc), "timeStamp": "1700000000000", "nonce": "n0nce", "encrypt": enc})
	}))
	defer hook.Close()
	sub := map[string]any{"mode": "webhook", "url": hook.URL + "/cb?x=1", "token": callbackToken, "key": callbackKey}
	if err := srv.Admin("PATCH", "/admin/v1/apps/dingtalk/"+appKey, map[string]any{"events": sub}, nil); err != nil || !checked {
		t.Fatalf("subscribe: %v (check_url seen: %v)", err, checked)
	}
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"})}); err != nil {
		t.Fatal(err)
	}
	if lines := g.wait(t, 1); lines[0] != "chat_add_member userId=lisi operator=" || len(g.ids[0]) != 32 {
		t.Errorf("event %q id %q", lines[0], g.ids[0])
	}
	g.quiet(t, 1)
	// The robot hears its @ over HTTP and replies through sessionWebhook,
	// a URL of the node.
	addRobot(t, srv, demo, tea.StringValue(resp.Body.OpenConversationId))
	if err := srv.Admin("POST", "/admin/v1/chats/"+tea.StringValue(resp.Body.Chatid)+"/messages", map[string]any{"user": "lisi", "content": `{"content":"@Qun hi"}`,
		"mentions": []map[string]string{{"key": "@Qun", "app": appKey}}}, nil); err != nil {
		t.Fatal(err)
	}
	m := <-robotMsgs
	hookURL, _ := m["sessionWebhook"].(string)
	if m["senderStaffId"] != "lisi" || m["isInAtList"] != true || !strings.HasPrefix(hookURL, srv.URL+"/robot/sendBySession?session=") {
		t.Errorf("robot message %v", m)
	}
	r, err := http.Post(hookURL, "application/json", strings.NewReader(`{"msgtype":"text","text":{"content":"hello lisi"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Errcode int
		Errmsg  string
	}
	json.NewDecoder(r.Body).Decode(&answer)
	r.Body.Close()
	if answer.Errcode != 0 || answer.Errmsg != "ok" {
		t.Errorf("reply: %+v", answer)
	}
	// A wrong token is refused when saved.
	sub["token"] = "other"
	if err := srv.Admin("PATCH", "/admin/v1/apps/dingtalk/"+appKey, map[string]any{"events": sub}, nil); err == nil || !strings.Contains(err.Error(), "check_url") {
		t.Errorf("a callback URL answering with another token was saved: %v", err)
	}
}

// TestEventGolden: the data of every group event, as the journal keeps
// it, matches testdata/events/ (IDs and times masked).
func TestEventGolden(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	id, cid := tea.StringValue(resp.Body.Chatid), tea.StringValue(resp.Body.OpenConversationId)
	for _, s := range []*im.UpdateGroupRequest{
		{Chatid: tea.String(id), AddUseridlist: tea.StringSlice([]string{"lisi"})},
		{Chatid: tea.String(id), Name: tea.String("Renamed"), Owner: tea.String("lisi")},
		{Chatid: tea.String(id), DelUseridlist: tea.StringSlice([]string{"userId"})},
	} {
		if _, err := demo.update(s); err != nil {
			t.Fatal(err)
		}
	}
	addRobot(t, srv, demo, cid)
	if err := srv.Admin("POST", "/admin/v1/chats/"+id+"/messages", map[string]any{"user": "lisi", "content": `{"content":"@Qun ping @user001"}`,
		"mentions": []map[string]string{{"key": "@Qun", "app": appKey}}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range []map[string]any{
		{"chat_id": id, "user": "lisi", "action": "add", "users": []string{"user001"}},
		{"chat_id": id, "user": "user001", "action": "leave"},
		{"chat_id": id, "user": "lisi", "action": "dissolve"},
	} {
		if err := srv.Admin("POST", "/admin/v1/simulate", a, nil); err != nil {
			t.Fatal(err)
		}
	}
	var j struct{ Events []struct{ Type, Body string } }
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id, nil, &j); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := len(j.Events) - 1; i >= 0; i-- {
		e := j.Events[i]
		name := e.Type
		if name == "/v1.0/im/bot/messages/get" {
			name = "bot_message"
		}
		if seen[name] {
			name += ".2"
		}
		seen[name] = true
		body := strings.NewReplacer(id, "CHAT_ID", cid, "OPEN_CONVERSATION_ID").Replace(e.Body)
		body = regexp.MustCompile(`"timeStamp":"\d+"`).ReplaceAllString(body, `"timeStamp":"TIME"`)
		body = regexp.MustCompile(`"(createAt|sessionWebhookExpiredTime)":\d+`).ReplaceAllString(body, `"${1}":0`)
		body = regexp.MustCompile(`"msgId":"msg[0-9a-f]{32}"`).ReplaceAllString(body, `"msgId":"MESSAGE_ID"`)
		body = regexp.MustCompile(`session=[^"]+`).ReplaceAllString(body, `session=SESSION`)
		golden.JSON(t, filepath.Join("testdata", "events", name+".json"), []byte(body), "  ")
	}
	if len(seen) != 8 {
		t.Errorf("payloads %v, want the six group events (chat_add_member twice) and the robot's message", seen)
	}
}

// TestStreamBadInput: the gateway answers a malformed body and bad
// credentials with DingTalk's errors, refuses a forged ticket, and a
// connection survives answers that are not JSON.
func TestStreamBadInput(t *testing.T) {
	srv := quntest.NewServer(t)
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/v1.0/gateway/connections/open", "application/json", strings.NewReader(body))
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
		code   string
	}{
		{`{`, 400, "parameter.invalid"},
		{`{"clientId":"dingqundemo","clientSecret":"demo-dingtalk-secret"} x`, 400, "parameter.invalid"},
		{`{"clientId":1}`, 400, "parameter.invalid"},
		{`{"clientId":"dingqundemo"}`, 400, "parameter.invalid"},
		{`{"clientId":"dingqundemo","clientSecret":"wrong"}`, 400, "invalidClientIdOrSecret"},
	} {
		if status, out := post(c.body); status != c.status || out["code"] != c.code || out["requestid"] == nil {
			t.Errorf("%s: %d %v, want %d %s", c.body, status, out, c.status, c.code)
		}
	}
	_, out := post(`{"clientId":"dingqundemo","clientSecret":"demo-dingtalk-secret","subscriptions":[{"type":"EVENT","topic":"*"}]}`)
	endpoint, ticket := out["endpoint"].(string), out["ticket"].(string)
	if _, resp, err := websocket.DefaultDialer.Dial(endpoint+"?ticket=forged", nil); err == nil || resp.StatusCode != 400 {
		t.Errorf("a forged ticket: %v %+v", err, resp)
	}
	conn, _, err := websocket.DefaultDialer.Dial(endpoint+"?ticket="+ticket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("not json"))
	conn.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	conn.WriteMessage(websocket.TextMessage, []byte(`{"code":200,"headers":{"messageId":"unknown"}}`))
	if err := conn.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	pong := make(chan string, 1)
	conn.SetPongHandler(func(s string) error { pong <- s; return nil })
	go conn.ReadMessage()
	select {
	case s := <-pong:
		if s != "hi" {
			t.Errorf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Error("no pong: the connection did not survive")
	}
}

// TestSilenceFault: with a silence rule for the app, qun stops answering
// its Stream connection's pings (the official SDK then gives up the
// connection after 5 s; v0.9.1 also panics doing so, sending on a channel
// it closed, so this test plays the client with a plain WebSocket);
// removed, pings are answered again.
func TestSilenceFault(t *testing.T) {
	srv := quntest.NewServer(t)
	resp, err := http.Post(srv.URL+"/v1.0/gateway/connections/open", "application/json",
		strings.NewReader(`{"clientId":"dingqundemo","clientSecret":"demo-dingtalk-secret","subscriptions":[{"type":"EVENT","topic":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Endpoint, Ticket string }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	conn, _, err := websocket.DefaultDialer.Dial(out.Endpoint+"?ticket="+out.Ticket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pong := make(chan string, 4)
	conn.SetPongHandler(func(s string) error { pong <- s; return nil })
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ping := func(data string, want bool) {
		t.Helper()
		if err := conn.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-pong:
			if !want || s != data {
				t.Errorf("ping %s: pong %q (want one: %v)", data, s, want)
			}
		case <-time.After(700 * time.Millisecond):
			if want {
				t.Errorf("ping %s: no pong", data)
			}
		}
	}
	ping("before", true)
	var rule struct{ ID string }
	if err := srv.Admin("POST", "/admin/v1/faults", map[string]any{"platform": "dingtalk", "app": appKey, "delivery": "silence"}, &rule); err != nil {
		t.Fatal(err)
	}
	ping("during", false)
	ping("still", false)
	if err := srv.Admin("DELETE", "/admin/v1/faults/"+rule.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	ping("after", true)
}
