package events

import (
	"bytes"
	"testing"
)

const testKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// TestSealOpen: what Seal makes, Open opens.
func TestSealOpen(t *testing.T) {
	for _, msg := range []string{"", "success", "<xml>消息</xml>", string(bytes.Repeat([]byte("x"), 1000))} {
		sealed, err := Seal(testKey, "ww0123456789abcdef", []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		got, receiver, err := Open(testKey, sealed)
		if err != nil || string(got) != msg || receiver != "ww0123456789abcdef" {
			t.Errorf("Open(Seal(%.20q)) = %.20q, %q, %v", msg, got, receiver, err)
		}
	}
	if _, err := Seal("short", "r", nil); err != ErrCallbackKey {
		t.Errorf("a short key: %v", err)
	}
}

// TestWeComVector: the example of WeCom's callback documentation (and of
// its WXBizMsgCrypt samples) verifies and decrypts.
func TestWeComVector(t *testing.T) {
	const (
		token   = "QDG6eK"
		key     = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
		corp    = "wx5823bf96d3bd56c7"
		encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	)
	if got := Signature(token, "1409659813", "1372623149", encrypt); got != "477715d11cdb4164915debcba66cb864d751f3e6" {
		t.Errorf("Signature = %s", got)
	}
	msg, receiver, err := Open(key, encrypt)
	if err != nil || receiver != corp || !bytes.HasPrefix(msg, []byte("<xml><ToUserName><![CDATA["+corp)) {
		t.Errorf("Open = %.60q, %q, %v", msg, receiver, err)
	}
}

// FuzzOpen feeds arbitrary ciphertexts to Open (a receiver's encrypted
// answer is untrusted): it never panics.
func FuzzOpen(f *testing.F) {
	sealed, _ := Seal(testKey, "r", []byte("success"))
	f.Add(sealed)
	f.Add("")
	f.Add("AAAA")
	f.Add("////////////////////////////////////////////////////////////////////////////////////////////////////////////////")
	f.Fuzz(func(t *testing.T, s string) {
		msg, receiver, err := Open(testKey, s)
		if err == nil && len(msg)+len(receiver) > len(s) {
			t.Fatalf("Open returned more than it was given")
		}
	})
}
