package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrEmptyBody is returned by Unmarshal for a body that is empty or only
// white space.
var ErrEmptyBody = errors.New("empty JSON body")

// TrailingDataError is returned by Unmarshal for a body with more than
// white space after its JSON value, e.g. `{"a":1}}`.
type TrailingDataError struct {
	// Offset is the byte offset of the first byte after the value.
	Offset int64
}

func (e *TrailingDataError) Error() string {
	return fmt.Sprintf("unexpected data after the JSON value at byte %d", e.Offset)
}

// Unmarshal decodes raw into v. raw must hold exactly one JSON value with
// nothing after it but JSON white space; an empty body is ErrEmptyBody,
// anything after the value a *TrailingDataError. Other errors are
// encoding/json's (*json.SyntaxError, *json.UnmarshalTypeError, ...).
//
// Every decoder of untrusted JSON in qun goes through Unmarshal (or
// DecodeJSON), so no dialect can accept `{...}}` by accident.
func Unmarshal(raw []byte, v any) error { return unmarshal(raw, v, false) }

// UnmarshalKnown is Unmarshal that also rejects object members v has no
// field for.
func UnmarshalKnown(raw []byte, v any) error { return unmarshal(raw, v, true) }

func unmarshal(raw []byte, v any, known bool) error {
	if isSpace(raw) {
		return ErrEmptyBody
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if known {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if off := dec.InputOffset(); !isSpace(raw[off:]) {
		return &TrailingDataError{Offset: off}
	}
	return nil
}

// isSpace reports whether b is only JSON white space (RFC 8259: space,
// tab, line feed, carriage return).
func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// DecodeJSON reads the request body, at most limit bytes, and decodes it
// into v with Unmarshal; an empty body leaves v as it is (it reads as {}).
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	raw, err := ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	if err := Unmarshal(raw, v); err != nil && !errors.Is(err, ErrEmptyBody) {
		return err
	}
	return nil
}
