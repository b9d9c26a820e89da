// Command wecom-events receives WeCom callbacks with go-workwx's handler:
// it serves a callback URL, subscribes app 1000002 to it through qun's
// admin API (QUN_ADMIN_TOKEN: the token qun printed), has zhangsan create
// a corp-group chat in qun's simulated client and lisi leave it there, and
// prints the change_external_chat callback (WeCom sends none for what the
// app does through the API). Start qun with `go run ./cmd/qun serve`,
// then `QUN_ADMIN_TOKEN=… go run ./wecom-events` in examples/; QUN_URL
// points it at another node.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/xen0n/go-workwx"
)

// inbox is the app's callback handler.
type inbox chan string

func (b inbox) OnIncomingMessage(m *workwx.RxMessage) error {
	if c, ok := m.EventChangeExternalChat(); ok {
		b <- string(m.Event) + " " + string(m.ChangeType) + " " + c.GetChatID()
	}
	return nil
}

func main() {
	base := os.Getenv("QUN_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	got := make(inbox, 1)
	h, err := workwx.NewHTTPHandler("callback-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", got)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, h)

	// Subscribe: qun checks the URL with an echostr first, as WeCom does.
	call(base, "PATCH", "/admin/v1/apps/wecom/1000002?tenant=ww0123456789abcdef", map[string]any{"events": map[string]any{
		"mode": "webhook", "url": "http://" + ln.Addr().String() + "/callback",
		"token": "callback-token", "key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
	}})

	// zhangsan signs in to the app and creates a corp-group chat in the
	// client; then lisi leaves it there.
	zhangsan := map[string]string{"corp": "ww0123456789abcdef", "user": "zhangsan", "agent": "1000002", "version": "4.1.30", "platform": "windows"}
	login := call(base, "POST", "/wecom/client/v1/invoke", map[string]any{"surface": "miniprogram", "name": "login", "context": zhangsan})
	app := workwx.New("ww0123456789abcdef", workwx.WithQYAPIHost(base)).WithApp("demo-wecom-secret", 1000002)
	if _, err := app.JSCode2Session(login["code"].(string)); err != nil {
		log.Fatal(err)
	}
	chat := call(base, "POST", "/wecom/client/v1/invoke", map[string]any{"surface": "miniprogram", "name": "createCorpGroupChat", "context": zhangsan,
		"args": map[string]any{"groupName": "events", "userIds": []string{"lisi"}}})
	call(base, "POST", "/admin/v1/simulate", map[string]any{"chat_id": chat["chatId"], "user": "lisi", "action": "leave"})
	fmt.Println(<-got) // change_external_chat update wr…
}

// call makes a JSON request to qun (with the admin token) and decodes the
// answer.
func call(base, method, path string, body any) map[string]any {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+os.Getenv("QUN_ADMIN_TOKEN"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		log.Fatalf("%s %s: HTTP %d %v %v", method, path, resp.StatusCode, out, err)
	}
	return out
}
