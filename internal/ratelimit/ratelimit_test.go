package ratelimit

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisClient connects to the Redis server url names, failing t when it
// does not answer.
func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("QUN_TEST_REDIS: %v", err)
	}
	return c
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var tier4 = []Rule{{Limit: 50, Window: time.Second}, {Limit: 1000, Window: time.Minute}}

// newLimiter makes a limiter reading time from now (time.Now if nil), with
// windows of its own.
type newLimiter func(t *testing.T, now func() time.Time) Limiter

// TestLimiters runs the limiter conformance suite on Local and, when
// QUN_TEST_REDIS names a Redis server, on Redis: both keep the same
// windows.
func TestLimiters(t *testing.T) {
	impls := map[string]newLimiter{
		"Local": func(t *testing.T, now func() time.Time) Limiter { return NewLocal(now) },
	}
	if url := os.Getenv("QUN_TEST_REDIS"); url != "" {
		impls["Redis"] = func(t *testing.T, now func() time.Time) Limiter {
			return NewRedis(redisClient(t, url), "qun-test:"+t.Name()+":"+strconv.FormatInt(time.Now().UnixNano(), 36)+":", now)
		}
	}
	cases := map[string]func(*testing.T, newLimiter){
		"PerSecond":          testPerSecond,
		"PerMinute":          testPerMinute,
		"KeysAreIndependent": testKeysAreIndependent,
		"Concurrent":         testConcurrent,
		"NoRules":            testNoRules,
		"LongWindows":        testLongWindows,
		"Usage":              testUsage,
	}
	for name, impl := range impls {
		t.Run(name, func(t *testing.T) {
			for cname, c := range cases {
				t.Run(cname, func(t *testing.T) { c(t, impl) })
			}
		})
	}
}

func testPerSecond(t *testing.T, newL newLimiter) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newL(t, c.now)
	allowed := 0
	for i := range 120 {
		c.t = c.t.Add(time.Millisecond) // 120 requests in 120 ms
		d, _ := l.Allow(context.Background(), "k", tier4)
		if d.Allowed {
			allowed++
			continue
		}
		if d.Rule.Limit != 50 || d.Reset <= 0 || d.Reset > time.Second {
			t.Fatalf("request %d refused by %+v reset %v", i, d.Rule, d.Reset)
		}
	}
	if allowed != 50 {
		t.Fatalf("%d allowed, want 50", allowed)
	}
	// The first request was at +1 ms: at +1001 ms exactly one slot frees.
	c.t = time.Unix(1_700_000_000, 0).Add(1001 * time.Millisecond)
	if d, _ := l.Allow(context.Background(), "k", tier4); !d.Allowed {
		t.Error("a slot did not free after a second")
	}
	if d, _ := l.Allow(context.Background(), "k", tier4); d.Allowed {
		t.Error("a second slot freed too early")
	}
}

func testPerMinute(t *testing.T, newL newLimiter) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newL(t, c.now)
	allowed := 0
	// 40 per second for 30 seconds stays under 50/s but crosses 1000/min.
	for range 30 {
		for range 40 {
			c.t = c.t.Add(25 * time.Millisecond)
			if d, _ := l.Allow(context.Background(), "k", tier4); d.Allowed {
				allowed++
			} else if d.Rule.Limit != 1000 {
				t.Fatalf("refused by %+v, want the per-minute rule", d.Rule)
			}
		}
	}
	if allowed != 1000 {
		t.Fatalf("%d allowed in 30 s, want 1000", allowed)
	}
}

func testKeysAreIndependent(t *testing.T, newL newLimiter) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newL(t, c.now)
	for range 50 {
		l.Allow(context.Background(), "a", tier4)
	}
	if d, _ := l.Allow(context.Background(), "a", tier4); d.Allowed {
		t.Error("key a not limited")
	}
	if d, _ := l.Allow(context.Background(), "b", tier4); !d.Allowed {
		t.Error("key b limited by key a")
	}
}

func testConcurrent(t *testing.T, newL newLimiter) {
	l := newL(t, func() time.Time { return time.Unix(1_700_000_000, 0) })
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		n  int
	)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, _ := l.Allow(context.Background(), "k", tier4); d.Allowed {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n != 50 {
		t.Errorf("%d allowed, want 50", n)
	}
}

func testNoRules(t *testing.T, newL newLimiter) {
	l := newL(t, nil)
	for range 1000 {
		if d, _ := l.Allow(context.Background(), "k", nil); !d.Allowed {
			t.Fatal("refused without rules")
		}
	}
}

// testLongWindows: forgetting idle keys (Local's sweep, which calls with
// short windows trigger; Redis's expiry) keeps keys whose own windows are
// still open.
func testLongWindows(t *testing.T, newL newLimiter) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newL(t, c.now)
	daily := []Rule{{Limit: 1, Window: 24 * time.Hour}}
	if d, _ := l.Allow(context.Background(), "daily", daily); !d.Allowed {
		t.Fatal("first daily request refused")
	}
	c.t = c.t.Add(time.Hour)
	for range 5000 { // crosses a sweep
		l.Allow(context.Background(), "busy", []Rule{{Limit: 1 << 20, Window: time.Second}})
	}
	if d, _ := l.Allow(context.Background(), "daily", daily); d.Allowed {
		t.Error("the daily window was forgotten after an hour")
	}
	c.t = c.t.Add(24 * time.Hour)
	if d, _ := l.Allow(context.Background(), "daily", daily); !d.Allowed {
		t.Error("the daily window did not reopen after a day")
	}
}

// testUsage: the inspector lists the keys in use, most used first, with
// the requests their windows keep and the last one's time; refused
// requests are not counted.
func testUsage(t *testing.T, newL newLimiter) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newL(t, c.now)
	ctx := context.Background()
	rules := []Rule{{Limit: 3, Window: time.Minute}}
	for range 5 {
		c.t = c.t.Add(time.Second)
		l.Allow(ctx, "busy", rules)
	}
	l.Allow(ctx, "quiet", rules)
	us, err := l.(Inspector).Usage(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].Key != "busy" || us[0].Used != 3 || !us[0].Last.Equal(time.Unix(1_700_000_003, 0)) || us[1].Key != "quiet" || us[1].Used != 1 {
		t.Errorf("usage %+v", us)
	}
	if us, _ := l.(Inspector).Usage(ctx, 1); len(us) != 1 || us[0].Key != "busy" {
		t.Errorf("usage limited to 1: %+v", us)
	}
}
