package wecom_test

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	workwx "github.com/xen0n/go-workwx"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

const (
	callbackToken = "wxtoken"
	callbackKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// inbox is a developer's callback handler: what go-workwx decoded.
type inbox struct {
	mu  sync.Mutex
	got []string
}

func (b *inbox) OnIncomingMessage(m *workwx.RxMessage) error {
	line := string(m.MsgType) + " " + string(m.Event) + " " + string(m.ChangeType)
	if c, ok := m.EventChangeExternalChat(); ok {
		line += " " + c.GetChatID() + " from=" + c.GetFromUserName() + " to=" + c.GetToUserName()
	}
	b.mu.Lock()
	b.got = append(b.got, line)
	b.mu.Unlock()
	return nil
}

func (b *inbox) wait(t *testing.T, n int) []string {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		if len(b.got) >= n {
			out := slices.Clone(b.got)
			b.mu.Unlock()
			return out
		}
		b.mu.Unlock()
	}
	t.Fatalf("got %q, want %d callbacks", b.got, n)
	return nil
}

// TestCallbacks: go-workwx's NewHTTPHandler, at the app's callback URL,
// verifies the echostr check when the URL is saved, then decodes the
// change_external_chat callbacks of what users do in the client; what
// the app did itself is told to nobody.
func TestCallbacks(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	box := &inbox{}
	h, err := workwx.NewHTTPHandler(callbackToken, callbackKey, box)
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(h)
	defer hook.Close()
	sub := map[string]any{"mode": "webhook", "url": hook.URL, "token": callbackToken, "key": callbackKey}
	if err := srv.Admin("PATCH", "/admin/v1/apps/wecom/"+agent+"?tenant="+corp, map[string]any{"events": sub}, nil); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	signIn(t, srv, zhangsan)
	r := invoke(t, srv, "miniprogram", "createCorpGroupChat", zhangsan, map[string]any{"groupName": "Callbacks", "userIds": []string{"lisi", "user001"}}, nil)
	if r.ErrMsg != "createCorpGroupChat:ok" {
		t.Fatalf("create: %+v", r)
	}
	id := r.ChatID
	for _, a := range []map[string]any{
		{"chat_id": id, "user": "lisi", "action": "leave"},
		{"chat_id": id, "user": "zhangsan", "action": "add", "users": []string{"user002"}},
		{"chat_id": id, "user": "zhangsan", "action": "rename", "name": "Renamed"},
		{"chat_id": id, "user": "zhangsan", "action": "dissolve"},
	} {
		if err := srv.Admin("POST", "/admin/v1/simulate", a, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := box.wait(t, 4)
	slices.Sort(got)
	tail := " " + id + " from=sys to=" + corp
	want := []string{"event change_external_chat dismiss" + tail, "event change_external_chat update" + tail, "event change_external_chat update" + tail, "event change_external_chat update" + tail}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("callbacks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The journal has the details go-workwx does not model.
	var j struct {
		Events []struct {
			Body     string
			Status   string
			Attempts []struct{ Transport, Status string }
		}
	}
	// An attempt is journaled after its answer: wait for the four.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		j.Events = nil
		if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id, nil, &j); err != nil {
			t.Fatal(err)
		}
		done := true
		for _, e := range j.Events {
			done = done && e.Status == "delivered"
		}
		if done || time.Since(start) > 5*time.Second {
			break
		}
	}
	var details []string
	for _, e := range j.Events {
		if e.Status != "delivered" || e.Attempts[0].Transport != "callback" || e.Attempts[0].Status != "200" {
			t.Errorf("journal entry %+v", e)
		}
		for _, d := range []string{"<UpdateDetail><![CDATA[del_member]]></UpdateDetail><QuitScene>0</QuitScene>", "<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>0</JoinScene>", "change_name", "dismiss"} {
			if strings.Contains(e.Body, d) {
				details = append(details, d)
			}
		}
	}
	if len(details) != 4 {
		t.Errorf("details %q in %+v", details, j)
	}

	// A URL whose handler has another token is refused.
	other, _ := workwx.NewHTTPHandler("another", callbackKey, box)
	hook2 := httptest.NewServer(other)
	defer hook2.Close()
	sub["url"] = hook2.URL
	if err := srv.Admin("PATCH", "/admin/v1/apps/wecom/"+agent+"?tenant="+corp, map[string]any{"events": sub}, nil); err == nil || !strings.Contains(err.Error(), "echostr") {
		t.Errorf("saving a URL that fails the check: %v", err)
	}
}

// TestAPIChangesTellNobody: what an app does through appchat produces no
// callback.
func TestAPIChangesTellNobody(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	box := &inbox{}
	h, _ := workwx.NewHTTPHandler(callbackToken, callbackKey, box)
	hook := httptest.NewServer(h)
	defer hook.Close()
	if err := srv.Admin("PATCH", "/admin/v1/apps/wecom/"+agent+"?tenant="+corp, map[string]any{"events": map[string]any{"mode": "webhook", "url": hook.URL, "token": callbackToken, "key": callbackKey}}, nil); err != nil {
		t.Fatal(err)
	}
	a := app(srv)
	id, err := a.CreateAppchat(&workwx.ChatInfo{Name: "API", OwnerUserID: "zhangsan", MemberUserIDs: []string{"zhangsan", "lisi"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Admin("POST", "/admin/v1/simulate", map[string]any{"chat_id": id, "user": "lisi", "action": "leave"}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	var j struct{ Events []any }
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id, nil, &j); err != nil || len(j.Events) != 0 || len(box.got) != 0 {
		t.Errorf("an appchat change was told: %v %v %q", j, err, box.got)
	}
}

// TestCallbackGolden: the plaintext of each change_external_chat, as the
// journal keeps it, matches testdata/events/ (chat ID and time masked).
func TestCallbackGolden(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	h, _ := workwx.NewHTTPHandler(callbackToken, callbackKey, &inbox{})
	hook := httptest.NewServer(h)
	defer hook.Close()
	if err := srv.Admin("PATCH", "/admin/v1/apps/wecom/"+agent+"?tenant="+corp, map[string]any{"events": map[string]any{"mode": "webhook", "url": hook.URL, "token": callbackToken, "key": callbackKey}}, nil); err != nil {
		t.Fatal(err)
	}
	signIn(t, srv, zhangsan)
	r := invoke(t, srv, "miniprogram", "createCorpGroupChat", zhangsan, map[string]any{"groupName": "Golden", "userIds": []string{"lisi", "user001"}}, nil)
	id := r.ChatID
	names := []string{"join", "add", "leave", "remove", "rename", "transfer", "dissolve"}
	for _, a := range []map[string]any{
		{"chat_id": id, "user": "user002", "action": "join"},
		{"chat_id": id, "user": "zhangsan", "action": "add", "users": []string{"user003", "user004"}},
		{"chat_id": id, "user": "lisi", "action": "leave"},
		{"chat_id": id, "user": "zhangsan", "action": "remove", "users": []string{"user001"}},
		{"chat_id": id, "user": "zhangsan", "action": "rename", "name": "Renamed"},
		{"chat_id": id, "user": "zhangsan", "action": "transfer", "users": []string{"user002"}},
		{"chat_id": id, "user": "user002", "action": "dissolve"},
	} {
		if err := srv.Admin("POST", "/admin/v1/simulate", a, nil); err != nil {
			t.Fatal(err)
		}
	}
	var j struct{ Events []struct{ Body string } }
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+id, nil, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Events) != len(names) {
		t.Fatalf("%d callbacks, want %d", len(j.Events), len(names))
	}
	for i, name := range names {
		body := strings.ReplaceAll(j.Events[len(j.Events)-1-i].Body, id, "CHAT_ID")
		body = regexp.MustCompile(`<CreateTime>\d+</CreateTime>`).ReplaceAllString(body, "<CreateTime>TIME</CreateTime>")
		golden.Text(t, filepath.Join("testdata", "events", name+".xml"), []byte(body))
	}
}

// TestAppchatSend: go-workwx's Send*Message calls with a chat recipient
// post into an app chat through /cgi-bin/appchat/send; the admin API
// lists what the app said; every error has its errcode.
func TestAppchatSend(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	a := app(srv)
	id, err := a.CreateAppchat(&workwx.ChatInfo{Name: "Send", OwnerUserID: "zhangsan", MemberUserIDs: []string{"zhangsan", "lisi"}})
	if err != nil {
		t.Fatal(err)
	}
	to := &workwx.Recipient{ChatID: id}
	if err := a.SendTextMessage(to, "hello", false); err != nil {
		t.Fatalf("text: %v", err)
	}
	if err := a.SendMarkdownMessage(to, "**bold**", false); err != nil {
		t.Fatalf("markdown: %v", err)
	}
	if err := a.SendTextCardMessage(to, "Title", "desc", "https://example.com", "more", false); err != nil {
		t.Fatalf("textcard: %v", err)
	}
	var j struct {
		Messages []struct {
			SenderApp string `json:"sender_app"`
			Type      string
			Content   string
		}
	}
	if err := srv.Admin("GET", "/admin/v1/chats/"+id+"/messages", nil, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Messages) != 3 || j.Messages[0].SenderApp != agent || j.Messages[0].Type != "text" || j.Messages[0].Content != `{"content":"hello"}` || j.Messages[2].Type != "textcard" {
		t.Errorf("messages %+v", j.Messages)
	}
	tok := token(t, srv, corp, "demo-wecom-secret")
	for _, c := range []struct {
		body string
		code int
	}{
		{`{"msgtype":"text","text":{"content":"x"}}`, 86201},
		{`{"chatid":"` + id + `","msgtype":"hologram"}`, 40008},
		{`{"chatid":"` + id + `","msgtype":"text"}`, 44004},
		{`{"chatid":"` + id + `","msgtype":"text","text":{"content":""}}`, 44004},
		{`{"chatid":"` + id + `","msgtype":"text","text":{"content":"` + strings.Repeat("x", 2049) + `"}}`, 45002},
		{`{"chatid":"nothere","msgtype":"text","text":{"content":"x"}}`, 86003},
		{`{"chatid":"` + id + `","msgtype":"text","text":{"content":"x"}} trailing`, 47001},
	} {
		if a := post(t, srv, "/cgi-bin/appchat/send", url.Values{"access_token": {tok}}, c.body); a.code() != c.code {
			t.Errorf("%.60s: errcode %d, want %d", c.body, a.code(), c.code)
		}
	}
}

// TestAppchatSendRateLimit: appchat/send over the corporation's limit
// answers 45009 through go-workwx.
func TestAppchatSendRateLimit(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRateLimits(quntest.WeCom, quntest.Limit{N: 2, Per: time.Minute}))
	a := app(srv)
	id, err := a.CreateAppchat(&workwx.ChatInfo{Name: "Busy", OwnerUserID: "zhangsan", MemberUserIDs: []string{"zhangsan", "lisi"}})
	if err != nil {
		t.Fatal(err)
	}
	to := &workwx.Recipient{ChatID: id}
	for i := range 2 {
		if err := a.SendTextMessage(to, "hello", false); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var werr *workwx.WorkwxClientError
	if err := a.SendTextMessage(to, "one too many", false); !errors.As(err, &werr) || werr.Code != 45009 {
		t.Errorf("third send: %v", err)
	}
}

// TestFaults: go-workwx sees injected faults as WeCom's errcodes: 45009
// for the next call, then -1 for every call until the rule is removed.
func TestFaults(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	a := app(srv)
	id, err := a.CreateAppchat(&workwx.ChatInfo{Name: "Faulty", OwnerUserID: "zhangsan", MemberUserIDs: []string{"zhangsan", "lisi"}})
	if err != nil {
		t.Fatal(err)
	}
	var rule struct{ ID string }
	for _, r := range []map[string]any{
		{"platform": "wecom", "path": "/cgi-bin/appchat/send", "times": 1, "error": "rate_limited"},
		{"platform": "wecom", "path": "/cgi-bin/appchat/get", "error": "system_error"},
	} {
		if err := srv.Admin("POST", "/admin/v1/faults", r, &rule); err != nil {
			t.Fatal(err)
		}
	}
	to := &workwx.Recipient{ChatID: id}
	var werr *workwx.WorkwxClientError
	if err := a.SendTextMessage(to, "x", false); !errors.As(err, &werr) || werr.Code != 45009 {
		t.Errorf("an injected 45009: %v", err)
	}
	if err := a.SendTextMessage(to, "x", false); err != nil {
		t.Errorf("the next send: %v", err)
	}
	for range 2 {
		if _, err := a.GetAppchat(id); !errors.As(err, &werr) || werr.Code != -1 {
			t.Errorf("an injected -1: %v", err)
		}
	}
	if err := srv.Admin("DELETE", "/admin/v1/faults/"+rule.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetAppchat(id); err != nil {
		t.Errorf("after the rule's removal: %v", err)
	}
}
