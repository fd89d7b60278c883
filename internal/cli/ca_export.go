package cli

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"

	"github.com/dcvmail/dcvmail/internal/config"
)

var caExportCmd = &command{
	name:     "ca export",
	synopsis: "[--data DIR | --db URL]",
	summary:  "print the built-in test CA's root certificate in PEM",
	about: `For test trust stores (openssl verify -CAfile, a test client's roots). The
root is made the first time serve starts with --http-listen and is kept in
the database; it says "not trusted" and must never go into a real trust
store. Only the certificate is printed, never a key.`,
	examples: []string{"dcvmail ca export > dcvmail-root.pem"},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		return func(ctx context.Context) error {
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			doc, err := a.Store.LoadCA(ctx)
			if err != nil {
				return err
			}
			// The kept document holds the root first, then the issuing
			// CA and the keys: print the first certificate alone.
			for rest := doc; ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				if b.Type == "CERTIFICATE" {
					_, err := k.env.Stdout.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}))
					return err
				}
			}
			return errors.New("no test CA yet: serve makes it when it first starts with --http-listen")
		}
	},
}
