// Command qunload drives a running qun node with concurrent clients and
// reports throughput and latency. It speaks the wire like a client would
// (plain HTTP, a token first), so it measures the whole system.
//
// Usage:
//
//	qunload [-url http://127.0.0.1:8080] [-c 16] [-d 10s] [-scenario create]
//
// Scenarios (Feishu dialect, demo directory):
//
//	create    create a chat with an owner and a member (a durable write)
//	dedupe    create with one uuid (a read after the first write)
//	rejected  create naming an unknown user (rules run, nothing written)
//	token     fetch a tenant_access_token (reused while 30 minutes remain)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "qunload:", err)
		os.Exit(1)
	}
}

type scenario struct {
	path, body string
	auth       bool
	want       int // HTTP status
}

var scenarios = map[string]scenario{
	"create":   {"/open-apis/im/v1/chats", `{"name":"load","owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs","user_id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}`, true, 200},
	"dedupe":   {"/open-apis/im/v1/chats?uuid=qunload", `{"name":"load","owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs"}`, true, 200},
	"rejected": {"/open-apis/im/v1/chats", `{"user_id_list":["ou_00000000000000000000000000000000"]}`, true, 400},
	"token":    {"/open-apis/auth/v3/tenant_access_token/internal", `{"app_id":"cli_a10fbf7e94b8d01d","app_secret":"demo-feishu-secret"}`, false, 200},
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qunload", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the qun node")
	clients := fs.Int("c", 16, "concurrent clients")
	duration := fs.Duration("d", 10*time.Second, "how long to run")
	name := fs.String("scenario", "create", "create, dedupe, rejected or token")
	app := fs.String("app", "cli_a10fbf7e94b8d01d", "Feishu app_id")
	secret := fs.String("secret", "demo-feishu-secret", "app_secret")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sc, ok := scenarios[*name]
	if !ok {
		return fmt.Errorf("unknown scenario %q", *name)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}, Timeout: 30 * time.Second}
	token, err := fetchToken(hc, *base, *app, *secret)
	if err != nil {
		return err
	}
	var (
		stop      atomic.Bool
		failures  atomic.Int64
		firstFail atomic.Value
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for !stop.Load() {
				t0 := time.Now()
				status, err := call(hc, *base+sc.path, sc.body, sc.auth, token)
				if err == nil && status != sc.want {
					err = fmt.Errorf("HTTP %d, want %d", status, sc.want)
				}
				if err != nil {
					failures.Add(1)
					firstFail.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(*duration)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	fmt.Fprintf(out, "scenario %s, %d clients, %s\n", *name, *clients, elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "  ok %d, failed %d, %.0f req/s\n", len(latencies), failures.Load(), float64(len(latencies))/elapsed.Seconds())
	fmt.Fprintf(out, "  latency p50 %s, p90 %s, p99 %s, max %s\n", pct(.5).Round(time.Microsecond), pct(.9).Round(time.Microsecond), pct(.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if f := firstFail.Load(); f != nil {
		fmt.Fprintf(out, "  first failure: %s\n", f)
	}
	return nil
}

func call(hc *http.Client, url, body string, auth bool, token string) (int, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
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
