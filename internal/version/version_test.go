package version

import (
	"strings"
	"testing"
)

func TestLinkTimeValuesWin(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v9.8.7", "0123456789abcdef0123", "2026-12-01T00:00:00Z"
	i := Get()
	if i.Version != "v9.8.7" || i.Commit != "0123456789abcdef0123" || i.Date != "2026-12-01T00:00:00Z" {
		t.Fatalf("Get() = %+v", i)
	}
	if s := i.String(); !strings.HasPrefix(s, "v9.8.7 (commit 0123456789ab, 2026-12-01T00:00:00Z, go") {
		t.Errorf("String() = %q", s)
	}
}

func TestDefaults(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Commit == "" || i.Date == "" || !strings.HasPrefix(i.Go, "go") {
		t.Errorf("Get() = %+v: every field has a value", i)
	}
}
