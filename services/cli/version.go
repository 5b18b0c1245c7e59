package cli

import (
	"runtime"
	"runtime/debug"
)

// Build is what the Go toolchain recorded about this binary: the module
// version ("(devel)" when none), the VCS revision ("unknown" when none, as
// in a build from a source tree without .git), whether the work tree had
// uncommitted changes, and the Go version. The version command prints it,
// and serve exports version and revision as a metric.
type Build struct {
	Version, Revision, GoVersion string
	Modified                     bool
}

// ReadBuild reads this binary's Build.
func ReadBuild() Build {
	bi, ok := debug.ReadBuildInfo()
	return buildOf(bi, ok)
}

// Version describes this build in one line.
func Version() string { return ReadBuild().String() }

// String is the one-line description `accountpw version` prints.
func (b Build) String() string {
	s := "accountpw " + b.Version + " (revision " + b.Revision
	if b.Modified {
		s += ", modified"
	}
	return s + ", " + b.GoVersion + ")"
}

// describe formats the build information bi (ok is ReadBuildInfo's).
func describe(bi *debug.BuildInfo, ok bool) string { return buildOf(bi, ok).String() }

// buildOf extracts a Build, with "(devel)" and "unknown" standing for what
// the build does not record.
func buildOf(bi *debug.BuildInfo, ok bool) Build {
	b := Build{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}
