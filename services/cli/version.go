package cli

import (
	"runtime"
	"runtime/debug"
)

// Version describes this build: the module version, the VCS revision and
// whether the work tree had uncommitted changes, and the Go version, all
// from the build information the Go toolchain embeds in the binary.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	return describe(bi, ok)
}

// describe formats the build information; "(devel)" and "unknown" stand for
// what the build does not record (a build without VCS, such as one from a
// source tree without .git, has no revision).
func describe(bi *debug.BuildInfo, ok bool) string {
	version, revision, modified, goVersion := "(devel)", "unknown", false, runtime.Version()
	if ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	s := "accountpw " + version + " (revision " + revision
	if modified {
		s += ", modified"
	}
	return s + ", " + goVersion + ")"
}
