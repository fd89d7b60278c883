package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/dcvmail/dcvmail/internal/config"

	"github.com/dcvmail/dcvmail/internal/bench"
)

var benchCmd = &command{
	name:     "bench",
	synopsis: "[--db URL] [--orders N] [--large-orders N] [--markdown FILE]",
	summary:  "measure throughput and latency on this machine (see BENCHMARKS.md)",
	raw: func(args []string, env Env) int {
		err := bench.Main(args, env.Stdout, env.Stderr, env.Getenv)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return ExitOK
		case errors.Is(err, config.ErrUsage):
			fmt.Fprintf(env.Stderr, "dcvmail bench: %s\n", strings.TrimPrefix(err.Error(), "usage: "))
			return ExitUsage
		}
		fmt.Fprintf(env.Stderr, "dcvmail: %s\n", oneLine(err.Error()))
		return ExitFailure
	},
}
