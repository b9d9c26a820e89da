package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/qunhq/qun/internal/pgtest"
)

// The tests in this file run qun as real processes: several `qun serve`
// on one PostgreSQL schema and one Redis database, as a scaled-out
// deployment does. They need QUN_TEST_POSTGRES and QUN_TEST_REDIS.

const (
	clusterAdmin = "cluster-admin-token"
	feishuApp    = "cli_a10fbf7e94b8d01d"
	feishuSecret = "demo-feishu-secret"
	zhangsan     = "ou_7d8a6e6df7621556ce0d21922b676706ccs"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// qunBinary builds cmd/qun once for the package's tests.
func qunBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "qun-cluster-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "qun")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cluster is a PostgreSQL schema and a Redis database that nodes share.
type cluster struct {
	t         *testing.T
	db, redis string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	if pgtest.URL() == "" || os.Getenv("QUN_TEST_REDIS") == "" {
		t.Skip("needs QUN_TEST_POSTGRES and QUN_TEST_REDIS")
	}
	// A Redis database of the cluster's own, emptied: the windows of an
	// earlier run must not count.
	opts, err := redis.ParseURL(os.Getenv("QUN_TEST_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = 13
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("QUN_TEST_REDIS: %v", err)
	}
	u := url.URL{Scheme: "redis", Host: opts.Addr, Path: "/13"}
	return &cluster{t: t, db: pgtest.Schema(t), redis: u.String()}
}

// proc is one `qun serve` process of a cluster.
type proc struct {
	URL string
	cmd *exec.Cmd
}

// start runs a node on a free port, with args added, and waits until it
// is ready.
func (c *cluster) start(args ...string) *proc {
	c.t.Helper()
	return spawn(c.t, append([]string{"--db", c.db, "--redis", c.redis}, args...)...)
}

// spawn runs `qun serve` as a process on a free port with the cluster's
// admin token and args, and waits until it is ready.
func spawn(t *testing.T, args ...string) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(qunBinary(t), "serve", "--addr", addr, "--admin-token", clusterAdmin, "--log-level", "warn")
	cmd.Args = append(cmd.Args, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{URL: "http://" + addr, cmd: cmd}
	t.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not get ready: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the node at once (SIGKILL), as a crash does.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// answer is an HTTP answer with its decoded JSON body.
type answer struct {
	status int
	body   map[string]any
}

func (a answer) num(key string) float64 {
	v, _ := a.body[key].(float64)
	return v
}

func (a answer) data() map[string]any {
	d, _ := a.body["data"].(map[string]any)
	return d
}

var clusterClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}

// call sends a JSON request; err is a transport failure (no answer).
func call(method, url string, header map[string]string, body any) (answer, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := clusterClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return a, fmt.Errorf("HTTP %d, not JSON: %s", resp.StatusCode, raw)
		}
	}
	return a, nil
}

func mustCall(t *testing.T, method, url string, header map[string]string, body any) answer {
	t.Helper()
	a, err := call(method, url, header, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func feishuToken(t *testing.T, p *proc) string {
	t.Helper()
	a := mustCall(t, "POST", p.URL+"/open-apis/auth/v3/tenant_access_token/internal", nil, map[string]string{"app_id": feishuApp, "app_secret": feishuSecret})
	tok, _ := a.body["tenant_access_token"].(string)
	if tok == "" {
		t.Fatalf("no token: %+v", a)
	}
	return tok
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// createChat is a Feishu create with a uuid (none when "").
func createChat(p *proc, tok, name, uuid string) (answer, error) {
	u := p.URL + "/open-apis/im/v1/chats"
	if uuid != "" {
		u += "?uuid=" + url.QueryEscape(uuid)
	}
	return call("POST", u, bearer(tok), map[string]any{"name": name, "owner_id": zhangsan, "user_id_list": []string{zhangsan}})
}

// TestCluster: two nodes on one PostgreSQL and one Redis behave as one
// service: a token and a chat made on one are good on the other, a uuid
// dedupes across them, the rate limits are counted for both together, and
// an app switched off through one node is refused by the other.
func TestCluster(t *testing.T) {
	c := newCluster(t)
	a, b := c.start(), c.start()
	tok := feishuToken(t, a)

	t.Run("token and chat across nodes", func(t *testing.T) {
		made := mustCall(t, "POST", a.URL+"/open-apis/im/v1/chats", bearer(tok), map[string]any{"name": "made on A", "user_id_list": []string{zhangsan}})
		id, _ := made.data()["chat_id"].(string)
		if made.num("code") != 0 || id == "" {
			t.Fatalf("create on A: %+v", made)
		}
		got := mustCall(t, "GET", b.URL+"/open-apis/im/v1/chats/"+id, bearer(tok), nil)
		if got.num("code") != 0 || got.data()["name"] != "made on A" {
			t.Fatalf("read on B with A's token: %+v", got)
		}
		upd := mustCall(t, "PUT", b.URL+"/open-apis/im/v1/chats/"+id, bearer(tok), map[string]any{"name": "renamed on B"})
		if upd.num("code") != 0 {
			t.Fatalf("update on B: %+v", upd)
		}
		if again := mustCall(t, "GET", a.URL+"/open-apis/im/v1/chats/"+id, bearer(tok), nil); again.data()["name"] != "renamed on B" {
			t.Errorf("read on A after B's update: %+v", again)
		}
		resp, err := http.Get(a.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(raw, []byte("\nqun_store_retries_total ")) {
			t.Error("/metrics has no qun_store_retries_total")
		}
	})

	t.Run("one uuid, one chat", func(t *testing.T) {
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			ids = map[string]int{}
		)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				node := []*proc{a, b}[i%2]
				ans, err := createChat(node, tok, "deduped", "cluster-uuid-1")
				if err != nil {
					t.Error(err)
					return
				}
				id, _ := ans.data()["chat_id"].(string)
				mu.Lock()
				ids[id]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(ids) != 1 || ids[""] > 0 {
			t.Errorf("20 creates with one uuid over two nodes answered %v, want one chat", ids)
		}
	})

	t.Run("Feishu 50 a second for both nodes", func(t *testing.T) {
		ok, limited := burst(t, 200, func(i int) (bool, bool) {
			ans, err := createChat([]*proc{a, b}[i%2], tok, fmt.Sprintf("burst %d", i), "")
			if err != nil {
				t.Error(err)
				return false, false
			}
			return ans.num("code") == 0, ans.status == 429 && ans.num("code") == 99991400
		})
		if ok != 50 || limited != 150 {
			t.Errorf("200 creates over two nodes: %d created, %d refused with 429/99991400; want 50 and 150", ok, limited)
		}
	})

	t.Run("DingTalk 20 a second for both nodes", func(t *testing.T) {
		tokAns := mustCall(t, "POST", a.URL+"/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": "dingqundemo", "appSecret": "demo-dingtalk-secret"})
		dtok, _ := tokAns.body["accessToken"].(string)
		if dtok == "" {
			t.Fatalf("DingTalk token: %+v", tokAns)
		}
		group := map[string]any{"name": "Test Group", "owner": "manager4220", "ownerType": "emp", "useridlist": []string{"userId"}, "conversationTag": 2, "extidlist": []string{"unionId"}, "icon": "@mediaId"}
		ok, limited := burst(t, 100, func(i int) (bool, bool) {
			ans, err := call("POST", []*proc{a, b}[i%2].URL+"/v1.0/im/group/create", map[string]string{"x-acs-dingtalk-access-token": dtok}, group)
			if err != nil {
				t.Error(err)
				return false, false
			}
			return ans.status == 200 && ans.body["chatid"] != nil, ans.status == 403 && ans.body["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
		})
		if ok != 20 || limited != 80 {
			t.Errorf("100 creates over two nodes: %d created, %d refused with QpsLimitForAppkeyAndApi; want 20 and 80", ok, limited)
		}
	})

	t.Run("an app switched off on A is refused on B", func(t *testing.T) {
		admin := map[string]string{"Authorization": "Bearer " + clusterAdmin}
		off := mustCall(t, "PATCH", a.URL+"/admin/v1/apps/feishu/"+feishuApp, admin, map[string]any{"installed": false})
		if off.status != 200 {
			t.Fatalf("switch off: %+v", off)
		}
		defer mustCall(t, "PATCH", a.URL+"/admin/v1/apps/feishu/"+feishuApp, admin, map[string]any{"installed": true})
		if got := mustCall(t, "GET", b.URL+"/open-apis/im/v1/chats", bearer(tok), nil); got.num("code") == 0 {
			t.Errorf("B still takes the token of the app A switched off: %+v", got)
		}
	})
}

// burst sends n requests at once (send answers whether a request succeeded
// or was refused by a rate limit). The windows are a second long, so a
// burst that took longer than half of one is sent again, after the
// windows emptied, up to three times.
func burst(t *testing.T, n int, send func(i int) (ok, limited bool)) (ok, limited int) {
	t.Helper()
	for attempt := range 3 {
		time.Sleep(1100 * time.Millisecond) // earlier calls leave the windows
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			start = make(chan struct{})
		)
		ok, limited = 0, 0
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				o, l := send(i)
				mu.Lock()
				defer mu.Unlock()
				if o {
					ok++
				}
				if l {
					limited++
				}
			}()
		}
		began := time.Now()
		close(start)
		wg.Wait()
		if took := time.Since(began); took < 500*time.Millisecond {
			return ok, limited
		} else {
			t.Logf("burst %d took %v; again", attempt+1, took)
		}
	}
	t.Fatal("no burst fit in half a second")
	return
}

// TestCrash: one of two nodes is killed (SIGKILL) in the middle of a create
// load on both. Every create answered with success is there afterwards,
// read through the other node; the creates that were in flight on the
// killed node, sent again with their uuid to the other, make one chat
// each: none is lost, none is doubled.
func TestCrash(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("--rate-limits", "off"), c.start("--rate-limits", "off")
	tok := feishuToken(t, a)
	type result struct {
		uuid, chat string
		node       *proc
		answered   bool
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := []*proc{a, b}[w%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				uuid := fmt.Sprintf("crash%dx%d", w, i)
				ans, err := createChat(node, tok, uuid, uuid)
				r := result{uuid: uuid, node: node, answered: err == nil}
				if err == nil {
					if ans.num("code") != 0 {
						t.Errorf("create %s: %+v", uuid, ans)
					}
					r.chat, _ = ans.data()["chat_id"].(string)
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if err != nil && node == a {
					return // a is gone
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	a.kill()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	var done, lost int
	for _, r := range results {
		if !r.answered {
			lost++
			// Sent again to the surviving node with the same uuid.
			ans, err := createChat(b, tok, r.uuid, r.uuid)
			if err != nil || ans.num("code") != 0 {
				t.Fatalf("re-sending %s to B: %+v %v", r.uuid, ans, err)
			}
			r.chat, _ = ans.data()["chat_id"].(string)
		} else {
			done++
		}
		got := mustCall(t, "GET", b.URL+"/open-apis/im/v1/chats/"+r.chat, bearer(tok), nil)
		if got.num("code") != 0 || got.data()["name"] != r.uuid {
			t.Errorf("chat %s of %s, read on B: %+v", r.chat, r.uuid, got)
		}
	}
	if done < 20 || lost == 0 {
		t.Fatalf("%d creates answered and %d cut off by the crash: the load did not span it", done, lost)
	}
	// No uuid made two chats: as many chats as uuids.
	admin := map[string]string{"Authorization": "Bearer " + clusterAdmin}
	list := mustCall(t, "GET", b.URL+"/admin/v1/chats?platform=feishu&limit=10000", admin, nil)
	chats, _ := list.body["chats"].([]any)
	names := map[string]int{}
	for _, ch := range chats {
		names[ch.(map[string]any)["name"].(string)]++
	}
	for _, r := range results {
		if names[r.uuid] != 1 {
			t.Errorf("%s made %d chats, want 1", r.uuid, names[r.uuid])
		}
	}
	t.Logf("%d creates answered before or around the crash, %d cut off and sent again", done, lost)
}
