package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkcore "github.com/larksuite/oapi-sdk-go/v3/core"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

// browser starts headless Chromium for a test ($QUN_CHROMIUM, else
// Debian's chromium). Without it the test is skipped, unless QUN_E2E=1
// (as in CI, which installs it), which makes a missing browser a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("QUN_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		if os.Getenv("QUN_E2E") == "1" {
			t.Fatal("QUN_E2E=1 but no Chromium found (apt-get install chromium, or set QUN_CHROMIUM)")
		}
		t.Skip("browser test skipped: no Chromium found (set QUN_E2E=1 to require it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// screenshot saves the page to $QUN_TEST_ARTIFACTS (default: the test's
// temporary directory) as name.png.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("QUN_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleInBrowser: a person at the console, in headless Chromium:
// a wrong token is refused; among 10,000 chats a search finds one; its
// page shows its members and the calls that made it; a fault added on
// the faults page makes an API call fail with the platform's code; the
// clock advanced past two hours expires a token; reset goes back to the
// fixtures. Screenshots of the pages are saved.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	tok := tenantToken(t, srv)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				feishuPost(t, srv, tok, "/open-apis/im/v1/chats", fmt.Sprintf(`{"name":"chat %05d"}`, i))
			}
		})
	}
	for i := range 10_000 {
		work <- i
	}
	close(work)
	wg.Wait()
	created := feishuPost(t, srv, tok, "/open-apis/im/v1/chats?user_id_type=user_id", `{"name":"Needle 针","user_id_list":["zhangsan","lisi"]}`)
	id := created["data"].(map[string]any)["chat_id"].(string)

	var text string
	must := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("wrong token",
		chromedp.Navigate(srv.URL+"/console"),
		chromedp.SendKeys(`input[name=token]`, "not-the-token"),
		chromedp.Submit(`input[name=token]`),
		chromedp.Text(`[role=alert]`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "Wrong token") {
		t.Errorf("after a wrong token: %q", text)
	}
	screenshot(t, ctx, "01-login-wrong-token")
	must("log in",
		chromedp.SendKeys(`input[name=token]`, quntest.AdminToken),
		chromedp.Submit(`input[name=token]`),
		chromedp.WaitVisible(`table.chats`, chromedp.ByQuery),
		chromedp.Text(`table.chats`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "Needle 针") || !strings.Contains(text, "chat 09") {
		t.Errorf("the newest chats: %.300q", text)
	}
	screenshot(t, ctx, "02-chats")
	must("search",
		chromedp.SendKeys(`input[name=q]`, "Needle"),
		// The list page has a table.chats too: mark it, then wait for the
		// results page's own.
		chromedp.Evaluate(`document.querySelector("table.chats").dataset.stale = "1"`, nil),
		chromedp.Submit(`input[name=q]`),
		chromedp.WaitVisible(`table.chats:not([data-stale])`, chromedp.ByQuery),
		chromedp.Text(`table.chats`, &text, chromedp.ByQuery))
	if !strings.Contains(text, id) || strings.Contains(text, "chat 0") {
		t.Errorf("search results: %.300q", text)
	}
	must("open the chat",
		chromedp.Click(`table.chats a`, chromedp.ByQuery),
		chromedp.WaitVisible(`table.members`, chromedp.ByQuery),
		chromedp.Text(`table.members`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "zhangsan") || !strings.Contains(text, "lisi") {
		t.Errorf("members: %q", text)
	}
	must("the chat's journal", chromedp.Text(`table.journal`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "POST /open-apis/im/v1/chats") {
		t.Errorf("the chat's journal: %.300q", text)
	}
	screenshot(t, ctx, "03-chat")

	// A fault, added on the faults page, fails the next call.
	must("add a fault",
		chromedp.Navigate(srv.URL+"/console/controls"),
		chromedp.WaitVisible(`form.fault`, chromedp.ByQuery),
		chromedp.SetValue(`form.fault select[name=platform]`, "feishu", chromedp.ByQuery),
		chromedp.SendKeys(`form.fault input[name=path]`, "/open-apis/im/v1/chats/*", chromedp.ByQuery),
		chromedp.SetValue(`form.fault select[name=error]`, "rate_limited", chromedp.ByQuery),
		chromedp.SendKeys(`form.fault input[name=times]`, "1", chromedp.ByQuery),
		chromedp.Click(`form.fault button`, chromedp.ByQuery),
		chromedp.WaitVisible(`table.faults`, chromedp.ByQuery),
		chromedp.Text(`table.faults`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "rate_limited") || !strings.Contains(text, "the next 1") {
		t.Errorf("fault rules: %q", text)
	}
	screenshot(t, ctx, "04-faults")
	// The official SDK's next call meets the fault, the one after does not.
	sdk := lark.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret", lark.WithOpenBaseUrl(srv.URL),
		lark.WithTokenCache(quntest.NewTokenCache()), lark.WithLogLevel(larkcore.LogLevelError))
	get := func() (*larkim.GetChatResp, error) {
		return sdk.Im.V1.Chat.Get(context.Background(), larkim.NewGetChatReqBuilder().ChatId(id).Build())
	}
	if r, err := get(); err != nil || r.Code != 99991400 || r.StatusCode != 429 {
		t.Errorf("the SDK's call after the fault: %v %+v", err, r)
	}
	if r, err := get(); err != nil || !r.Success() {
		t.Errorf("the SDK's call after that: %v %+v", err, r)
	}
	must("the journal shows the injected call",
		chromedp.Navigate(srv.URL+"/console/journal?code=99991400"),
		chromedp.WaitVisible(`table.journal`, chromedp.ByQuery),
		chromedp.Text(`table.journal`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "fault f_") {
		t.Errorf("journal: %.300q", text)
	}
	screenshot(t, ctx, "05-journal")

	// The clock, advanced past two hours, expires the token.
	must("advance the clock",
		chromedp.Navigate(srv.URL+"/console/controls"),
		chromedp.WaitVisible(`input[name=by]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=by]`, "2h1s", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Advance"]`),
		chromedp.WaitVisible(`#notice`, chromedp.ByQuery),
		chromedp.Navigate(srv.URL+"/console/controls"),
		chromedp.Text(`main`, &text, chromedp.ByQuery))
	if !strings.Contains(text, "ahead of the real time") {
		t.Errorf("the clock: %.300q", text)
	}
	if code := feishuCode(t, srv, tok, "GET", "/open-apis/im/v1/chats/"+id); code != 99991663 {
		t.Errorf("a token after two hours: code %d", code)
	}
	must("back to the real time", chromedp.Click(`//button[text()="Back to the real time"]`), chromedp.WaitVisible(`#notice`, chromedp.ByQuery))

	// Reset: the chats are gone.
	must("reset",
		chromedp.Navigate(srv.URL+"/console"),
		chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`//button[text()="Reset"]`),
		chromedp.WaitVisible(`#notice`, chromedp.ByQuery))
	// The page reloads once the reset answered: wait for the empty list.
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		must("after reset", chromedp.Navigate(srv.URL+"/console"), chromedp.Text(`main`, &text, chromedp.ByQuery))
		if strings.Contains(text, "No chats yet") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after reset: %.200q", text)
		}
	}
	must("directory", chromedp.Navigate(srv.URL+"/console/directory?q=zhang"), chromedp.WaitVisible(`details`, chromedp.ByQuery))
	screenshot(t, ctx, "06-directory")
}

// feishuPost calls a Feishu API with a token and returns the answer.
func feishuPost(t testing.TB, srv *quntest.Server, tok, path, body string) map[string]any {
	t.Helper()
	out := map[string]any{}
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return out
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&out)
	if out["code"] != float64(0) {
		t.Errorf("POST %s: %v", path, out)
	}
	return out
}
