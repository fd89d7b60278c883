package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
)

var orderShowCmd = &command{
	name:     "order show",
	synopsis: "N [--json] [--data DIR | --db URL]",
	summary:  "show an order: its domains, DCV emails, deliveries and confirmations",
	about: `The evidence of each domain's validation: the method and BR section, every
DCV email and its expiry, every delivery attempt and the server's reply,
and who confirmed from where. --json prints the same as one JSON object.`,
	examples: []string{
		"dcvmail order show 1234567",
		"dcvmail order show 10000002 --json",
	},
	nargs:   1,
	argName: "one order number",
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		asJSON := fs.Bool("json", false, "print one JSON object")
		return func(ctx context.Context) error {
			n, err := strconv.ParseInt(k.args[0], 10, 64)
			if err != nil || n < 1 {
				return usagef("%q is not an order number", k.args[0])
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			v, found, err := orderView(ctx, a, n)
			if err != nil {
				return err
			} else if !found {
				return fmt.Errorf("no order %d", n)
			}
			return printOrder(k.env, v, *asJSON)
		}
	},
}

func printOrder(env Env, v dcv.OrderView, asJSON bool) error {
	for i := range v.Emails {
		v.Emails[i].Recipient = safe(v.Emails[i].Recipient)
	}
	if asJSON {
		return writeSafeJSON(env.Stdout, v)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Order\t%d (chain %d), account %s, %s, created %s\n", v.OrderNumber, v.BaseOrder, safe(v.Account), v.Status, v.Created.Format(time.RFC3339))
	fmt.Fprintln(w, "\nDOMAIN\tMETHOD\tSTATUS\tRECIPIENT\tBR\tVALIDATED")
	for _, dv := range v.Domains {
		val := ""
		if dv.Validated != nil {
			val = dv.Validated.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", safe(dv.Name), dv.Method, dv.Status, safe(dv.Recipient), dv.BRSection, val)
	}
	fmt.Fprintln(w, "\nEMAIL\tRECIPIENT\tTEMPLATE\tCREATED\tEXPIRES")
	for _, e := range v.Emails {
		fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\n", e.ID, safe(e.Recipient), e.Template, e.Created.Format(time.RFC3339), e.Expires.Format(time.RFC3339))
	}
	fmt.Fprintln(w, "\nDELIVERY\tEMAIL\tRECIPIENT\tSTATE\tATTEMPTS\tSENT\tLAST REPLY")
	for _, o := range v.Deliveries {
		sent := ""
		if o.Sent != nil {
			sent = o.Sent.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%d\t%s\t%s\n", o.ID, o.EmailID, safe(o.Recipient), o.State, o.Attempts, sent, safe(o.LastReply))
	}
	fmt.Fprintln(w, "\nATTEMPT\tDELIVERY\tOUTCOME\tWORKER\tREPLY")
	for _, a := range v.Attempts {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", a.At.Format(time.RFC3339), a.DeliveryID, a.Outcome, safe(a.Worker), safe(a.Reply))
	}
	fmt.Fprintln(w, "\nCONFIRMED\tEMAIL\tDOMAINS\tFROM\tUSER AGENT")
	for _, c := range v.Confirmed {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", c.At.Format(time.RFC3339), c.EmailID, safe(strings.Join(c.Domains, " ")), safe(c.ClientIP), safe(c.UserAgent))
	}
	printPurchase(w, v.Purchase)
	return w.Flush()
}
