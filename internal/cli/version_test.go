package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	t.Parallel()
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-05T09:00:00Z"}, {Key: "vcs.modified", Value: "false"},
	}}
	dirty := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tt := range []struct {
		name, set string
		bi        *debug.BuildInfo
		want      string
	}{
		{"module version and VCS", "", stamped, "v1.2.3 (revision 0123456789ab, 2026-12-05T09:00:00Z, go1.26.8)"},
		{"ldflags win", "v9.0.0", stamped, "v9.0.0 (revision 0123456789ab, 2026-12-05T09:00:00Z, go1.26.8)"},
		{"devel, modified tree", "", dirty, "devel (revision 0123456789ab+dirty, go1.26.8)"},
		{"nothing stamped", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build info", "", nil, "devel"},
		{"no build info, ldflags", "v2.0.0", nil, "v2.0.0"},
	} {
		if got := versionOf(tt.set, tt.bi); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
