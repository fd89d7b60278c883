// Command dcvmail is the email Domain Control Validation service; see the
// README and `dcvmail help`.
package main

import (
	"os"

	"github.com/dcvmail/dcvmail/internal/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], cli.OS())) }
