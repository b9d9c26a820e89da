package qun

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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
	case p == WeCom && kind == OpenUserID:
		return "wo" + alnum(30, "open_userid", scope, tenantKey, userID)
	case p == DingTalk && kind == UnionID:
		// DingTalk unionIds are opaque letters and digits, e.g. "iiiiPbvBZHumR1xe2".
		return alnum(20, "union_id", scope, tenantKey, userID) + "iE"
	}
	return derivedHex(32, string(kind), scope, tenantKey, userID)
}

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// alnum returns n letters and digits derived from parts.
func alnum(n int, parts ...string) string {
	sum := sha512.Sum512([]byte(strings.Join(parts, "\x00")))
	id := make([]byte, n)
	for i := range id {
		id[i] = alphanumerics[int(sum[i%len(sum)])%len(alphanumerics)]
	}
	return string(id)
}

// randomAlnum returns n random letters and digits.
func randomAlnum(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("qun: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphanumerics[int(b[i])%len(alphanumerics)]
	}
	return string(b)
}

// NewTenantKey returns a fresh tenant key in the platform's format.
func NewTenantKey(p Platform) string {
	switch p {
	case DingTalk:
		return "ding" + randomHex(16)
	case WeCom:
		return "ww" + randomHex(16)
	}
	return randomHex(16)
}

// NewAppKey returns a fresh app key in the platform's format.
func NewAppKey(p Platform) string {
	switch p {
	case DingTalk:
		return "ding" + randomHex(16)
	case WeCom:
		var n int
		fmt.Sscanf(randomHex(5), "%x", &n)
		return fmt.Sprint(1000002 + n%900000) // an agentid
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
	case kind == LoginCode:
		return randomHex(32)
	case kind == Session:
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			panic("qun: crypto/rand failed: " + err.Error())
		}
		return base64.StdEncoding.EncodeToString(b) // like kJtdi6RF+Dv67QkbLlPGjw==
	case p == WeCom:
		return randomAlnum(64)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("qun: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
