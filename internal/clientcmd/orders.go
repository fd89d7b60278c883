package clientcmd

import (
	"context"
	"encoding/pem"
	"flag"
	"fmt"
	"os"

	"github.com/dcvmail/dcvmail/internal/wire"
	"github.com/dcvmail/dcvmail/sps"
)

// The order subcommands (docs/api.md sections 7 to 11).
var orderCommands = []command{
	{"apply", "place an order for a certificate (AutoApplySSL)", " --product 287 --csr shop.csr --email admin@example.com", defineApply},
	{"collect", "show an order's status and print its certificates in PEM (CollectSSL)", " --order 10000001", defineCollect},
	{"replace", "ask for a new certificate on an order (AutoReplaceSSL)", " --order 10000001 --csr new.csr", defineReplace},
	{"revoke", "revoke an order's certificates, or one (AutoRevokeSSL)", " --order 10000001 --reason 4", defineRevoke},
}

func init() { commands = append(commands, orderCommands...) }

// readCSR reads a CSR file ("" for none).
func readCSR(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	return string(b), err
}

func defineApply(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.ApplySSLRequest
	var csrFile, addresses string
	fs.Int64Var(&req.Product, "product", 0, "product code (287 PositiveSSL, …)")
	fs.Int64Var(&req.Days, "days", 0, "validity asked for, in days (default: the most the policy allows)")
	fs.StringVar(&csrFile, "csr", "", "`file` holding the CSR (PEM)")
	fs.StringVar(&req.DCVEmailAddress, "email", "", "dcvEmailAddress (from \"addresses\" within 24 hours)")
	fs.StringVar(&addresses, "emails", "", "dcvEmailAddresses, one per --domains name, comma separated")
	fs.StringVar(&req.DCVMethod, "method", "", "dcvMethod: EMAIL, HTTP_CSR_HASH, HTTPS_CSR_HASH or CNAME_CSR_HASH")
	domains := fs.String("domains", "", "domainNames of a multi-domain product, comma separated")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		var err error
		if req.CSR, err = readCSR(csrFile); err != nil {
			return err
		}
		req.DomainNames, req.DCVEmailAddresses = list(*domains), list(addresses)
		res, err := c.ApplySSL(ctx, req)
		if err != nil {
			return err
		}
		if out.json {
			out.object(wire.Field{Key: "orderNumber", Value: res.OrderNumber}, wire.Field{Key: "certificateID", Value: res.CertificateID},
				wire.Field{Key: "totalCost", Value: res.TotalCost}, wire.Field{Key: "paymentPending", Value: res.PaymentPending})
			return nil
		}
		fmt.Fprintf(out.w, "Order %d placed: certificateID %d, cost %s.\n", res.OrderNumber, res.CertificateID, res.TotalCost)
		return nil
	}
}

func defineCollect(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.CollectSSLRequest
	fs.Int64Var(&req.OrderNumber, "order", 0, "orderNumber")
	fs.Int64Var(&req.CertificateID, "certificate", 0, "certificateID, instead of --order")
	req.QueryType = 1
	return func(ctx context.Context, c *sps.Client, out *output) error {
		res, err := c.CollectSSL(ctx, req)
		if err != nil {
			return err
		}
		if out.json {
			out.object(wire.Field{Key: "status", Value: res.Status}, wire.Field{Key: "certificate", Value: res.Certificate},
				wire.Field{Key: "caCertificates", Value: res.CACertificates})
			return nil
		}
		if res.Status != 2 {
			fmt.Fprintf(out.w, "Not issued yet (status %d).\n", res.Status)
			return nil
		}
		// The chain root first, then the certificate, as CollectSSL's text answer.
		for _, der := range append(res.CACertificates, res.Certificate) {
			pem.Encode(out.w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		}
		return nil
	}
}

func defineReplace(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var order int64
	var csrFile, email string
	fs.Int64Var(&order, "order", 0, "orderNumber")
	fs.StringVar(&csrFile, "csr", "", "`file` holding the new CSR (default: the order's)")
	fs.StringVar(&email, "email", "", "dcvEmailAddress when DCV must run again")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		csr, err := readCSR(csrFile)
		if err != nil {
			return err
		}
		id, err := c.ReplaceSSL(ctx, order, csr, email)
		if err != nil {
			return err
		}
		if out.json {
			out.object(wire.Field{Key: "certificateID", Value: id})
			return nil
		}
		fmt.Fprintf(out.w, "Replacement requested for order %d: certificateID %d.\n", order, id)
		return nil
	}
}

func defineRevoke(fs *flag.FlagSet) func(context.Context, *sps.Client, *output) error {
	var req sps.RevokeSSLRequest
	fs.Int64Var(&req.OrderNumber, "order", 0, "orderNumber: every certificate of the order")
	fs.Int64Var(&req.CertificateID, "certificate", 0, "certificateID: that certificate")
	fs.StringVar(&req.SerialNumber, "serial", "", "serialNumber (hex): that certificate")
	fs.IntVar(&req.CodeReason, "reason", 0, "codeReason: 0, 1 keyCompromise, 3, 4 superseded, 5 cessationOfOperation")
	fs.BoolVar(&req.Test, "test", false, "check only; nothing is revoked")
	return func(ctx context.Context, c *sps.Client, out *output) error {
		if err := c.RevokeSSL(ctx, req); err != nil {
			return err
		}
		if out.json {
			out.object()
			return nil
		}
		fmt.Fprintln(out.w, "Revoked.")
		return nil
	}
}
