// Command qunload drives a running qun node with concurrent clients and
// reports throughput, latency and the server's CPU time per request. It
// speaks the wire like a client would (plain HTTP, a token first), so it
// measures the whole system.
//
// Usage:
//
//	qunload [-url http://127.0.0.1:8080] [-c 16] [-d 10s] [-scenario create] [-chats N]
//	qunload preload -data DIR -chats 1000000   build a data directory with N chats (-db postgres://…: a schema)
//	qunload floor -addr 127.0.0.1:9090         a server that decodes and answers, storing nothing
//	qunload pgfloor -db postgres://… -c 32     PostgreSQL's own create floor (a chat, two members)
//
// Scenarios (Feishu dialect, demo directory; those marked * read the
// chats `qunload preload` made, -chats says how many):
//
//	create      create a chat with an owner and a member (a durable write)
//	dedupe      create with one uuid (a read after the first write)
//	rejected    create naming an unknown user (rules run, nothing written)
//	token       fetch a tenant_access_token (reused while 30 minutes remain)
//	get*        GET a chat
//	members*    list a chat's members (20)
//	is_in_chat* ask whether the bot is in a chat
//	list        list the bot's chats (100)
//	search*     search the bot's chats for three characters of a chat's name
//	add_member* add a user to a chat
//	admin_chats list 100 chats through the admin API (-admin-token)
//	dingtalk_create  POST /v1.0/im/group/create, the owner and one user (durable)
//	wecom_create     POST /cgi-bin/appchat/create, two members (durable)
//
// The server's CPU time per request is read from its /metrics
// (process_cpu_seconds_total) before and after the run. Each client keeps
// one connection, written and read in its own goroutine (-client raw), so
// that the load tool takes as little of the machine's CPU from the server
// as it can; -client stdlib uses net/http's Client instead (about twice
// the load tool's CPU per request).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "preload":
		err = preload(os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "floor":
		err = floor(os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "pgfloor":
		err = pgfloor(os.Args[2:], os.Stdout)
	default:
		err = run(os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "qunload:", err)
		os.Exit(1)
	}
}

// request is one call of a scenario.
type request struct {
	method, path, body string
}

type scenario struct {
	// next makes the i-th request; chats is how many are preloaded.
	next func(r *rand.Rand, chats int) request
	auth string // "feishu", "dingtalk", "wecom", "admin" or ""
	want int    // HTTP status
	// wantBody is a string the answer must hold (WeCom answers HTTP 200
	// whatever happens).
	wantBody string
	needs    bool // needs preloaded chats
}

const (
	zhangsan = "ou_7d8a6e6df7621556ce0d21922b676706ccs"
	chatsAPI = "/open-apis/im/v1/chats"
)

func fixed(method, path, body string) func(*rand.Rand, int) request {
	return func(*rand.Rand, int) request { return request{method, path, body} }
}

func onChat(method, suffix, body string) func(*rand.Rand, int) request {
	return func(r *rand.Rand, chats int) request {
		return request{method, chatsAPI + "/" + preloadChatID(r.IntN(chats)) + suffix, body}
	}
}

var scenarios = map[string]scenario{
	"create":     {next: fixed("POST", chatsAPI, `{"name":"load","owner_id":"`+zhangsan+`","user_id_list":["`+zhangsan+`"]}`), auth: "feishu", want: 200},
	"dedupe":     {next: fixed("POST", chatsAPI+"?uuid=qunload", `{"name":"load","owner_id":"`+zhangsan+`"}`), auth: "feishu", want: 200},
	"rejected":   {next: fixed("POST", chatsAPI, `{"user_id_list":["ou_00000000000000000000000000000000"]}`), auth: "feishu", want: 400},
	"token":      {next: fixed("POST", "/open-apis/auth/v3/tenant_access_token/internal", `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`), want: 200},
	"get":        {next: onChat("GET", "", ""), auth: "feishu", want: 200, needs: true},
	"members":    {next: onChat("GET", "/members?page_size=20", ""), auth: "feishu", want: 200, needs: true},
	"is_in_chat": {next: onChat("GET", "/members/is_in_chat", ""), auth: "feishu", want: 200, needs: true},
	"list":       {next: fixed("GET", chatsAPI+"?page_size=100", ""), auth: "feishu", want: 200},
	"search": {next: func(r *rand.Rand, chats int) request {
		// Three of a name's four characters: a keyword that matches about
		// one chat whatever the store's size, so that the rows compare the
		// index's cost, not the size of the answer.
		name := []rune(preloadName(r.IntN(chats)))
		i := r.IntN(2)
		return request{"GET", chatsAPI + "/search?page_size=20&query=" + url.QueryEscape(string(name[i:i+3])), ""}
	}, auth: "feishu", want: 200, needs: true},
	"add_member": {next: func(r *rand.Rand, chats int) request {
		return request{"POST", chatsAPI + "/" + preloadChatID(r.IntN(chats)) + "/members?member_id_type=user_id", fmt.Sprintf(`{"id_list":["user%03d"]}`, 1+r.IntN(60))}
	}, auth: "feishu", want: 200, needs: true},
	"admin_chats":     {next: fixed("GET", "/admin/v1/chats?limit=100", ""), auth: "admin", want: 200},
	"dingtalk_create": {next: fixed("POST", "/v1.0/im/group/create", `{"name":"load","owner":"manager4220","useridlist":["userId"]}`), auth: "dingtalk", want: 200},
	"wecom_create":    {next: fixed("POST", "/cgi-bin/appchat/create", `{"name":"load","owner":"zhangsan","userlist":["zhangsan","lisi"]}`), auth: "wecom", want: 200, wantBody: `"errcode":0`},
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qunload", flag.ContinueOnError)
	baseList := fs.String("url", "http://127.0.0.1:8080", "base URL of the qun node; several, comma-separated, share the clients (nodes on one database)")
	clients := fs.Int("c", 16, "concurrent clients")
	duration := fs.Duration("d", 10*time.Second, "how long to run")
	name := fs.String("scenario", "create", "the scenario (see the package doc)")
	chats := fs.Int("chats", 0, "how many chats `qunload preload` made (scenarios on preloaded chats)")
	app := fs.String("app", "cli_a10fbf7e94b8d01d", "Feishu app_id")
	secret := fs.String("secret", "demo-feishu-secret", "app_secret")
	adminToken := fs.String("admin-token", "", "admin token (admin_chats)")
	client := fs.String("client", "raw", "the load's HTTP client: raw (one connection per client, written and read in its goroutine: the lighter) or stdlib (net/http's Client)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bases := strings.Split(*baseList, ",")
	base := &bases[0]
	sc, ok := scenarios[*name]
	if !ok {
		return fmt.Errorf("unknown scenario %q", *name)
	}
	if sc.needs && *chats <= 0 {
		return fmt.Errorf("scenario %s needs -chats (the number of preloaded chats)", *name)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}, Timeout: 30 * time.Second}
	var (
		cred credential
		err  error
	)
	switch sc.auth {
	case "feishu":
		var token string
		token, err = fetchToken(hc, *base, *app, *secret)
		cred = credential{header: "Authorization", value: "Bearer " + token}
	case "dingtalk":
		var token string
		token, err = tokenFrom(hc, "POST", *base+"/v1.0/oauth2/accessToken", `{"appKey":"dingqundemo","appSecret":"demo-dingtalk-secret"}`, "accessToken")
		cred = credential{header: "x-acs-dingtalk-access-token", value: token}
	case "wecom":
		var token string
		token, err = tokenFrom(hc, "GET", *base+"/cgi-bin/gettoken?corpid=ww0123456789abcdef&corpsecret=demo-wecom-secret", "", "access_token")
		cred = credential{query: "access_token", value: token}
	case "admin":
		cred = credential{header: "Authorization", value: "Bearer " + *adminToken}
	}
	if err != nil {
		return err
	}
	send := func(c int, req request) (int, []byte, error) { return call(hc, bases[c%len(bases)], req, cred) }
	switch *client {
	case "raw":
		wires := make([]*wire, *clients)
		for c := range wires {
			if wires[c], err = newWire(bases[c%len(bases)]); err != nil {
				return err
			}
		}
		defer func() {
			for _, w := range wires {
				w.close()
			}
		}()
		send = func(c int, req request) (int, []byte, error) { return wires[c].call(req, cred) }
	case "stdlib":
	default:
		return fmt.Errorf("unknown -client %q (raw or stdlib)", *client)
	}
	cpuBefore, cpuErr := serversCPU(hc, bases)
	latencies, failures, firstFail, elapsed := drive(*clients, *duration, func(c int, r *rand.Rand) error {
		req := sc.next(r, *chats)
		status, body, err := send(c, req)
		if err == nil && status != sc.want {
			err = fmt.Errorf("%s %s: HTTP %d, want %d", req.method, req.path, status, sc.want)
		}
		if err == nil && !bytes.Contains(body, []byte(sc.wantBody)) {
			err = fmt.Errorf("%s %s: %.200s", req.method, req.path, body)
		}
		return err
	})
	cpuAfter, cpuErr2 := serversCPU(hc, bases)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	fmt.Fprintf(out, "scenario %s, %d clients, %s\n", *name, *clients, elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "  ok %d, failed %d, %.0f req/s\n", len(latencies), failures, float64(len(latencies))/elapsed.Seconds())
	fmt.Fprintf(out, "  latency p50 %s, p90 %s, p99 %s, max %s\n", pct(.5).Round(time.Microsecond), pct(.9).Round(time.Microsecond), pct(.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if cpuErr == nil && cpuErr2 == nil && len(latencies) > 0 {
		perReq := time.Duration((cpuAfter - cpuBefore) / float64(len(latencies)) * float64(time.Second))
		fmt.Fprintf(out, "  server CPU %s per request (%.2f cores)\n", perReq.Round(time.Microsecond), (cpuAfter-cpuBefore)/elapsed.Seconds())
	}
	if firstFail != "" {
		fmt.Fprintf(out, "  first failure: %s\n", firstFail)
	}
	return nil
}

// drive runs op from clients goroutines for d and returns the latencies
// of the calls that succeeded (sorted), how many failed, the first
// failure, and how long it ran.
func drive(clients int, d time.Duration, op func(client int, r *rand.Rand) error) (latencies []time.Duration, failures int64, firstFail string, elapsed time.Duration) {
	var (
		stop  atomic.Bool
		fails atomic.Int64
		first atomic.Value
		mu    sync.Mutex
		wg    sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var mine []time.Duration
			for !stop.Load() {
				t0 := time.Now()
				if err := op(c, r); err != nil {
					fails.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed = time.Since(start)
	slices.Sort(latencies)
	if f, ok := first.Load().(string); ok {
		firstFail = f
	}
	return latencies, fails.Load(), firstFail, elapsed
}

var cpuLine = regexp.MustCompile(`(?m)^process_cpu_seconds_total ([0-9.e+]+)$`)

// serversCPU adds up the servers' process_cpu_seconds_total.
func serversCPU(hc *http.Client, bases []string) (float64, error) {
	var sum float64
	for _, b := range bases {
		v, err := serverCPU(hc, b)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// serverCPU reads the server's process_cpu_seconds_total.
func serverCPU(hc *http.Client, base string) (float64, error) {
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	m := cpuLine.FindSubmatch(raw)
	if m == nil {
		return 0, errors.New("no process_cpu_seconds_total in /metrics")
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// credential is how a request carries its token: a header or a query
// parameter.
type credential struct {
	header, query, value string
}

func call(hc *http.Client, base string, r request, cred credential) (int, []byte, error) {
	url := base + r.path
	if cred.query != "" {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + cred.query + "=" + cred.value
	}
	req, err := http.NewRequest(r.method, url, bytes.NewReader([]byte(r.body)))
	if err != nil {
		return 0, nil, err
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if cred.header != "" {
		req.Header.Set(cred.header, cred.value)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// tokenFrom asks for a token and returns the answer's member key.
func tokenFrom(hc *http.Client, method, url, body, key string) (string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return "", err
	}
	tok, _ := m[key].(string)
	if tok == "" {
		return "", fmt.Errorf("token: %v", m)
	}
	return tok, nil
}
func fetchToken(hc *http.Client, base, app, secret string) (string, error) {
	body, _ := json.Marshal(map[string]string{"app_id": app, "app_secret": secret})
	resp, err := hc.Post(base+"/open-apis/auth/v3/tenant_access_token/internal", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		Code              int    `json:"code"`
		Msg               string `json:"msg"`
		TenantAccessToken string `json:"tenant_access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return "", err
	}
	if tok.Code != 0 {
		return "", errors.New("token: " + tok.Msg)
	}
	return tok.TenantAccessToken, nil
}
