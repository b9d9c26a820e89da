package qun

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// randomHex returns n random lowercase hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic("qun: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)[:n]
}

// derivedHex returns n lowercase hex digits derived from parts, so that the
// same directory yields the same identifiers on every load and every node.
func derivedHex(n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:n]
}

// derivedAlias returns the generated identifier of kind in scope for the
// user userID of tenant tenantKey, in the platform's format.
func derivedAlias(p Platform, kind IDKind, scope, tenantKey, userID string) string {
	switch {
	case p == Feishu && kind == OpenID:
		return "ou_" + derivedHex(32, "open_id", scope, tenantKey, userID)
	case p == Feishu && kind == UnionID:
		return "on_" + derivedHex(32, "union_id", scope, tenantKey, userID)
	case p == DingTalk && kind == UnionID:
		// DingTalk unionIds are opaque letters and digits, e.g. "iiiiPbvBZHumR1xe2".
		const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		sum := sha256.Sum256([]byte(strings.Join([]string{"union_id", scope, tenantKey, userID}, "\x00")))
		id := make([]byte, 20)
		for i := range id {
			id[i] = alnum[int(sum[i])%len(alnum)]
		}
		return string(id) + "iE"
	}
	return derivedHex(32, string(kind), scope, tenantKey, userID)
}

// NewTenantKey returns a fresh tenant key in the platform's format.
func NewTenantKey(p Platform) string {
	if p == DingTalk {
		return "ding" + randomHex(16)
	}
	return randomHex(16)
}

// NewAppKey returns a fresh app key in the platform's format.
func NewAppKey(p Platform) string {
	if p == DingTalk {
		return "ding" + randomHex(16)
	}
	return "cli_" + randomHex(16)
}

// newTokenValue returns a fresh access token in the platform's format.
func newTokenValue(p Platform, kind TokenKind) string {
	switch {
	case kind == AppToken:
		return "a-" + randomHex(40)
	case kind == TenantToken:
		return "t-" + randomHex(40)
	case p == DingTalk:
		return randomHex(32)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("qun: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
