// Command wecom is the backend side of a WeCom mini-program with the
// github.com/xen0n/go-workwx SDK pointed at qun: it exchanges a
// wx.qy.login code, fetches the agentConfig ticket and creates an app chat.
// To have a code without a phone, it first plays the WeCom client and
// signs zhangsan in through qun's simulated client. Start qun with
// `go run ./cmd/qun serve`, then `go run ./wecom` in examples/; QUN_URL
// points it at another node.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/xen0n/go-workwx"
)

func main() {
	base := os.Getenv("QUN_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	// WithQYAPIHost takes the scheme and host only.
	app := workwx.New("ww0123456789abcdef", workwx.WithQYAPIHost(base)).WithApp("demo-wecom-secret", 1000002)

	code := login(base) // what wx.qy.login gives the mini-program
	session, err := app.JSCode2Session(code)
	if err != nil {
		log.Fatal(err) // *workwx.WorkwxClientError{Code: 40029, ...} for a used or expired code
	}
	fmt.Println("signed in:", session.UserID)

	ticket, err := app.GetJSAPITicketAgentConfig() // sign agentConfig with it
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("agentConfig ticket:", len(ticket) > 0)

	chatID, err := app.CreateAppchat(&workwx.ChatInfo{Name: "周会", OwnerUserID: session.UserID, MemberUserIDs: []string{"zhangsan", "lisi", "lisi2"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(chatID)
}

// login calls wx.qy.login in qun's simulated WeCom client, signed in as
// zhangsan, and returns the code.
func login(base string) string {
	body, _ := json.Marshal(map[string]any{
		"surface": "miniprogram", "name": "login",
		"context": map[string]string{"corp": "ww0123456789abcdef", "user": "zhangsan", "agent": "1000002", "version": "4.1.30", "platform": "windows"},
	})
	resp, err := http.Post(base+"/wecom/client/v1/invoke", "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ErrMsg string `json:"errMsg"`
		Code   string `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Code == "" {
		log.Fatalf("wx.qy.login: %s %v", out.ErrMsg, err)
	}
	return out.Code
}
