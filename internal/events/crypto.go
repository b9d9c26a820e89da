package events

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
)

// The callback encryption DingTalk and WeCom share (WeCom's
// "WXBizMsgCrypt", which DingTalk adopted): AES-256-CBC under
// base64(EncodingAESKey + "="), the key's first 16 bytes as IV, a
// plaintext of random16 ‖ uint32_be(len) ‖ message ‖ receiver ID padded
// PKCS#7 to 32 bytes, and a SHA-1 signature over the sorted token,
// timestamp, nonce and ciphertext. Neither vendor publishes it for Go
// (WeCom's is @wecom/crypto for Node), so it is written here, once.

// ErrCallbackKey is a key that is not 43 characters of base64.
var ErrCallbackKey = errors.New("events: the EncodingAESKey must be 43 characters of base64")

func callbackKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, ErrCallbackKey
	}
	k, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(k) != 32 {
		return nil, ErrCallbackKey
	}
	return k, nil
}

// Seal encrypts msg for receiver (a corpid, appKey or suite key) and
// returns the base64 ciphertext.
func Seal(encodingAESKey, receiver string, msg []byte) (string, error) {
	k, err := callbackKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	var plain bytes.Buffer
	random := make([]byte, 16)
	rand.Read(random)
	plain.Write(random)
	binary.Write(&plain, binary.BigEndian, uint32(len(msg)))
	plain.Write(msg)
	plain.WriteString(receiver)
	pad := 32 - plain.Len()%32
	plain.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, err := aes.NewCipher(k)
	if err != nil {
		return "", err
	}
	out := make([]byte, plain.Len())
	cipher.NewCBCEncrypter(block, k[:16]).CryptBlocks(out, plain.Bytes())
	return base64.StdEncoding.EncodeToString(out), nil
}

var errSealed = errors.New("events: the ciphertext does not decrypt")

// Open decrypts a ciphertext Seal made and returns the message and its
// receiver.
func Open(encodingAESKey, sealed string) (msg []byte, receiver string, err error) {
	k, err := callbackKey(encodingAESKey)
	if err != nil {
		return nil, "", err
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return nil, "", errSealed
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, "", err
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(block, k[:16]).CryptBlocks(plain, raw)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 || pad > len(plain) {
		return nil, "", errSealed
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, "", errSealed
	}
	n := int(binary.BigEndian.Uint32(plain[16:20]))
	if n > len(plain)-20 {
		return nil, "", errSealed
	}
	return plain[20 : 20+n], string(plain[20+n:]), nil
}

// Signature is the callbacks' msg_signature: hex(SHA-1) of the sorted,
// concatenated parts (token, timestamp, nonce, ciphertext).
func Signature(parts ...string) string {
	s := slices.Clone(parts)
	slices.Sort(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}
