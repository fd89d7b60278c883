// Package cli is dcvmail's command line: it parses commands and flags
// (through package config) and calls the server and the domain. Nothing
// here decides anything about DCV.
//
// Each command lives in its own file as a command value: its flags, its
// help with examples, and what it does. Run finds the command, parses its
// flags (anywhere among its arguments), and turns the outcome into an exit
// status: 0 success, 1 failure, 2 usage error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/dcvmail/dcvmail/internal/config"
)

// Env is what a command may use of its surroundings, so that tests can run
// commands in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OS is the real environment.
func OS() Env { return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

// Exit statuses of every command. `dcvmail client` adds 3 for a call that
// got no answer (see its help).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

const exitHelp = "Exit status: 0 success, 1 failure (one line on stderr), 2 usage error."

// command is one command of the binary.
type command struct {
	name     string // "order show"
	synopsis string // its arguments and main flags, after the name
	summary  string // one line, lower case, no full stop
	about    string // optional paragraphs after the summary
	examples []string
	// nargs is the exact number of positional arguments.
	nargs   int
	argName string // what they are, for the message when they are missing
	// setup declares the command's flags on fs and returns what to run
	// once they are parsed.
	setup func(fs *flag.FlagSet, c *call) func(ctx context.Context) error
	// raw, when set, takes the arguments as they are (commands that parse
	// their own, such as client).
	raw func(args []string, env Env) int
}

// call is one run of a command: its environment, its positional arguments
// and where each flag's value came from.
type call struct {
	env  Env
	args []string
	src  config.Sources
}

// commands in the order of the help.
var commands = []*command{
	serveCmd, migrateCmd,
	accountAddCmd, accountSetCmd, accountUnlockCmd,
	orderAddCmd, orderShowCmd, orderValidateCmd, caExportCmd,
	templateAddCmd,
	mailListCmd,
	backupCmd, statusCmd,
	clientCmd, benchCmd, versionCmd,
}

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Run runs the command line args (without the program name) and returns the
// exit status.
func Run(args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 {
		mainHelp(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return Run(append(args[1:len(args):len(args)], "-h"), env)
		}
		mainHelp(env.Stdout)
		return ExitOK
	case "--version", "-version":
		args = []string{"version"}
	}
	cmd, rest, err := find(args, env)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		hint := "dcvmail help"
		if _, group := groups()[args[0]]; group {
			hint = "dcvmail " + args[0] + " -h"
		}
		fmt.Fprintf(env.Stderr, "dcvmail: %s (run %s)\n", err, hint)
		return ExitUsage
	}
	return cmd.run(rest, env)
}

// find picks the command args name, and returns the arguments after its
// name. A group's help ("account -h") is printed here (flag.ErrHelp).
func find(args []string, env Env) (*command, []string, error) {
	var group []*command
	for _, c := range commands {
		first, second, two := strings.Cut(c.name, " ")
		if first != args[0] {
			continue
		}
		if !two {
			return c, args[1:], nil
		}
		group = append(group, c)
		if len(args) > 1 && args[1] == second {
			return c, args[2:], nil
		}
	}
	if len(group) > 0 {
		if len(args) > 1 && isHelp(args[1]) {
			groupHelp(env.Stdout, args[0], group)
			return nil, nil, flag.ErrHelp
		}
		var subs []string
		for _, c := range group {
			_, s, _ := strings.Cut(c.name, " ")
			subs = append(subs, s)
		}
		if len(args) == 1 || strings.HasPrefix(args[1], "-") {
			return nil, nil, fmt.Errorf("%s needs a subcommand: %s", args[0], strings.Join(subs, ", "))
		}
		msg := fmt.Sprintf("unknown command %q", args[0]+" "+args[1])
		if near := nearest(args[1], subs); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", args[0]+" "+near)
		}
		return nil, nil, errors.New(msg)
	}
	var names []string
	for _, c := range commands {
		first, _, _ := strings.Cut(c.name, " ")
		names = append(names, first)
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if near := nearest(args[0], names); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return nil, nil, errors.New(msg)
}

// groups are the first words of two-word commands.
func groups() map[string]bool {
	g := map[string]bool{}
	for _, c := range commands {
		if first, _, two := strings.Cut(c.name, " "); two {
			g[first] = true
		}
	}
	return g
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

// nearest is the name among names that s is a typo of, if any.
func nearest(s string, names []string) string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	for _, n := range names {
		if fs.Lookup(n) == nil {
			fs.Bool(n, false, "")
		}
	}
	return config.Nearest(fs, s)
}

// run parses the command's flags and runs it.
func (c *command) run(args []string, env Env) int {
	if c.raw != nil {
		return c.raw(args, env)
	}
	fs := flag.NewFlagSet("dcvmail "+c.name, flag.ContinueOnError)
	k := &call{env: env}
	action := c.setup(fs, k)
	pos, src, err := config.ParseArgs(fs, args, env.Getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.help(env.Stdout, fs)
		return ExitOK
	case err != nil:
		return c.exit(env, usageError{err.Error()})
	case len(pos) > c.nargs && c.nargs == 0:
		return c.exit(env, usagef("unexpected argument %q: %s takes none", pos[0], c.name))
	case len(pos) != c.nargs:
		return c.exit(env, usagef("%s needs %s, got %d argument(s)", c.name, c.argName, len(pos)))
	}
	k.args, k.src = pos, src
	return c.exit(env, k.named(action(context.Background())))
}

// named rewrites the flag names in err (the server's "--listen: ...") to
// the environment variables their values came from, where they did.
func (k *call) named(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	renamed := msg
	for name, from := range k.src {
		if strings.HasPrefix(from, "--") {
			continue
		}
		re := regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `\b([^-]|$)`)
		renamed = re.ReplaceAllString(renamed, from+"$1")
	}
	if renamed == msg {
		return err
	}
	var ue usageError
	if errors.As(err, &ue) {
		return usageError{renamed}
	}
	return errors.New(renamed)
}

// exit reports err on one line of stderr and returns the exit status.
func (c *command) exit(env Env, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		msg := ue.msg
		if !strings.Contains(msg, "did you mean") {
			msg += fmt.Sprintf(" (see dcvmail %s -h)", c.name)
		}
		fmt.Fprintf(env.Stderr, "dcvmail %s: %s\n", c.name, msg)
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "dcvmail: %s\n", oneLine(err.Error()))
	return ExitFailure
}

// oneLine puts a message on one line and drops a tail said twice (the
// PostgreSQL driver repeats the resolver's error after its own).
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for n := len(s) / 2; n >= 8; n-- {
		if len(s) < 2*n+1 {
			continue
		}
		tail := s[len(s)-n:]
		if s[len(s)-n-1] == ' ' && s[len(s)-2*n-1:len(s)-n-1] == tail {
			return s[:len(s)-n-1]
		}
	}
	return s
}

// help prints a command's help: usage, what it does, its flags, examples
// and exit statuses, in the one style of every command.
func (c *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: dcvmail %s %s\n\n%s.\n", c.name, c.synopsis, upperFirst(c.summary))
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.about))
	}
	fmt.Fprintln(w, "\nFlags (each also read from the environment variable shown, which the flag overrides):")
	config.PrintFlags(w, fs, true)
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintf(w, "\n%s\n", exitHelp)
}

func groupHelp(w io.Writer, group string, cmds []*command) {
	fmt.Fprintf(w, "usage: dcvmail %s COMMAND [flags]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  dcvmail %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun \"dcvmail %s COMMAND -h\" for a command's flags and examples.\n\n%s\n", group, exitHelp)
}

func mainHelp(w io.Writer) {
	fmt.Fprint(w, "dcvmail: email Domain Control Validation behind a Sectigo-compatible API\n\nusage: dcvmail COMMAND [arguments] [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, `
Run "dcvmail COMMAND -h" for a command's flags and examples, e.g. "dcvmail serve -h".
Flags may come before or after a command's arguments. Every flag also reads
DCVMAIL_<FLAG> (--data from DCVMAIL_DATA, --db from DCVMAIL_DB); the flag wins.

Get started:
  dcvmail serve --demo          (then see README.md: the vendor's sample request works)

%s
`, exitHelp)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
