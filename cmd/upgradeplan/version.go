package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3". Without it the
// module version from the build info is used ("devel" for a work tree build).
var version = ""

// commit is set at link time too (-X main.commit=abc123) when the build has no VCS stamp.
var commit = ""

// versionString is what --version prints after "upgradeplan version ":
// the version, the commit (with "+dirty" for a modified tree) and the Go version.
func versionString() string {
	v, rev, dirty := version, commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
					if len(rev) > 12 {
						rev = rev[:12]
					}
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if rev == "" {
		rev = "unknown"
	} else if dirty {
		rev += "+dirty"
	}
	return fmt.Sprintf("%s (commit %s, %s)", v, rev, runtime.Version())
}
