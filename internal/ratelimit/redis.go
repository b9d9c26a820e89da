package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter whose windows live in Redis, shared by every node
// using the same server and prefix: the same sliding windows as Local, one
// sorted set of allowed-request times per key, checked and updated by one
// script, so that concurrent requests on any nodes are counted exactly.
type Redis struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedis returns a Redis limiter on client; keys are stored under
// prefix; now is the clock of the windows (time.Now if nil; nodes' clocks
// should agree to within the shortest window's precision).
func NewRedis(client redis.UniversalClient, prefix string, now func() time.Time) *Redis {
	if now == nil {
		now = time.Now
	}
	return &Redis{client: client, prefix: prefix, now: now}
}

// allowScript is Local.Allow on a sorted set: KEYS[1] the key, ARGV the
// time (ms), a unique member, the number of rules and each rule's limit
// and window (ms). It answers {1} when allowed, or {0, limit, window,
// reset ms} for the rule that refuses longest.
var allowScript = redis.NewScript(`
local key, now, member, n = KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local refused, keep, horizon = nil, 0, 0
for i = 0, n - 1 do
  local limit, window = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  if limit > keep then keep = limit end
  if window > horizon then horizon = window end
  local inside = redis.call('ZCOUNT', key, '(' .. (now - window), '+inf')
  if inside >= limit then
    -- it frees up when the oldest request that keeps it full expires
    local total = redis.call('ZCARD', key)
    local oldest = redis.call('ZRANGE', key, total - limit, total - limit, 'WITHSCORES')
    local reset = tonumber(oldest[2]) + window - now
    if refused == nil or reset > refused[4] then refused = {0, limit, window, reset} end
  end
end
if refused then return refused end
redis.call('ZADD', key, now, member)
local total = redis.call('ZCARD', key)
if total > keep then redis.call('ZREMRANGEBYRANK', key, 0, total - keep - 1) end
redis.call('PEXPIRE', key, horizon)
return {1}
`)

// Allow implements Limiter. It fails when Redis does not answer.
func (l *Redis) Allow(ctx context.Context, key string, rules []Rule) (Decision, error) {
	if len(rules) == 0 {
		return Decision{Allowed: true}, nil
	}
	var b [12]byte
	rand.Read(b[:])
	now := l.now().UnixMilli()
	args := []any{now, hex.EncodeToString(b[:]), len(rules)}
	for _, r := range rules {
		args = append(args, r.Limit, r.Window.Milliseconds())
	}
	res, err := allowScript.Run(ctx, l.client, []string{l.prefix + key}, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) == 1 && res[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("ratelimit: redis: unexpected answer %v", res)
	}
	return Decision{
		Rule:  Rule{Limit: int(res[1]), Window: time.Duration(res[2]) * time.Millisecond},
		Reset: time.Duration(res[3]) * time.Millisecond,
	}, nil
}

// maxScan bounds the keys Usage reads.
const maxScan = 10_000

// Usage implements Inspector: the keys under the prefix (expired ones are
// gone: each key expires with its longest window), read with SCAN.
func (l *Redis) Usage(ctx context.Context, limit int) ([]Usage, error) {
	var out []Usage
	iter := l.client.Scan(ctx, 0, l.prefix+"*", 500).Iterator()
	for n := 0; iter.Next(ctx) && n < maxScan; n++ {
		key := iter.Val()
		used, err := l.client.ZCard(ctx, key).Result()
		if err != nil {
			return nil, fmt.Errorf("ratelimit: redis: %w", err)
		}
		last, err := l.client.ZRangeWithScores(ctx, key, -1, -1).Result()
		if err != nil {
			return nil, fmt.Errorf("ratelimit: redis: %w", err)
		}
		if used == 0 || len(last) == 0 {
			continue
		}
		out = append(out, Usage{Key: strings.TrimPrefix(key, l.prefix), Used: int(used), Last: time.UnixMilli(int64(last[0].Score))})
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return sortUsage(out, limit), nil
}

// OpenRedis connects to the Redis server url names (redis://host:port/db,
// as go-redis reads it), keeping keys under prefix ("" is
// "qun:ratelimit:"), with timeouts short enough that a server that is
// down fails a request in well under a second, instead of holding it.
func OpenRedis(url, prefix string, now func() time.Time) (*Redis, error) {
	if prefix == "" {
		prefix = "qun:ratelimit:"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: --redis: %w", err)
	}
	opts.DialTimeout = 250 * time.Millisecond
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.PoolTimeout = 500 * time.Millisecond
	opts.MaxRetries = 1
	return NewRedis(redis.NewClient(opts), prefix, now), nil
}

// Close closes the connections.
func (l *Redis) Close() error { return l.client.Close() }
