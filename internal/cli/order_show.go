package cli

import (
	"context"
	"encoding/json"
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
			d, found, err := orderDetails(ctx, a, n)
			if err != nil {
				return err
			} else if !found {
				return fmt.Errorf("no order %d", n)
			}
			return printOrder(k.env, d, *asJSON)
		}
	},
}

// orderView is what `order show --json` prints: the evidence of each
// domain's validation, without the stored hashes or message bodies.
type orderView struct {
	OrderNumber int64          `json:"orderNumber"`
	BaseOrder   int64          `json:"baseOrderNumber"`
	Account     string         `json:"account"`
	Status      string         `json:"status"`
	Created     time.Time      `json:"createdAt"`
	Domains     []domainView   `json:"domains"`
	Emails      []emailView    `json:"emails"`
	Deliveries  []deliveryView `json:"deliveries"`
	Attempts    []attemptView  `json:"attempts"`
	Confirmed   []confirmView  `json:"confirmations"`
	Orders                     // order_certs.go: product, CAA status and certificates
}

type attemptView struct {
	DeliveryID int64     `json:"deliveryId"`
	At         time.Time `json:"at"`
	Outcome    string    `json:"outcome"`
	Reply      string    `json:"reply"`
	Worker     string    `json:"worker"`
}

type confirmView struct {
	At        time.Time `json:"at"`
	EmailID   int64     `json:"emailId"`
	Domains   []string  `json:"domains"`
	ClientIP  string    `json:"clientIp"`
	PeerAddr  string    `json:"peerAddr"`
	UserAgent string    `json:"userAgent"`
}

type domainView struct {
	Name      string     `json:"domainName"`
	Method    string     `json:"dcvMethod"`
	Status    string     `json:"dcvStatus"`
	Recipient string     `json:"dcvEmailAddress"`
	BRSection string     `json:"brSection,omitempty"`
	EmailID   int64      `json:"liveEmailId,omitempty"`
	Validated *time.Time `json:"validatedAt,omitempty"`
}

type emailView struct {
	ID        int64     `json:"id"`
	Recipient string    `json:"recipient"`
	Template  int64     `json:"templateId"`
	Subject   string    `json:"subject"`
	Created   time.Time `json:"createdAt"`
	Expires   time.Time `json:"expiresAt"`
}

type deliveryView struct {
	ID        int64      `json:"id"`
	EmailID   int64      `json:"emailId"`
	Recipient string     `json:"recipient"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	LastReply string     `json:"lastReply"`
	Queued    time.Time  `json:"queuedAt"`
	Sent      *time.Time `json:"sentAt,omitempty"`
}

func newOrderView(d dcv.OrderDetails) orderView {
	v := orderView{OrderNumber: d.Order.Number, BaseOrder: d.Order.BaseNumber, Account: d.Account.Login, Status: d.Order.Status, Created: d.Order.Created}
	for _, dom := range d.Domains {
		dv := domainView{Name: dom.Name, Method: dom.Method, Status: "Awaiting Validation", Recipient: dom.Recipient, BRSection: dcv.BRSection(dom.Source), EmailID: dom.CurrentEmailID}
		if !dom.Validated.IsZero() {
			t := dom.Validated
			dv.Status, dv.Validated = "Validated", &t
		}
		v.Domains = append(v.Domains, dv)
	}
	for _, e := range d.Emails {
		v.Emails = append(v.Emails, emailView{e.ID, safe(e.Recipient), e.TemplateID, e.Subject, e.Created, e.Expires})
	}
	for _, o := range d.Deliveries {
		dv := deliveryView{ID: o.ID, EmailID: o.EmailID, Recipient: o.Recipient, State: o.State, Attempts: o.Attempts, LastReply: o.LastReply, Queued: o.Created}
		if !o.Sent.IsZero() {
			t := o.Sent
			dv.Sent = &t
		}
		v.Deliveries = append(v.Deliveries, dv)
	}
	for _, a := range d.Attempts {
		v.Attempts = append(v.Attempts, attemptView{a.DeliveryID, a.At, a.Outcome, a.Reply, a.Worker})
	}
	for _, c := range d.Confirmations {
		v.Confirmed = append(v.Confirmed, confirmView{c.At, c.EmailID, c.Domains, c.ClientIP, c.PeerAddr, c.UserAgent})
	}
	v.Orders = newOrdersView(d)
	return v
}

func printOrder(env Env, d dcv.OrderDetails, asJSON bool) error {
	v := newOrderView(d)
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
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
	v.Orders.print(w)
	return w.Flush()
}
