package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/config"
)

var accountAddCmd = &command{
	name:     "account add",
	synopsis: "--login NAME [--password-stdin] [--read-only] [--disabled] [--data DIR | --db URL]",
	summary:  "create an API account; without --password-stdin, print a generated password",
	about: `The generated password is printed once, on stdout, after the account is
created; it is not stored (only its argon2id hash is). A login that exists
already is refused before anything is printed: use account set.`,
	examples: []string{
		"dcvmail account add --login reseller1",
		"printf '%s\\n' \"$PASSWORD\" | dcvmail account add --login reseller1 --password-stdin",
		"dcvmail account add --login auditor --read-only",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		login := fs.String("login", "", "login `name` (case-sensitive, at most 64 characters)")
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (without it, a generated one is printed)")
		readOnly := fs.Bool("read-only", false, "the account may read but not resend (ResendDCVEmail answers -91)")
		disabled := fs.Bool("disabled", false, "create the account disabled: every login is refused until account set --disabled=false")
		return func(ctx context.Context) error {
			if err := checkLogin(*login); err != nil {
				return err
			}
			password, generated := "", false
			if *fromStdin {
				var err error
				if password, err = readPassword(k.env); err != nil {
					return err
				}
			} else {
				b := make([]byte, 18)
				rand.Read(b)
				password, generated = base64.RawURLEncoding.EncodeToString(b), true
			}
			a, err := openApp(ctx, c, k, openOptions{})
			if err != nil {
				return err
			}
			defer a.Close()
			// Look first, so that a taken login prints no password that
			// would not work.
			if exists, err := accountExists(ctx, a, *login); err != nil {
				return err
			} else if exists {
				return fmt.Errorf("account %q exists already (use dcvmail account set)", *login)
			}
			err = createAccount(ctx, a, newAccount{Login: *login, Password: password, ReadOnly: *readOnly, Disabled: *disabled})
			if errors.Is(err, accounts.ErrExists) {
				return fmt.Errorf("account %q exists already (use dcvmail account set)", *login)
			} else if err != nil {
				return err
			}
			if generated {
				fmt.Fprintln(k.env.Stdout, password)
			}
			return nil
		}
	},
}

// checkLogin checks a --login value.
func checkLogin(login string) error {
	if login == "" {
		return usagef("--login NAME is required")
	}
	if err := accounts.CheckLogin(login); err != nil {
		return usagef("--login %q: 1 to 64 characters, no spaces or controls", login)
	}
	return nil
}

// readPassword reads --password-stdin's password: the first line of stdin.
func readPassword(env Env) (string, error) {
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("--password-stdin: no password on stdin")
	}
	password := strings.TrimRight(line, "\r\n")
	if accounts.CheckPassword(password) != nil {
		return "", errors.New("--password-stdin: the password must be 1 to 128 characters")
	}
	return password, nil
}
