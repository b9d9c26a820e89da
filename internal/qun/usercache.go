package qun

import "sync"

// maxCachedUsers bounds the user cache; when it is full it starts over.
const maxCachedUsers = 1 << 16

// userCache remembers users as the resolver found them, at one directory
// version: an entry read at version v answers a transaction that reads v
// too, since every change of users, aliases, apps and tenants counts a new
// version in its own transaction (updateDirectory). A create then reads
// one meta row instead of its users with every alias, inside the writer.
// It is correct across nodes: the version is the store's.
type userCache struct {
	mu      sync.Mutex
	version int64
	users   map[userKey]User // a zero User: the key names nobody
}

// userKey is how a reference is looked up: an alias of kind in scope, or
// (kind UserID) a user ID in a tenant.
type userKey struct {
	kind   IDKind
	scope  string
	tenant int64
	value  string
}

// get returns what key named at version v, and whether it is known.
func (c *userCache) get(v int64, key userKey) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v {
		return User{}, false
	}
	u, ok := c.users[key]
	return u, ok
}

// put records what key names at version v. Entries of an older version are
// dropped; a put of an older version than the cache's is ignored (a
// transaction that started before a change may still be running).
func (c *userCache) put(v int64, key userKey, u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v < c.version {
		return
	}
	if v > c.version || c.users == nil || len(c.users) >= maxCachedUsers {
		c.version, c.users = v, make(map[userKey]User)
	}
	c.users[key] = u
}
