// Package version says which build of qun is running: its version, the
// commit it was built from and when. The values come from the Go build
// information (a module version under `go install …@v0.1.0`, the VCS
// stamp of a build in a checkout) and can be set at link time:
//
//	go build -ldflags "-X github.com/qunhq/qun/internal/version.version=v0.1.0 \
//	  -X github.com/qunhq/qun/internal/version.commit=$(git rev-parse HEAD) \
//	  -X github.com/qunhq/qun/internal/version.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/qun
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags -X; empty means "read the build information".
var version, commit, date string

// Info describes a build.
type Info struct {
	// Version is the release (v0.1.0), or "(devel)" for a build from a
	// checkout.
	Version string
	// Commit is the VCS revision, "unknown" when the build has none.
	Commit string
	// Date is when the commit was made (or the build, when set at link
	// time), RFC 3339; "unknown" when not known.
	Date string
	// Modified reports a build from a work tree with uncommitted changes.
	Modified bool
	// Go is the toolchain and platform, e.g. "go1.26.8 linux/amd64".
	Go string
}

// Get returns the running build's information.
func Get() Info {
	info := Info{Version: "(devel)", Commit: "unknown", Date: "unknown", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	for dst, v := range map[*string]string{&info.Version: version, &info.Commit: commit, &info.Date: date} {
		if v != "" {
			*dst = v
		}
	}
	return info
}

// ShortCommit is the commit's first 12 characters.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the one-line form `qun version` prints.
func (i Info) String() string {
	dirty := ""
	if i.Modified {
		dirty = ", modified"
	}
	return fmt.Sprintf("%s (commit %s%s, %s, %s)", i.Version, i.ShortCommit(), dirty, i.Date, i.Go)
}
