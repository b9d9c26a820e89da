package ratelimit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestRedisOutage: a Redis limiter whose server stops fails requests
// quickly (an error, which the dialects answer with the platform's system
// error), and works again by itself once the server is back on its port.
func TestRedisOutage(t *testing.T) {
	if os.Getenv("QUN_TEST_REDIS") == "" {
		t.Skip("QUN_TEST_REDIS is not set")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("QUN_TEST_REDIS is set but redis-server is not installed: %v", err)
	}
	port := freePort(t)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return cmd
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("redis-server did not start")
		return nil
	}
	srv := start()
	l, err := OpenRedis(fmt.Sprintf("redis://127.0.0.1:%d/0", port), "outage:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rules := []Rule{{Limit: 100, Window: time.Minute}}
	if d, err := l.Allow(context.Background(), "k", rules); err != nil || !d.Allowed {
		t.Fatalf("with Redis up: %+v %v", d, err)
	}
	srv.Process.Kill()
	srv.Wait()
	began := time.Now()
	if _, err := l.Allow(context.Background(), "k", rules); err == nil {
		t.Fatal("with Redis down: no error")
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("with Redis down a request waited %v", took)
	}
	srv = start()
	defer func() { srv.Process.Kill(); srv.Wait() }()
	var last error
	for range 50 {
		var d Decision
		if d, last = l.Allow(context.Background(), "k", rules); last == nil && d.Allowed {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("with Redis back: %v", last)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
