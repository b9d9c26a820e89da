package quntest

import (
	"context"
	"sync"
	"time"
)

// TokenCache is a token cache for one SDK client. The Feishu Go SDK caches
// tokens in a process-wide map keyed by app ID and secret, so a client of a
// second test server would reuse the first server's token and fail with
// 99991663. Give each client its own cache:
//
//	lark.NewClient(id, secret, lark.WithOpenBaseUrl(srv.URL), lark.WithTokenCache(quntest.NewTokenCache()))
//
// It satisfies the SDK's larkcore.Cache interface.
type TokenCache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	value   string
	expires time.Time
}

// NewTokenCache returns an empty cache.
func NewTokenCache() *TokenCache { return &TokenCache{m: map[string]cached{}} }

// Set stores value under key for ttl.
func (c *TokenCache) Set(_ context.Context, key, value string, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = cached{value: value, expires: time.Now().Add(ttl)}
	return nil
}

// Get returns the value under key, or "" when absent or expired.
func (c *TokenCache) Get(_ context.Context, key string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if !ok || time.Now().After(v.expires) {
		return "", nil
	}
	return v.value, nil
}
