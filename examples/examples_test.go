// Package examples_test runs the programs of this module (the README's Go
// examples, each a complete program) against a qun node started by the
// test, and checks that the README shows them as they are.
package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qunhq/qun/quntest"
)

// TestPrograms builds every example program and runs it with QUN_URL
// pointing at a fresh node; each prints what it created.
func TestPrograms(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./feishu", "./dingtalk", "./wecom", "./feishu-events", "./dingtalk-events", "./wecom-events")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := quntest.NewServer(t)
	for _, c := range []struct {
		name string
		want *regexp.Regexp
	}{
		{"feishu", regexp.MustCompile(`\noc_[0-9a-f]{32}\n$`)}, // after the SDK's "[client ready]" line
		{"dingtalk", regexp.MustCompile(`^cid\S+==\n$`)},
		{"wecom", regexp.MustCompile(`^signed in: zhangsan\nagentConfig ticket: true\nwr\w{28}\n$`)},
		{"feishu-events", regexp.MustCompile(`\nim\.chat\.member\.user\.added_v1 李四\n$`)}, // after the dispatcher's "[event-dispatch is ready]"
		{"dingtalk-events", regexp.MustCompile(`^chat_add_member \{.*"userId":\["lisi"\].*\}\n$`)},
		{"wecom-events", regexp.MustCompile(`^change_external_chat update wr\w{28}\n$`)},
	} {
		cmd := exec.Command(filepath.Join(bin, c.name))
		cmd.Env = append(os.Environ(), "QUN_URL="+srv.URL, "QUN_ADMIN_TOKEN="+quntest.AdminToken, "HTTP_PROXY=", "http_proxy=")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Errorf("%s: %v\n%s", c.name, err, stderr)
			continue
		}
		if !c.want.Match(out) {
			t.Errorf("%s printed %q, want %s", c.name, out, c.want)
		}
	}
}

// marker names the file a README code block comes from:
// <!-- example: examples/feishu/main.go --> (the whole file) or
// <!-- example: examples/quntest/quntest_test.go (excerpt) -->.
var marker = regexp.MustCompile(`<!-- example: (\S+)( \(excerpt\))? -->\n+` + "```go\n((?s:.*?))```")

// TestReadmeShowsThePrograms: every Go block in the README names the
// example it comes from and shows it exactly (or an exact excerpt), so a
// pasted snippet is a program CI has compiled and run.
func TestReadmeShowsThePrograms(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	blocks := marker.FindAllStringSubmatch(readme, -1)
	if total := strings.Count(readme, "```go\n"); total != len(blocks) || total == 0 {
		t.Fatalf("the README has %d Go blocks, %d of them name their example file", total, len(blocks))
	}
	for _, b := range blocks {
		path, excerpt, code := b[1], b[2] != "", b[3]
		file, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Errorf("README names %s: %v", path, err)
			continue
		}
		if excerpt && !strings.Contains(string(file), code) || !excerpt && string(file) != code {
			t.Errorf("the README's block for %s differs from the file", path)
		}
	}
}
