package qun

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// orderedHex returns n lowercase hex digits (n >= 12) that begin with
// the time in milliseconds (12 digits) and go on at random, as a UUID of
// RFC 9562's version 7 does: identifiers made one after another sort next
// to each other, so a store's unique index on them takes each new one on
// the page where it took the last, where random ones dirty a page each.
// They look as opaque as random ones to a client.
func orderedHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic("qun: crypto/rand failed: " + err.Error())
	}
	putMillis(b)
	return hex.EncodeToString(b)[:n]
}

// putMillis writes the time in milliseconds into b's first six bytes,
// most significant first.
func putMillis(b []byte) {
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
}

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

// sortedAlnum are the letters and digits in byte order, for an
// identifier's time prefix.
const sortedAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// orderedAlnum returns n letters and digits (n >= 8) that begin with the
// time in milliseconds (8 digits of base 62, in byte order) and go on at
// random: see orderedHex.
func orderedAlnum(n int) string {
	id := []byte(randomAlnum(n))
	ms := uint64(time.Now().UnixMilli())
	for i := 7; i >= 0; i-- {
		id[i] = sortedAlnum[ms%62]
		ms /= 62
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
