package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
)

var mailListCmd = &command{
	name:     "mail list",
	synopsis: "[--json] [--to ADDR] [--order N] [--since TIME] [--data DIR | --db URL]",
	summary:  "list the messages the built-in mailbox captured, oldest first",
	about: `Without --smtp, serve delivers DCV emails to the built-in mailbox. The
table shows each message's time, order, recipient, DCV code and subject;
--json prints an array of the full records (to, subject, text, html,
orderNumber, dcvCode, raw, ...), oldest first. --since takes a time
(2026-03-15T10:00:00Z, or a date) or a duration back from now (10m).`,
	examples: []string{
		"dcvmail mail list",
		"dcvmail mail list --order 1234567 --to admin@example.com",
		"dcvmail mail list --since 10m --json",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		asJSON := fs.Bool("json", false, "print a JSON array of the full records, oldest first")
		order := fs.Int64("order", 0, "only the messages of order `N`")
		to := fs.String("to", "", "only the messages to this address (case does not matter)")
		since := fs.String("since", "", "only the messages captured at or after `TIME`: RFC 3339, a date, or a duration back (10m, 2h)")
		return func(ctx context.Context) error {
			f := mailFilter{OrderNumber: *order, To: strings.TrimSpace(*to)}
			// Checked before the database is opened; measured from the
			// application's clock, which the test controls may have moved.
			if _, err := parseSince(*since, time.Now()); *since != "" && err != nil {
				return usagef("%s %q: %v", k.src.Name("since"), *since, err)
			}
			if *order < 0 {
				return usagef("%s %d: not an order number", k.src.Name("order"), *order)
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if *since != "" {
				f.Since, _ = parseSince(*since, a.DCV.Now())
			}
			msgs, err := listMail(ctx, a, f)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeSafeJSON(k.env.Stdout, msgs)
			}
			tw := tabwriter.NewWriter(k.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCAPTURED\tORDER\tTO\tCODE\tSUBJECT")
			for _, m := range msgs {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Captured.UTC().Format(time.RFC3339), m.OrderNumber, safe(m.To), m.DCVCode, safe(m.Subject))
			}
			return tw.Flush()
		}
	},
}

// parseSince reads --since: an RFC 3339 time, a date (midnight UTC), or a
// duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("a duration back from now is positive")
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want a time such as 2026-03-15T10:00:00Z, a date 2026-03-15, or a duration such as 10m")
}
