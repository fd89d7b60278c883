package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// ErrUsage marks an error of the command line (exit status 2) returned by
// a command that reports through an error value.
var ErrUsage = errors.New("usage")

// Sources tells where each flag's value came from, so that a message about
// a bad value names what the user typed: "--listen" for a flag given on the
// command line, "DCVMAIL_LISTEN" for one taken from the environment.
type Sources map[string]string

// Name is how to call flag name in a message about its value.
func (s Sources) Name(name string) string {
	if v, ok := s[name]; ok {
		return v
	}
	return "--" + name
}

// ParseArgs parses a command's arguments: flags may come before, between or
// after the positional arguments ("order show 10000002 --json"), "--" ends
// the flags, and every flag not given takes its environment variable (as
// Parse). It prints nothing: an unknown flag is an error of one line naming
// the nearest known flag, and -h/--help returns flag.ErrHelp for the caller
// to print its help. It returns the positional arguments and where each
// flag's value came from.
func ParseArgs(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, Sources, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()

	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, nil, flagError(fs, err)
		}
		after := fs.Args()
		if len(after) == 0 {
			break
		}
		// fs.Parse stops at the first positional argument, or drops a "--"
		// and stops after it: then everything left is positional.
		if used := len(rest) - len(after); used > 0 && rest[used-1] == "--" {
			positional = append(positional, after...)
			break
		}
		positional = append(positional, after[0])
		rest = after[1:]
	}
	src := Sources{}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = "--" + f.Name })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(EnvName(f.Name))
		if _, given := src[f.Name]; given || v == "" || err != nil {
			return
		}
		src[f.Name] = EnvName(f.Name)
		values := []string{v}
		if _, repeat := f.Value.(*List); repeat {
			values = strings.Split(v, ",")
		}
		for _, one := range values {
			if e := fs.Set(f.Name, strings.TrimSpace(one)); e != nil {
				err = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, e)
				return
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return positional, src, nil
}

// flagError turns the flag package's messages into ours: flags with two
// dashes, and for an unknown flag the nearest known one.
func flagError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		if near := Nearest(fs, name); near != "" {
			return fmt.Errorf("unknown flag --%s (did you mean --%s?)", name, near)
		}
		return fmt.Errorf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Errorf("--%s needs a value", strings.TrimLeft(name, "-"))
	}
	// invalid value "x" for flag -name: reason
	msg = singleDash.ReplaceAllString(msg, " for --$1")
	return errors.New(msg)
}

// singleDash is how the flag package names a flag in "invalid value ... for
// flag -name" and "invalid boolean value ... for -name".
var singleDash = regexp.MustCompile(` for (?:flag )?-([a-z])`)

// Nearest is the flag of fs whose name is closest to name, if one is close
// enough to be a typo of it (or starts with it), else "".
func Nearest(fs *flag.FlagSet, name string) string {
	best, bestD := "", 1<<30
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		d := distance(name, n)
		if strings.HasPrefix(n, name) && len(name) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	if bestD <= max(1, min(3, len(name)/3)) {
		return best
	}
	return ""
}

// distance is the Levenshtein distance of a and b, with a transposition of
// two neighbours counted as one edit.
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// PrintFlags writes fs's flags for a command's help, in the one style of
// every command: "--name VALUE", what it does, its default and its
// environment variable when env is true.
func PrintFlags(w io.Writer, fs *flag.FlagSet, env bool) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if p, ok := placeholders[f.Name]; ok && (arg == "string" || arg == "value") {
			arg = p
		} else if arg == "value" || arg == "string" {
			arg = "VALUE"
		}
		head := "  --" + f.Name
		if arg != "" {
			head += " " + strings.ToUpper(arg)
		}
		fmt.Fprintln(w, head)
		line := "      " + usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		if env {
			line += fmt.Sprintf(" [$%s]", EnvName(f.Name))
		}
		fmt.Fprintln(w, line)
	})
}

// placeholders name the values of the flags whose usage does not (a
// `name` in back quotes does).
var placeholders = map[string]string{
	"data": "DIR", "db": "URL", "dir": "DIR", "large-db": "URL",
	"listen": "ADDR", "http-listen": "ADDR", "admin-listen": "ADDR", "dns-resolver": "ADDR",
	"tls-cert": "FILE", "tls-key": "FILE", "policy-file": "FILE", "smtp-ca": "FILE", "dkim-key": "FILE", "message-key-file": "FILE",
	"markdown": "FILE", "out": "FILE", "cpuprofile": "FILE", "blockprofile": "FILE",
	"smtp": "URL", "public-url": "URL", "mail-from": "ADDR", "trusted-proxy": "CIDR",
	"log-format": "text|json", "dns-require-ad": "true|false|auto",
	"domain": "FQDN", "to": "ADDR", "dkim-selector": "NAME", "dkim-domain": "DOMAIN", "smtp-helo": "NAME",
}
