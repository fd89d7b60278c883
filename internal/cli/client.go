package cli

import (
	"context"

	"github.com/dcvmail/dcvmail/internal/clientcmd"
)

var clientCmd = &command{
	name:     "client",
	synopsis: "resend|addresses|status|update --url URL --login NAME [flags]",
	summary:  "call the DCV API of dcvmail or of the vendor (password from $DCVMAIL_CLIENT_PASSWORD)",
	raw: func(args []string, env Env) int {
		return clientcmd.Run(context.Background(), args, env.Stdin, env.Stdout, env.Stderr, env.Getenv)
	},
}
