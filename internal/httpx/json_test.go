package httpx

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUnmarshal(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		in      string
		known   bool
		want    string // "" ok, else the kind of error
		trailAt int64
	}{
		{in: `{"name":"x"}`},
		{in: " \t\r\n{\"name\":\"x\"} \t\r\n"},
		{in: `{"name":"x"}}`, want: "trailing", trailAt: 12},
		{in: `{"name":"x"}]`, want: "trailing", trailAt: 12},
		{in: `{"name":"x"} {}`, want: "trailing", trailAt: 12},
		{in: `{"name":"x"}x`, want: "trailing", trailAt: 12},
		{in: `{"name":"x"}` + "\u00a0", want: "trailing", trailAt: 12}, // not JSON white space
		{in: `{"name":"x"}` + "\v", want: "trailing", trailAt: 12},
		{in: `{"name":"x"}` + "\x00", want: "trailing", trailAt: 12},
		{in: ``, want: "empty"},
		{in: " \n", want: "empty"},
		{in: `{"name":`, want: "syntax"},
		{in: `{"name":1}`, want: "type"},
		{in: `{"nmae":"x"}`},
		{in: `{"nmae":"x"}`, known: true, want: "unknown"},
	} {
		var v body
		var err error
		if tc.known {
			err = UnmarshalKnown([]byte(tc.in), &v)
		} else {
			err = Unmarshal([]byte(tc.in), &v)
		}
		var (
			trailing *TrailingDataError
			typ      *json.UnmarshalTypeError
		)
		got := ""
		switch {
		case err == nil:
		case errors.As(err, &trailing):
			got = "trailing"
			if trailing.Offset != tc.trailAt {
				t.Errorf("%q: trailing data at %d, want %d", tc.in, trailing.Offset, tc.trailAt)
			}
		case errors.Is(err, ErrEmptyBody):
			got = "empty"
		case errors.As(err, &typ):
			got = "type"
		case strings.Contains(err.Error(), "unknown field"):
			got = "unknown"
		default:
			got = "syntax"
		}
		if got != tc.want {
			t.Errorf("%q: %v (%s), want %q", tc.in, err, got, tc.want)
		}
	}
}

func TestDecodeJSONEmptyIsObject(t *testing.T) {
	v := map[string]int{"kept": 1}
	r := httptest.NewRequest("POST", "/", strings.NewReader("  "))
	if err := DecodeJSON(httptest.NewRecorder(), r, 10, &v); err != nil || v["kept"] != 1 {
		t.Fatalf("empty body: %v %v", err, v)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}}`))
	if err := DecodeJSON(httptest.NewRecorder(), r, 100, &v); err == nil {
		t.Fatal("trailing data accepted")
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":12345678}`))
	if err := DecodeJSON(httptest.NewRecorder(), r, 5, &v); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("oversize body: %v", err)
	}
}

// FuzzUnmarshal checks the shared decoder's contract on any input: it
// accepts exactly the bodies that are one valid JSON text (json.Valid), it
// decodes them as json.Unmarshal does, and it rejects a valid text followed
// by anything but white space.
func FuzzUnmarshal(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":[1,2]}}`, `{"a":1}]`, `[1] [2]`, `"x"`, ` 1 `, `nul`, ``, `{"a":"\ud800"}`, "{}\u00a0"} {
		f.Add([]byte(seed), []byte("}"))
	}
	f.Fuzz(func(t *testing.T, raw, suffix []byte) {
		var text json.RawMessage
		err := Unmarshal(raw, &text)
		switch {
		case isSpace(raw):
			if !errors.Is(err, ErrEmptyBody) {
				t.Fatalf("blank %q: %v, want ErrEmptyBody", raw, err)
			}
			return
		case json.Valid(raw) != (err == nil):
			t.Fatalf("%q: Unmarshal error %v, json.Valid %v", raw, err, json.Valid(raw))
		case err != nil:
			return
		}
		// Into a Go value it decodes as json.Unmarshal does, errors included
		// (a number too large for float64).
		var got, want any
		errGot, errWant := Unmarshal(raw, &got), json.Unmarshal(raw, &want)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%q: Unmarshal %v, json.Unmarshal %v", raw, errGot, errWant)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			t.Fatalf("%q: decoded %s, json.Unmarshal %s", raw, a, b)
		}
		if isSpace(suffix) {
			return
		}
		// A valid text with something after it is never accepted.
		withJunk := append(append([]byte{}, raw...), suffix...)
		if json.Valid(withJunk) {
			return // e.g. "1" + "2" is the number 12
		}
		if err := Unmarshal(withJunk, &text); err == nil {
			t.Fatalf("%q accepted", withJunk)
		}
	})
}
