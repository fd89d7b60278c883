package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

// admin runs the two-word commands that work on the database directly.
func admin(name string, args []string, env Env) error {
	var c config.Common
	var resolvers config.List
	fs := newFlagSet(name, env)
	config.BindCommon(fs, &c)
	var run func(ctx context.Context, app *server.App) error
	switch name {
	case "account add", "account set":
		login := fs.String("login", "", "login name (case-sensitive, at most 64 characters)")
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (account add without it prints a generated one)")
		readOnly := fs.Bool("read-only", false, "the account may read but not resend (ResendDCVEmail answers -91)")
		disabled := fs.Bool("disabled", false, "refuse every login of the account (account set)")
		run = func(ctx context.Context, app *server.App) error {
			given := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
			return accountCommand(ctx, app, env, name == "account add", *login, *fromStdin, given, *readOnly, *disabled)
		}
	case "order add":
		acct := fs.String("account", "", "login of the account that owns the order")
		var domains config.List
		fs.Var(&domains, "domain", "a domain of the order (FQDN or *.FQDN); repeatable")
		base := fs.Int64("base-order", 0, "chain this order (a reissue or renewal) to an earlier order")
		email := fs.String("dcv-email", "", "send the first DCV email to this permitted address now")
		fs.Var(&resolvers, "dns-resolver", "host:port of a resolver, to accept a DNS TXT/CAA contact as --dcv-email; repeatable")
		run = func(ctx context.Context, app *server.App) error {
			if *acct == "" || len(domains) == 0 {
				return usageError{"order add needs --account and at least one --domain"}
			}
			n, err := app.DCV.CreateOrder(ctx, dcv.NewOrder{Login: *acct, Domains: domains, BaseOrder: *base, DCVEmail: *email})
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, n)
			return nil
		}
	case "order show":
		asJSON := fs.Bool("json", false, "print JSON")
		run = func(ctx context.Context, app *server.App) error {
			n, err := strconv.ParseInt(fs.Arg(0), 10, 64)
			if fs.NArg() != 1 || err != nil {
				return usageError{"order show needs one order number"}
			}
			d, err := app.DCV.Details(ctx, 0, n)
			if _, refused := dcv.AsError(err); refused {
				return fmt.Errorf("no order %d", n)
			} else if err != nil {
				return err
			}
			return printOrder(env, d, *asJSON)
		}
	case "template add":
		id := fs.Int64("id", 0, "template id (the dcvTemplateID clients give), 1 or more")
		file := fs.String("file", "", "template file: a 'Subject:' line, a blank line, the text, optionally '--- html ---' and HTML")
		var grants config.List
		fs.Var(&grants, "account", "an account that may use the template; repeatable (none: open to all)")
		run = func(ctx context.Context, app *server.App) error {
			return templateAdd(ctx, app, *id, *file, grants)
		}
	case "mail list":
		asJSON := fs.Bool("json", false, "print a JSON array, oldest first")
		order := fs.Int64("order", 0, "only the messages of this order")
		run = func(ctx context.Context, app *server.App) error {
			msgs, err := app.Store.Mailbox(ctx, *order)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(msgs)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCAPTURED\tORDER\tTO\tCODE\tSUBJECT")
			for _, m := range msgs {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Captured.Format(time.RFC3339), m.OrderNumber, safe(m.To), m.DCVCode, safe(m.Subject))
			}
			return tw.Flush()
		}
	default:
		return usageError{fmt.Sprintf("unknown command %q", name)}
	}
	if err := parse(fs, args, env); err != nil {
		return err
	}
	ctx := context.Background()
	app, err := openApp(ctx, c, resolvers, env)
	if err != nil {
		return err
	}
	defer app.Close()
	return run(ctx, app)
}

func accountCommand(ctx context.Context, app *server.App, env Env, add bool, login string, fromStdin bool, given map[string]bool, readOnly, disabled bool) error {
	if login == "" || len(login) > 64 || strings.ContainsFunc(login, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return usageError{"--login: 1 to 64 characters, no spaces or controls"}
	}
	var password string
	if fromStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("--password-stdin: no password on stdin")
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" || len(password) > 128 {
			return errors.New("--password-stdin: the password must be 1 to 128 characters")
		}
	} else if add {
		b := make([]byte, 18)
		rand.Read(b)
		password = base64.RawURLEncoding.EncodeToString(b)
		fmt.Fprintln(env.Stdout, password)
	}
	var hash string
	if password != "" {
		var err error
		if hash, err = accounts.HashPassword(password, rand.Reader); err != nil {
			return err
		}
	}
	now := app.DCV.Now()
	if add {
		_, err := app.Store.CreateAccount(ctx, store.Account{Login: login, PasswordHash: hash, ReadOnly: readOnly, Created: now})
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("account %q exists already (use account set)", login)
		}
		return err
	}
	a, err := app.Store.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no account %q", login)
	} else if err != nil {
		return err
	}
	if hash != "" {
		a.PasswordHash = hash
	}
	if given["read-only"] {
		a.ReadOnly = readOnly
	}
	if given["disabled"] {
		a.Disabled = disabled
	}
	a.Updated = now
	return app.Store.UpdateAccount(ctx, a)
}

func templateAdd(ctx context.Context, app *server.App, id int64, file string, grants []string) error {
	if id < 1 || file == "" {
		return usageError{"template add needs --id (1 or more) and --file"}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	t, err := mail.ParseTemplateFile(b)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var ids []int64
	for _, login := range grants {
		a, err := app.Store.AccountByLogin(ctx, login)
		if err != nil {
			return fmt.Errorf("--account %q: no such account", login)
		}
		ids = append(ids, a.ID)
	}
	return app.Store.Tx(ctx, func(tx *store.Tx) error {
		return tx.PutTemplate(ctx, store.Template{ID: id, Subject: t.Subject, Text: t.Text, HTML: t.HTML, Created: app.DCV.Now()}, ids)
	})
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

func printOrder(env Env, d dcv.OrderDetails, asJSON bool) error {
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
		v.Emails = append(v.Emails, emailView{e.ID, e.Recipient, e.TemplateID, e.Subject, e.Created, e.Expires})
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
	return w.Flush()
}
