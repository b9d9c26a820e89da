package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// node is a `qun serve` running in the test's process.
type node struct {
	URL, Banner string
	stop        func() int
}

// startNode runs `qun serve` with args (and --addr 127.0.0.1:0) and env,
// and waits for its banner.
func startNode(t *testing.T, env map[string]string, args ...string) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	status := make(chan int, 1)
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)
	go func() {
		status <- run(ctx, args, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "tenant_access_token/internal") {
		banner.WriteString(sc.Text() + "\n")
	}
	go io.Copy(io.Discard, pr)
	n := &node{Banner: banner.String()}
	m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(n.Banner)
	if m == nil {
		cancel()
		t.Fatalf("no listen address in:\n%s", n.Banner)
	}
	n.URL = m[1]
	stopped := false
	n.stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-status:
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { n.stop() })
	return n
}

// adminToken is the token the banner printed.
func (n *node) adminToken(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`admin token: (\S+)`).FindStringSubmatch(n.Banner)
	if m == nil {
		t.Fatalf("no admin token in:\n%s", n.Banner)
	}
	return m[1]
}

func (n *node) status(t *testing.T, method, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, n.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminTokenKept: a generated admin token is kept in the data
// directory, so the token printed at the first start still works after a
// restart (the README's "restart qun" step); the flag and the environment
// override it.
func TestAdminTokenKept(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first := startNode(t, nil, "--data", data)
	tok := first.adminToken(t)
	if !strings.HasPrefix(tok, "qun-admin-") || first.status(t, "GET", "/admin/v1/chats", tok) != 200 {
		t.Fatalf("first start: token %q", tok)
	}
	first.stop()
	fi, err := os.Stat(filepath.Join(data, "admin-token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin-token file: %v %v, want mode 0600", fi, err)
	}

	second := startNode(t, nil, "--data", data)
	if got := second.adminToken(t); got != tok {
		t.Errorf("second start printed %q, want the kept %q", got, tok)
	}
	if code := second.status(t, "GET", "/admin/v1/chats", tok); code != 200 {
		t.Errorf("the first start's token after a restart: HTTP %d", code)
	}
	second.stop()

	byFlag := startNode(t, map[string]string{"QUN_ADMIN_TOKEN": "from-env"}, "--data", data, "--admin-token", "from-flag")
	if byFlag.adminToken(t) != "from-flag" || byFlag.status(t, "GET", "/admin/v1/chats", tok) != 401 {
		t.Errorf("--admin-token does not override the kept token:\n%s", byFlag.Banner)
	}
	byFlag.stop()
	byEnv := startNode(t, map[string]string{"QUN_ADMIN_TOKEN": "from-env"}, "--data", data)
	if byEnv.adminToken(t) != "from-env" {
		t.Errorf("QUN_ADMIN_TOKEN does not override the kept token:\n%s", byEnv.Banner)
	}
}

// TestResetEnv: QUN_RESET takes what strconv.ParseBool takes (1 resets, 0
// keeps) and refuses anything else at start-up instead of ignoring it.
func TestResetEnv(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"QUN_ADMIN_TOKEN": "tok"}
	n := startNode(t, env, "--data", data)
	addUser := func(n *node) {
		req, _ := http.NewRequest("POST", n.URL+"/admin/v1/users", strings.NewReader(`{"platform":"feishu","tenant":"736588c9260f175e","user_id":"added"}`))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("add user: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	hasUser := func(n *node) bool {
		req, _ := http.NewRequest("GET", n.URL+"/admin/v1/users?platform=feishu&tenant=736588c9260f175e", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(raw), `"user_id":"added"`)
	}
	addUser(n)
	n.stop()
	for _, c := range []struct {
		value string
		kept  bool
	}{{"0", true}, {"false", true}, {"1", false}} {
		env["QUN_RESET"] = c.value
		n := startNode(t, env, "--data", data)
		got := hasUser(n)
		if got != c.kept {
			t.Errorf("QUN_RESET=%s: user kept %v, want %v", c.value, got, c.kept)
		}
		if !got {
			addUser(n)
		}
		n.stop()
	}
	for _, bad := range []string{"yes", "on", "2"} {
		var errOut strings.Builder
		code := run(context.Background(), []string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, func(k string) string {
			return map[string]string{"QUN_RESET": bad}[k]
		}, io.Discard, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), `QUN_RESET="`+bad+`"`) {
			t.Errorf("QUN_RESET=%s: exit %d, stderr %q", bad, code, errOut.String())
		}
	}
}

// TestShutdownUnderLoad: a node stopped (as by SIGTERM) while clients send
// POSTs over keep-alive connections answers every request sent on a
// connection it had accepted; the clients see answers, then connections
// that fail to open (refused, or reset while still in the kernel's accept
// queue: qun never saw them), never a request dropped without an answer on
// a connection qun was serving.
func TestShutdownUnderLoad(t *testing.T) {
	n := startNode(t, map[string]string{"QUN_RATE_LIMITS": "off"}, "--data", filepath.Join(t.TempDir(), "data"))
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	defer transport.CloseIdleConnections()
	const clients = 12
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		answered, refused int
		dropped           []string
		stopAt            = time.Now().Add(5 * time.Second)
		body              = `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`
		started           = make(chan struct{})
		startOnce         sync.Once
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				var reused bool
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST",
					n.URL+"/open-apis/auth/v3/tenant_access_token/internal", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				mu.Lock()
				switch {
				case err == nil:
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					answered++
					if answered == 200 {
						startOnce.Do(func() { close(started) })
					}
				case !reused:
					// The connection never opened, or was reset before qun
					// accepted it: the request was not served, and the
					// client knows it may send it again.
					refused++
					mu.Unlock()
					return
				default:
					dropped = append(dropped, err.Error())
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the load did not start")
	}
	if code := n.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	wg.Wait()
	if len(dropped) > 0 || refused != clients {
		t.Errorf("%d answered, %d clients refused (want %d), %d requests dropped: %v", answered, refused, clients, len(dropped), dropped[:min(5, len(dropped))])
	}
}

// TestSnapshots: `serve --export-on-exit` writes the state at shutdown;
// `qun export --data` of the stopped node writes the same bytes; `serve
// --import` of that file on a new data directory, exported with `qun
// export --url`, gives them again.
func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	data, file := filepath.Join(dir, "a"), filepath.Join(dir, "snap.json")
	noenv := func(string) string { return "" }
	env := map[string]string{"QUN_ADMIN_TOKEN": "tok"}
	n := startNode(t, env, "--data", data, "--export-on-exit", file)
	req, _ := http.NewRequest("POST", n.URL+"/admin/v1/users", strings.NewReader(`{"platform":"feishu","tenant":"736588c9260f175e","user_id":"snapped"}`))
	req.Header.Set("Authorization", "Bearer tok")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("add user: %v %v", resp, err)
	}
	if code := n.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	onExit, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(onExit), `"user_id": "snapped"`) {
		t.Fatalf("--export-on-exit wrote %d bytes (%v)", len(onExit), err)
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"export", "--data", data}, noenv, &out, &errOut); code != 0 || out.String() != string(onExit) {
		t.Fatalf("export --data: exit %d (%s), same bytes %v", code, errOut.String(), out.String() == string(onExit))
	}
	m := startNode(t, env, "--data", filepath.Join(dir, "b"), "--import", file)
	out.Reset()
	if code := run(context.Background(), []string{"export", "--url", m.URL, "--admin-token", "tok"}, noenv, &out, &errOut); code != 0 || out.String() != string(onExit) {
		t.Fatalf("export --url after --import: exit %d (%s), same bytes %v", code, errOut.String(), out.String() == string(onExit))
	}
	for _, bad := range [][]string{{"export"}, {"export", "--data", filepath.Join(dir, "none")}, {"export", "--url", m.URL, "--data", data}, {"export", "--url", m.URL, "--admin-token", "wrong"}} {
		errOut.Reset()
		if code := run(context.Background(), bad, noenv, io.Discard, &errOut); code != 1 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut.String())
		}
	}
}
