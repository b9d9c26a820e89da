// Package golden compares what tests produce with files they keep under
// testdata: `go test -update` rewrites the files from the current output.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// JSON indents body with indent, adds a final newline and compares the
// result with the file at path (after writing it, with -update). It returns
// the indented text.
func JSON(t testing.TB, path string, body []byte, indent string) string {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", indent); err != nil {
		t.Fatalf("%s: %v: %s", path, err, body)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("%s differs:\n%s", path, pretty.Bytes())
	}
	return pretty.String()
}

// Text compares body, with a final newline, with the file at path (after
// writing it, with -update).
func Text(t testing.TB, path string, body []byte) {
	t.Helper()
	got := append(bytes.TrimRight(body, "\n"), '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s", path, got)
	}
}
