// Package version holds build information, set with -ldflags at release time:
//
//	-X github.com/genericcorp/baton/internal/version.Version=v1.2.3
//	-X github.com/genericcorp/baton/internal/version.Commit=abc1234
//	-X github.com/genericcorp/baton/internal/version.Date=2026-11-28T00:00:00Z
package version

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info describes this build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the build info; for a plain `go build` it falls back to the
// VCS data the Go toolchain embeds.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.Commit == "":
				i.Commit = s.Value
			case s.Key == "vcs.time" && i.Date == "":
				i.Date = s.Value
			}
		}
	}
	if len(i.Commit) > 12 {
		i.Commit = i.Commit[:12]
	}
	return i
}
