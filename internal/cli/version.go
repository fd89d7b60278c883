package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// version is set at build time, e.g.
//
//	go build -ldflags "-X github.com/dcvmail/dcvmail/internal/cli.version=v1.4.0" ./cmd/dcvmail
//
// Without it, Version reads what the Go toolchain recorded in the binary.
var version string

var versionCmd = &command{
	name:     "version",
	synopsis: "",
	summary:  "print the version: module version, VCS revision and time, Go version",
	examples: []string{"dcvmail version"},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		return func(context.Context) error {
			fmt.Fprintln(k.env.Stdout, "dcvmail", Version())
			return nil
		}
	},
}

// Version is the version of the binary: the one set at build time, else
// the module version, VCS revision and time the Go toolchain stamped
// ("devel" when it stamped none, as in `go run` or tests).
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
}

func versionOf(set string, bi *debug.BuildInfo) string {
	if bi == nil {
		if set != "" {
			return set
		}
		return "devel"
	}
	v := set
	if v == "" {
		v = bi.Main.Version
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	var extra []string
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if settings["vcs.modified"] == "true" {
			rev += "+dirty"
		}
		extra = append(extra, "revision "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		extra = append(extra, t)
	}
	if bi.GoVersion != "" {
		extra = append(extra, bi.GoVersion)
	}
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}
