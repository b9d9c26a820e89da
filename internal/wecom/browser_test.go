package wecom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	workwx "github.com/xen0n/go-workwx"

	"github.com/qunhq/qun/quntest"
)

// Browser end-to-end tests: headless Chromium opens a developer's pages
// that run in qun's simulated WeCom app. One page uses the official
// @wecom/jssdk (installed by `npm ci` in e2e/), registering with
// agentConfig signatures its backend computes; the other is a
// mini-program-style page using wx.qy. Without Chromium or the SDK the
// tests skip, unless QUN_E2E=1 (as in CI), which makes that a failure.

// jssdkPath is the official SDK's browser build.
var jssdkPath = filepath.Join("..", "..", "e2e", "node_modules", "@wecom", "jssdk", "dist", "wecom.global.js")

var chrome struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.cancel != nil {
		chrome.cancel()
	}
	os.Exit(code)
}

// chromium finds the browser: $QUN_CHROMIUM, else Debian's chromium.
func chromium() string {
	if p := os.Getenv("QUN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab opens a new browser tab for the test, starting the browser once.
func tab(t *testing.T) context.Context {
	t.Helper()
	need := func(what string) {
		if os.Getenv("QUN_E2E") == "1" {
			t.Fatalf("QUN_E2E=1 but %s", what)
		}
		t.Skipf("browser test skipped: %s (set QUN_E2E=1 to require it)", what)
	}
	path := chromium()
	if path == "" {
		need("no Chromium found (apt-get install chromium, or set QUN_CHROMIUM)")
	}
	if _, err := os.Stat(jssdkPath); err != nil {
		need("@wecom/jssdk is not installed (cd e2e && npm ci)")
	}
	chrome.once.Do(func() {
		dir, err := os.MkdirTemp("", "qun-chromium-")
		if err != nil {
			chrome.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(dir),
			chromedp.Flag("disable-dev-shm-usage", true))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		chrome.ctx = ctx
		chrome.cancel = func() { cancel(); cancelAlloc(); os.RemoveAll(dir) }
		chrome.err = chromedp.Run(ctx) // starts the browser
	})
	if chrome.err != nil {
		t.Fatalf("start Chromium: %v", chrome.err)
	}
	ctx, cancel := chromedp.NewContext(chrome.ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

// developer is a developer's web app: its pages and its backend, which
// holds the app's secret and talks to qun through go-workwx.
type developer struct {
	t     *testing.T
	qun   *quntest.Server
	http  *httptest.Server
	badMu sync.Mutex
	bad   bool // the backend signs with the wrong ticket
}

func newDeveloper(t *testing.T, srv *quntest.Server) *developer {
	d := &developer{t: t, qun: srv}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jssdk.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, jssdkPath)
	})
	// The agentConfig signature for a page URL, as a backend computes it.
	mux.HandleFunc("GET /sign", func(w http.ResponseWriter, r *http.Request) {
		ticket, err := d.backend().GetJSAPITicketAgentConfig()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		d.badMu.Lock()
		if d.bad {
			ticket = "not-the-ticket"
		}
		d.badMu.Unlock()
		ts, nonce := fmt.Sprint(time.Now().Unix()), "qunNonce42"
		json.NewEncoder(w).Encode(map[string]any{"timestamp": ts, "nonceStr": nonce, "signature": sign(ticket, nonce, ts, r.URL.Query().Get("url"))})
	})
	// The mini-program backend's code exchange.
	mux.HandleFunc("GET /jscode2session", func(w http.ResponseWriter, r *http.Request) {
		s, err := d.backend().JSCode2Session(r.URL.Query().Get("code"))
		if err != nil {
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"userid": s.UserID, "corpid": s.CorpID})
	})
	mux.HandleFunc("GET /h5", d.servePage(h5Page))
	mux.HandleFunc("GET /mini", d.servePage(miniPage))
	d.http = httptest.NewServer(mux)
	t.Cleanup(d.http.Close)
	return d
}

// backend is the app's SDK client. A new one per request gets the current
// token and tickets, as a backend that refreshes them does.
func (d *developer) backend() *workwx.WorkwxApp { return app(d.qun) }

func (d *developer) signBadly(bad bool) {
	d.badMu.Lock()
	defer d.badMu.Unlock()
	d.bad = bad
}

// page is what a page template gets: qun's client script URL and the app.
type page struct {
	Client template.URL
	Corp   string
	Agent  string
}

// servePage renders a page; the query string says who is signed in.
func (d *developer) servePage(tpl *template.Template) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		client := d.qun.URL + "/wecom/client/client.js?" + q.Encode()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		tpl.Execute(w, page{Client: template.URL(client), Corp: q.Get("corp"), Agent: q.Get("agent")})
	}
}

// h5Page uses the official JS-SDK: register with agentConfig, then
// window.create calls ww.createCorpGroupChat and settles with its result.
var h5Page = template.Must(template.New("h5").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>H5</title>
<script src="{{.Client}}"></script>
<script src="/jssdk.js"></script>
</head><body>
<script>
ww.register({
  corpId: {{.Corp}},
  agentId: {{.Agent}},
  jsApiList: ['createCorpGroupChat'],
  getAgentConfigSignature: async function (url) {
    const r = await fetch('/sign?url=' + encodeURIComponent(url));
    return r.json();
  }
});
window.create = function (args) {
  return ww.createCorpGroupChat(args).then(function (res) { return res; }, function (err) { return err; });
};
window.env = { ua: navigator.userAgent, platform: navigator.platform };
window.ready = true;
</script>
</body></html>`))

// miniPage uses wx.qy: window.call runs an API with success/fail
// callbacks; window.exchange has the backend exchange a code.
var miniPage = template.Must(template.New("mini").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Mini</title>
<script src="{{.Client}}"></script>
</head><body>
<script>
window.call = function (api, args) {
  return new Promise(function (resolve) {
    var completed = 0, outcome;
    var opts = Object.assign({}, args, {
      success: function (res) { outcome = { ok: true, res: res }; },
      fail: function (res) { outcome = { ok: false, res: res }; },
      complete: function () { completed++; resolve(Object.assign({ completed: completed }, outcome)); }
    });
    wx.qy[api](opts);
  });
};
window.exchange = async function (code) {
  return (await fetch('/jscode2session?code=' + encodeURIComponent(code))).json();
};
window.ready = true;
</script>
</body></html>`))

// open loads a page for client c and waits until its script is ready.
func (d *developer) open(ctx context.Context, kind string, c client) {
	d.t.Helper()
	q := url.Values{"corp": {c.Corp}, "user": {c.User}, "agent": {c.Agent}, "version": {c.Version}, "platform": {c.Platform}}
	if err := chromedp.Run(ctx, chromedp.Navigate(d.http.URL+"/"+kind+"?"+q.Encode()), chromedp.Poll(`window.ready === true`, nil)); err != nil {
		d.t.Fatalf("open %s page: %v", kind, err)
	}
}

// eval runs a script on the page, awaiting its promise, into out.
func eval(t *testing.T, ctx context.Context, script string, out any) {
	t.Helper()
	err := chromedp.Run(ctx, chromedp.Evaluate(script, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if err != nil {
		t.Fatalf("evaluate %s: %v", script, err)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// jsResult is what ww.createCorpGroupChat settles with.
type jsResult struct {
	ErrMsg  string `json:"errMsg"`
	ErrCode int    `json:"errCode"`
	ChatID  string `json:"chatId"`
}

// TestBrowserJSSDK: the official @wecom/jssdk, unchanged, registers with
// agentConfig and creates the seed's corp-group chat; a bad signature and
// an old client fail as the SDK reports them.
func TestBrowserJSSDK(t *testing.T) {
	ctx := tab(t)
	srv := quntest.NewServer(t)
	dev := newDeveloper(t, srv)
	dev.open(ctx, "h5", zhangsan)

	var env struct{ UA, Platform string }
	eval(t, ctx, `window.env`, &env)
	if !strings.Contains(env.UA, "wxwork/4.1.30") || env.Platform != "Win32" {
		t.Errorf("the page sees %+v", env)
	}
	var res jsResult
	eval(t, ctx, `window.create(`+js(seedArgs())+`)`, &res)
	if res.ErrMsg != "createCorpGroupChat:ok" || res.ErrCode != 0 || !chatIDShape.MatchString(res.ChatID) {
		t.Fatalf("ww.createCorpGroupChat = %+v", res)
	}
	d := adminChat(t, srv, res.ChatID)
	want := []string{corp + "/zhangsan", corp + "/lisi", corp + "/lisi2", "ww3333/userid123", "ww4444/userid123", corp + "/exid1", corp + "/exid2"}
	if d.Class != "corp_group" || d.Name != "讨论组" || !slices.Equal(d.members(), want) {
		t.Errorf("stored chat %+v with members %v, want %v", d, d.members(), want)
	}

	// The same page, signed by a backend that uses the wrong ticket: the
	// SDK's agentConfig fails, and with it the call.
	dev.signBadly(true)
	dev.open(ctx, "h5", zhangsan)
	res = jsResult{}
	eval(t, ctx, `window.create(`+js(seedArgs())+`)`, &res)
	if res.ErrMsg != "agentConfig:fail invalid signature" || res.ChatID != "" {
		t.Errorf("with a bad signature: %+v", res)
	}
	dev.signBadly(false)

	old := zhangsan
	old.Version = "3.1.7"
	dev.open(ctx, "h5", old)
	res = jsResult{}
	eval(t, ctx, `window.create(`+js(seedArgs())+`)`, &res)
	if res.ErrMsg != "createCorpGroupChat:function not exist" || res.ErrCode != -1 {
		t.Errorf("on WeCom 3.1.7: %+v", res)
	}

	over := map[string]any{"groupName": "大群", "userIds": append(users(45), ghosts(1955)...)}
	dev.open(ctx, "h5", zhangsan)
	res = jsResult{}
	eval(t, ctx, `window.create(`+js(over)+`)`, &res)
	if res.ErrMsg != "createCorpGroupChat:fail exceed user id list size" {
		t.Errorf("2001 people: %+v", res)
	}
	var list struct{ Chats []any }
	if err := srv.Admin("GET", "/admin/v1/chats?platform=wecom", nil, &list); err != nil || len(list.Chats) != 1 {
		t.Errorf("%d chats stored (%v), want only the first", len(list.Chats), err)
	}
}

// ghosts returns n IDs of nobody.
func ghosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ghost%04d", i)
	}
	return out
}

// miniOutcome is what window.call settles with.
type miniOutcome struct {
	OK        bool   `json:"ok"`
	Completed int    `json:"completed"`
	Res       result `json:"res"`
}

// TestBrowserMiniProgram: login → the backend's jscode2session →
// checkSession → createCorpGroupChat, and every failure the issue lists.
func TestBrowserMiniProgram(t *testing.T) {
	ctx := tab(t)
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	dev := newDeveloper(t, srv)

	call := func(api string, args any) miniOutcome {
		t.Helper()
		var out miniOutcome
		eval(t, ctx, `window.call(`+js(api)+`, `+js(args)+`)`, &out)
		if out.Completed != 1 {
			t.Errorf("%s: complete ran %d times", api, out.Completed)
		}
		if out.OK != strings.HasSuffix(out.Res.ErrMsg, ":ok") {
			t.Errorf("%s: success callback %v with %q", api, out.OK, out.Res.ErrMsg)
		}
		return out
	}
	signIn := func() {
		t.Helper()
		login := call("login", map[string]any{})
		if !login.OK || login.Res.Code == "" {
			t.Fatalf("wx.qy.login: %+v", login)
		}
		var ex map[string]string
		eval(t, ctx, `window.exchange(`+js(login.Res.Code)+`)`, &ex)
		if ex["userid"] != initiator || ex["corpid"] != corp {
			t.Fatalf("backend jscode2session: %v", ex)
		}
	}

	dev.open(ctx, "mini", zhangsan)
	// No session: login without the backend's exchange.
	if out := call("login", map[string]any{}); !out.OK {
		t.Fatalf("login: %+v", out)
	}
	if out := call("checkSession", nil); out.OK || out.Res.ErrMsg != "checkSession:fail no session or expired" {
		t.Errorf("checkSession without a session: %+v", out)
	}
	if out := call("createCorpGroupChat", seedArgs()); out.Res.ErrMsg != "createCorpGroupChat:fail no session or expired" {
		t.Errorf("no session: %+v", out)
	}

	signIn()
	check := call("checkSession", nil)
	if !check.OK || check.Res.ExpireIn == nil || *check.Res.ExpireIn <= 0 {
		t.Errorf("checkSession: %+v", check)
	}
	created := call("createCorpGroupChat", seedArgs())
	if !created.OK || !chatIDShape.MatchString(created.Res.ChatID) {
		t.Fatalf("createCorpGroupChat: %+v", created)
	}
	if n := len(adminChat(t, srv, created.Res.ChatID).Members); n != 7 {
		t.Errorf("stored chat has %d members, want 7", n)
	}

	for _, c := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"2001 members", map[string]any{"userIds": append(users(45), ghosts(1955)...)}, "fail exceed user id list size"},
		{"41 with a WeChat contact", map[string]any{"userIds": users(39), "externalUserIds": []string{"exid1"}}, "fail exceed external user id list size"},
		{"an unlinked corporation", map[string]any{"corpGroupUserIds": []map[string]string{{"corpId": unlinked, "userId": "userid123"}}}, "fail invalid parameter"},
	} {
		if out := call("createCorpGroupChat", c.args); out.OK || out.Res.ErrMsg != "createCorpGroupChat:"+c.want {
			t.Errorf("%s: %+v", c.name, out)
		}
	}

	// Not enabled: the corporation's 互联群 switch goes off.
	if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/"+corp, map[string]any{"policy": map[string]any{"corp_group_chat": false}}, nil); err != nil {
		t.Fatal(err)
	}
	if out := call("createCorpGroupChat", seedArgs()); out.Res.ErrMsg != "createCorpGroupChat:fail need open corp group chat" {
		t.Errorf("switched off: %+v", out)
	}
	if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/"+corp, map[string]any{"policy": map[string]any{"corp_group_chat": true}}, nil); err != nil {
		t.Fatal(err)
	}

	// Expired session: two hours later.
	clk.Advance(2*time.Hour + time.Second)
	if out := call("checkSession", nil); out.OK {
		t.Errorf("checkSession after expiry: %+v", out)
	}
	if out := call("createCorpGroupChat", seedArgs()); out.Res.ErrMsg != "createCorpGroupChat:fail no session or expired" {
		t.Errorf("expired session: %+v", out)
	}

	// An old client has no createCorpGroupChat.
	old := zhangsan
	old.Version = "3.1.7"
	dev.open(ctx, "mini", old)
	signIn()
	if out := call("createCorpGroupChat", seedArgs()); out.Res.ErrMsg != "createCorpGroupChat:function not exist" {
		t.Errorf("WeCom 3.1.7: %+v", out)
	}
}

// TestBrowserDemoPage follows the README's WeCom quick start in the
// browser: the demo page qun serves, clicked through step by step.
func TestBrowserDemoPage(t *testing.T) {
	ctx := tab(t)
	srv := quntest.NewServer(t)
	step := func(button, out string) {
		t.Helper()
		var class string
		err := chromedp.Run(ctx,
			chromedp.Click("#"+button, chromedp.ByQuery),
			chromedp.Poll(`document.getElementById(`+js(out)+`).className`, &class))
		if err != nil || class != "ok" {
			var text string
			chromedp.Run(ctx, chromedp.Text("#"+out, &text, chromedp.ByQuery))
			t.Fatalf("%s: %v, %s: %s", button, err, class, text)
		}
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/wecom/client/demo"), chromedp.WaitVisible("#login", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	step("login", "login-out")
	step("exchange", "exchange-out")
	step("check", "check-out")
	step("create", "create-out")
	var text string
	if err := chromedp.Run(ctx, chromedp.Text("#create-out", &text, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	var res result
	if err := json.Unmarshal([]byte(text), &res); err != nil || !chatIDShape.MatchString(res.ChatID) {
		t.Fatalf("the page shows %s (%v)", text, err)
	}
	if n := len(adminChat(t, srv, res.ChatID).Members); n != 7 {
		t.Errorf("the demo's chat has %d members, want 7", n)
	}
}
