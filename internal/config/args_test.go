package config

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		args       []string
		env        map[string]string
		positional []string
		json       bool
		listen     string
		src        map[string]string
		err        string
	}{
		{name: "flags after", args: []string{"10000002", "--json"}, positional: []string{"10000002"}, json: true, src: map[string]string{"json": "--json"}},
		{name: "flags between", args: []string{"a", "--listen", "x:1", "b"}, positional: []string{"a", "b"}, listen: "x:1"},
		{name: "double dash ends flags", args: []string{"--json", "--", "--listen", "x"}, positional: []string{"--listen", "x"}, json: true},
		{name: "single dash is an argument", args: []string{"-", "--json"}, positional: []string{"-"}, json: true},
		{name: "environment", args: []string{"n"}, env: map[string]string{"DCVMAIL_LISTEN": "e:2"}, positional: []string{"n"}, listen: "e:2", src: map[string]string{"listen": "DCVMAIL_LISTEN"}},
		{name: "flag wins", args: []string{"--listen", "f:3"}, env: map[string]string{"DCVMAIL_LISTEN": "e:2"}, listen: "f:3", src: map[string]string{"listen": "--listen"}},
		{name: "typo", args: []string{"--lsten", "x"}, err: "unknown flag --lsten (did you mean --listen?)"},
		{name: "transposed", args: []string{"--jsno"}, err: "unknown flag --jsno (did you mean --json?)"},
		{name: "far", args: []string{"--completely-else"}, err: "unknown flag --completely-else"},
		{name: "bad bool from env", env: map[string]string{"DCVMAIL_JSON": "maybe"}, err: `DCVMAIL_JSON="maybe"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			js := fs.Bool("json", false, "")
			listen := fs.String("listen", "", "")
			pos, src, err := ParseArgs(fs, tt.args, func(k string) string { return tt.env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || (strings.HasPrefix(tt.err, "unknown") && err.Error() != tt.err && !strings.Contains(tt.err, "did")) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(pos, tt.positional) || *js != tt.json || *listen != tt.listen {
				t.Fatalf("positional %q json %v listen %q err %v", pos, *js, *listen, err)
			}
			for k, v := range tt.src {
				if src.Name(k) != v {
					t.Errorf("source of %s: %q, want %q", k, src.Name(k), v)
				}
			}
		})
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if _, _, err := ParseArgs(fs, []string{"-h"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}
