// Package clientcmd is the "dcvmail client" command: the four DCV calls of
// the Sectigo-compatible API from the command line, through package sps,
// against dcvmail or the vendor. It prints results for people, or one JSON
// object with --json for scripts, and says how a call ended by its exit
// status.
package clientcmd

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/wire"
	"github.com/dcvmail/dcvmail/sps"
)

// Exit statuses of Run.
const (
	// ExitOK: the server answered errorCode 0 (or help was asked for).
	ExitOK = 0
	// ExitAPIError: the server answered a negative errorCode.
	ExitAPIError = 1
	// ExitUsage: the command line was wrong; nothing was sent.
	ExitUsage = 2
	// ExitTransport: no answer (network, TLS, HTTP status, not an answer
	// of the API).
	ExitTransport = 3
)

// PasswordEnv is the environment variable holding the account's password,
// unless --password-stdin is given.
const PasswordEnv = "DCVMAIL_CLIENT_PASSWORD"

const defaultTimeout = time.Minute

// command is one subcommand.
type command struct {
	name, summary string
	example       string // the flags of the help's example, after the common ones
	// define declares the subcommand's own flags and returns the call to
	// make once they are parsed.
	define func(fs *flag.FlagSet) func(ctx context.Context, c *sps.Client, out *output) error
}

var commands = []command{
	{"resend", "send or resend the DCV email of an order (ResendDCVEmail)", " --order 1234567", defineResend},
	{"addresses", "list the addresses that may receive a domain's DCV email (GetDCVEmailAddressList)", " --domain example.com", defineAddresses},
	{"status", "show the DCV state of an order's domains (GetMDCDomainDetails)", " --order 1234567 --details", defineStatus},
	{"update", "change the DCV method or address of domains (AutoUpdateDCV)", " --order 1234567 --method EMAIL --email admin@example.com", defineUpdate},
}

// Run runs "dcvmail client"; args are the arguments after "client", the
// subcommand first. The password comes from the environment variable
// PasswordEnv, read through getenv, or with --password-stdin from the first
// line of stdin. It returns the exit status (ExitOK and so on).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return ExitOK
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "dcvmail client: unknown subcommand %q\n", args[0])
		usage(stderr)
		return ExitUsage
	}

	fs := flag.NewFlagSet("dcvmail client "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	o.define(fs)
	call := cmd.define(fs)
	help := func(w io.Writer) {
		fmt.Fprintf(w, "usage: dcvmail client %s --url URL --login NAME [flags]\n\n%s.\n\nFlags:\n", cmd.name, upperFirst(cmd.summary))
		config.PrintFlags(w, fs, false)
		fmt.Fprintf(w, "\nThe password is read from $%s, or with --password-stdin from the first line of stdin.\n", PasswordEnv)
		fmt.Fprintf(w, "\nExample:\n  DCVMAIL_CLIENT_PASSWORD=login_password dcvmail client %s --url https://127.0.0.1:8443 --login login_name --ca dcvmail-data/tls-cert.pem%s\n", cmd.name, cmd.example)
		fmt.Fprintf(w, "\nExit status: 0 errorCode 0, 1 negative errorCode, 2 usage error, 3 no answer.\n")
	}
	// The client's flags read no environment variables: its only one is
	// the password's.
	rest, _, err := config.ParseArgs(fs, args[1:], func(string) string { return "" })
	if errors.Is(err, flag.ErrHelp) {
		help(stdout)
		return ExitOK
	} else if err != nil {
		return usageError(stderr, fmt.Sprintf("%s: %v", cmd.name, err))
	}
	if len(rest) > 0 {
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", rest[0]))
	}
	client, err := o.client(stdin, getenv)
	if err != nil {
		return usageError(stderr, err.Error())
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	out := &output{w: stdout, json: o.json}
	err = call(ctx, client, out)
	return report(err, cmd.name, out, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dcvmail client SUBCOMMAND --url URL --login NAME [flags]")
	fmt.Fprintln(w, "\nCalls the Sectigo-compatible DCV API of dcvmail (or of the vendor).\n\nsubcommands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun \"dcvmail client SUBCOMMAND -h\" for its flags.")
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "dcvmail client: %s\n", msg)
	return ExitUsage
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// options are the flags every subcommand has.
type options struct {
	url, login, ca string
	passwordStdin  bool
	insecure       bool
	json           bool
	timeout        time.Duration
}

func (o *options) define(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", "", "base `URL` of the API, e.g. https://localhost:8443 (required)")
	fs.StringVar(&o.login, "login", "", "account login `name` (required)")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin instead of $"+PasswordEnv)
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's TLS certificate (dcvmail's default certificate is self-signed)")
	fs.StringVar(&o.ca, "ca", "", "also trust the PEM certificates in `file` (e.g. dcvmail's self-signed certificate)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text for people")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "give up after this `duration`, retries included")
}

// client builds the sps client from the options, or says what is wrong.
func (o *options) client(stdin io.Reader, getenv func(string) string) (*sps.Client, error) {
	if o.url == "" {
		return nil, errors.New("--url is required")
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want the API's base URL with its scheme, e.g. https://%s", o.url, strings.TrimPrefix(strings.TrimPrefix(o.url, "//"), "/"))
	}
	if o.login == "" {
		return nil, errors.New("--login is required")
	}
	if o.timeout <= 0 {
		return nil, errors.New("--timeout must be positive")
	}
	var password string
	if o.passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password from stdin: %v", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return nil, errors.New("--password-stdin: the first line of stdin is empty")
		}
	} else if getenv != nil {
		password = getenv(PasswordEnv)
	}
	if password == "" {
		return nil, fmt.Errorf("no password: set $%s or use --password-stdin", PasswordEnv)
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.insecure}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: no PEM certificate in %s", o.ca)
		}
		tlsConfig.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	return &sps.Client{
		BaseURL:       o.url,
		LoginName:     o.login,
		LoginPassword: password,
		HTTPClient:    &http.Client{Transport: tr},
	}, nil
}

// report prints how the call ended, other than success (which the call
// printed), and returns the exit status.
func report(err error, name string, out *output, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var apiErr *sps.Error
	var te *sps.TransportError
	switch {
	case errors.As(err, &apiErr):
		if out.json {
			fields := []wire.Field{{Key: "errorCode", Value: apiErr.Code}, {Key: "errorMessage", Value: apiErr.Message}}
			if apiErr.Item != "" {
				fields = append(fields, wire.Field{Key: "errorItem", Value: apiErr.Item})
			}
			if apiErr.Detail != "" {
				fields = append(fields, wire.Field{Key: "errorDetail", Value: apiErr.Detail})
			}
			out.w.Write(wire.EncodeJSON(fields))
		}
		fmt.Fprintln(stderr, apiErr.Error())
		return ExitAPIError
	case errors.As(err, &te):
		fmt.Fprintf(stderr, "dcvmail client: %v\n", err)
		if untrusted(err) {
			fmt.Fprintln(stderr, "dcvmail client: the server's certificate is not trusted; dcvmail's own is self-signed: trust it with --ca DATA/tls-cert.pem (DATA: the server's --data directory)")
		}
		if !te.NotSent && (name == "resend" || name == "update") {
			fmt.Fprintln(stderr, "dcvmail client: the request may have reached the server; check with \"dcvmail client status\" before trying again")
		}
		return ExitTransport
	}
	// The client refused the configuration (a bad or plain-http URL).
	fmt.Fprintf(stderr, "dcvmail client: %v\n", err)
	return ExitUsage
}

// output writes results for people or, with json, as one JSON object.
type output struct {
	w    io.Writer
	json bool
}

func (o *output) object(fields ...wire.Field) {
	o.w.Write(wire.EncodeJSON(append([]wire.Field{{Key: "errorCode", Value: 0}}, fields...)))
}

// list splits a flag's value on commas and white space.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// responseFormat reads --response-format: true for JSON.
func responseFormat(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "1", "text", "form":
		return false, nil
	case "2", "json":
		return true, nil
	}
	return false, fmt.Errorf("--response-format %q: want 1 (text or form) or 2 (json)", s)
}

func defineResend(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.ResendDCVEmailRequest
	fs.Int64Var(&req.OrderNumber, "order", 0, "orderNumber")
	fs.Int64Var(&req.BaseOrderNumber, "base-order", 0, "baseOrderNumber, instead of or with --order")
	fs.StringVar(&req.DCVEmailAddress, "email", "", "dcvEmailAddress: send to this `address` (from \"addresses\" within 24 hours); default: the address last used")
	fs.Int64Var(&req.DCVTemplateID, "template", 0, "dcvTemplateID")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		if _, err := c.ResendDCVEmail(ctx, req); err != nil {
			return err
		}
		if out.json {
			out.object()
			return nil
		}
		to := "the address it was last sent to"
		if req.DCVEmailAddress != "" {
			to = req.DCVEmailAddress
		}
		fmt.Fprintf(out.w, "ResendDCVEmail accepted for %s: DCV email to %s.\n", orderText(req.OrderNumber, req.BaseOrderNumber), to)
		return nil
	}
}

func orderText(order, base int64) string {
	switch {
	case order != 0 && base != 0:
		return fmt.Sprintf("order %d (base order %d)", order, base)
	case base != 0:
		return fmt.Sprintf("base order %d", base)
	}
	return fmt.Sprintf("order %d", order)
}

func defineAddresses(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.GetDCVEmailAddressListRequest
	var format string
	fs.StringVar(&req.DomainName, "domain", "", "domainName: the FQDN or wildcard `name`")
	fs.Int64Var(&req.Product, "product", 0, "product number")
	fs.StringVar(&format, "response-format", "text", "responseFormat to ask for: text (1) or json (2, which adds the DNS TXT and CAA contacts)")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		var err error
		if req.JSON, err = responseFormat(format); err != nil {
			return usageErr{err}
		}
		r, err := c.GetDCVEmailAddressList(ctx, req)
		if err != nil {
			return err
		}
		if out.json {
			fields := []wire.Field{{Key: "domainName", Value: r.DomainName}, {Key: "whoisEmail", Value: nonNil(r.WhoisEmails)}}
			for _, l := range r.Levels {
				fields = append(fields, wire.Field{Key: fmt.Sprintf("level%dEmails", l.Level), Value: nonNil(l.Emails)})
			}
			fields = append(fields,
				wire.Field{Key: "dnsTxtEmails", Value: nonNil(r.DNSTXTEmails)},
				wire.Field{Key: "caaEmails", Value: nonNil(r.CAAEmails)},
				wire.Field{Key: "warnings", Value: nonNil(r.Warnings)})
			out.object(fields...)
			return nil
		}
		tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', 0)
		if r.DomainName != "" {
			fmt.Fprintf(tw, "domain\t%s\n", r.DomainName)
		}
		for _, l := range r.Levels {
			for _, e := range l.Emails {
				fmt.Fprintf(tw, "level%d\t%s\n", l.Level, e)
			}
		}
		for _, e := range r.DNSTXTEmails {
			fmt.Fprintf(tw, "dns-txt\t%s\n", e)
		}
		for _, e := range r.CAAEmails {
			fmt.Fprintf(tw, "caa\t%s\n", e)
		}
		for _, e := range r.WhoisEmails {
			fmt.Fprintf(tw, "whois\t%s\n", e)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(tw, "warning\t%s\n", w)
		}
		return tw.Flush()
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func defineStatus(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.GetMDCDomainDetailsRequest
	var format string
	fs.Int64Var(&req.OrderNumber, "order", 0, "orderNumber")
	fs.BoolVar(&req.ShowStatusDetails, "details", false, "showStatusDetails=Y: add each domain's address, last sending and validation time")
	fs.StringVar(&format, "response-format", "form", "responseFormat to ask for: form (1) or json (2)")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		var err error
		if req.JSON, err = responseFormat(format); err != nil {
			return usageErr{err}
		}
		r, err := c.GetMDCDomainDetails(ctx, req)
		if err != nil {
			return err
		}
		if out.json {
			out.object(wire.Field{Key: "domains", Value: r.Domains})
			return nil
		}
		if len(r.Domains) == 0 {
			fmt.Fprintln(out.w, "no domains")
			return nil
		}
		details := req.ShowStatusDetails
		for _, d := range r.Domains {
			details = details || d.DCVEmailAddress != "" || !d.LastSentAt.IsZero() || !d.ValidatedAt.IsZero()
		}
		tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', 0)
		if details {
			fmt.Fprintln(tw, "DOMAIN\tMETHOD\tSTATUS\tEMAIL\tLAST SENT\tVALIDATED")
		} else {
			fmt.Fprintln(tw, "DOMAIN\tMETHOD\tSTATUS")
		}
		for _, d := range r.Domains {
			if details {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dash(d.DomainName), dash(d.DCVMethod), dash(d.DCVStatus),
					dash(d.DCVEmailAddress), timeText(d.LastSentAt), timeText(d.ValidatedAt))
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", dash(d.DomainName), dash(d.DCVMethod), dash(d.DCVStatus))
			}
		}
		return tw.Flush()
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func defineUpdate(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.AutoUpdateDCVRequest
	var domains, methods, emails string
	fs.Int64Var(&req.OrderNumber, "order", 0, "orderNumber")
	fs.Int64Var(&req.BaseOrderNumber, "base-order", 0, "baseOrderNumber, instead of or with --order")
	fs.StringVar(&req.DomainName, "domain", "", "domainName: the `name` to change (needed for orders of several domains)")
	fs.StringVar(&req.NewMethod, "method", "", "newMethod: EMAIL, HTTP_CSR_HASH, HTTPS_CSR_HASH or CNAME_CSR_HASH")
	fs.StringVar(&req.NewDCVEmailAddress, "email", "", "newDCVEmailAddress: the `address` for EMAIL")
	fs.StringVar(&domains, "domains", "", "domainNames: several `names`, separated by commas or spaces")
	fs.StringVar(&methods, "methods", "", "newMethods: one per name of --domains, separated by commas or spaces")
	fs.StringVar(&emails, "emails", "", "newDCVEmailAddresses: one per name of --domains, separated by commas or spaces")
	fs.Int64Var(&req.DCVTemplateID, "template", 0, "dcvTemplateID")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		req.DomainNames, req.NewMethods, req.NewDCVEmailAddresses = list(domains), list(methods), list(emails)
		if _, err := c.AutoUpdateDCV(ctx, req); err != nil {
			return err
		}
		if out.json {
			out.object()
			return nil
		}
		fmt.Fprintf(out.w, "AutoUpdateDCV accepted for %s.\n", orderText(req.OrderNumber, req.BaseOrderNumber))
		return nil
	}
}

// usageErr is a flag value found wrong after parsing; Run reports it as a
// usage error, like the refusals of sps.
type usageErr struct{ error }

// untrusted tells whether err is a TLS verification failure, which --ca
// cures.
func untrusted(err error) bool {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var host x509.HostnameError
	return errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &host)
}
