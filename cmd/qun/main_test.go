package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qunhq/qun/internal/version"
)

// TestServe runs `qun serve` as the README does, follows the README's curl
// session against it, and stops it the way Ctrl-C does.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, map[string]string{"QUN_DATA": filepath.Join(dir, "data"), "QUN_ADMIN_TOKEN": "from-env"})
	out := n.Banner
	base := []string{"", n.URL}
	for _, want := range []string{"qun " + version.Get().String() + " listening on", "admin token: from-env", "cli_a10fbf7e94b8d01d", "demo-feishu-secret", "736588c9260f175e", filepath.Join(dir, "data")} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}

	// The README's curl session: a token, then the seed's request.
	post := func(path, auth, body string) map[string]any {
		req, _ := http.NewRequest("POST", base[1]+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tok := post("/open-apis/auth/v3/tenant_access_token/internal", "", `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`)
	created := post("/open-apis/im/v1/chats?user_id_type=open_id", "Bearer "+tok["tenant_access_token"].(string),
		`{"name":"测试群名称","owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs","user_id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`)
	if created["code"] != float64(0) {
		t.Fatalf("create: %v", created)
	}

	if code := n.stop(); code != 0 {
		t.Errorf("exit status %d after shutdown", code)
	}
}

// TestLogDurations: both log formats write durations in a human unit.
func TestLogDurations(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := newLogger(options{logFormat: format, logLevel: "info"}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("request", "duration", 1234567*time.Nanosecond)
		if !strings.Contains(buf.String(), "1.234567ms") {
			t.Errorf("%s log: %q, want the duration as 1.234567ms", format, buf.String())
		}
	}
}

// TestVersion: `qun version` and `qun --version` print the build's
// version, commit and date.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, io.Discard); code != 0 {
			t.Fatalf("%s: exit %d", arg, code)
		}
		if want := "qun " + version.Get().String() + "\n"; out.String() != want || !strings.Contains(want, "(commit ") {
			t.Errorf("%s printed %q, want %q", arg, out.String(), want)
		}
	}
}

func TestHelpAndErrors(t *testing.T) {
	ctx := context.Background()
	noenv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"help"}, noenv, &out, &errOut); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, flag := range []string{"-addr", "QUN_ADDR", "-data", "QUN_DATA", "-fixtures", "QUN_FIXTURES", "-admin-token", "QUN_ADMIN_TOKEN", "127.0.0.1:8080", "./qun-data"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("help lacks %q", flag)
		}
	}
	if code := run(ctx, []string{"frobnicate"}, noenv, &out, &errOut); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	errOut.Reset()
	if code := run(ctx, []string{"serve", "--log-format", "xml", "--data", t.TempDir()}, noenv, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "log-format") {
		t.Errorf("bad flag value: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := run(ctx, []string{"fixtures"}, noenv, &out, &errOut); code != 0 || !strings.Contains(out.String(), "cli_a10fbf7e94b8d01d") {
		t.Errorf("fixtures: exit %d", code)
	}
}

// TestReadmeCurlSession runs the README's curl sessions, as written,
// against `qun serve` (only the address changes).
func TestReadmeCurlSession(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sessions := regexp.MustCompile("(?s)<!-- curl-session.*?```sh\n(.*?)```\n<!-- /curl-session -->").FindAllSubmatch(readme, -1)
	if len(sessions) < 3 {
		t.Fatalf("%d curl sessions in README.md, want one per platform", len(sessions))
	}
	base := startNode(t, nil, "--data", t.TempDir()).URL
	// Each session must end with its platform's success answer.
	success := []*regexp.Regexp{
		regexp.MustCompile(`"code":0,"msg":"success".*"owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs"`),
		regexp.MustCompile(`^\{"conversationTag":2,"openConversationId":"cid[^"]+","chatid":"chat[0-9a-f]{32}"\}$`),
		regexp.MustCompile(`(?s)^\{"corpid":"ww0123456789abcdef","userid":"zhangsan","session_key":"[^"]+","deviceid":"","errcode":0,"errmsg":"ok"\}\n` +
			`\{"errMsg":"createCorpGroupChat:ok","err_msg":"createCorpGroupChat:ok","chatId":"wr[0-9A-Za-z]{28}"\}$`),
	}
	for i, m := range sessions {
		script := strings.ReplaceAll(string(m[1]), "http://127.0.0.1:8080", base)
		out, err := exec.Command("bash", "-euo", "pipefail", "-c", script).CombinedOutput()
		if err != nil || i >= len(success) || !success[i].Match(bytes.TrimSpace(out)) {
			t.Errorf("README session %d: %v\n%s", i+1, err, out)
		}
	}
}
