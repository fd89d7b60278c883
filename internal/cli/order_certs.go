package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
)

// printPurchase writes the certificates section of `order show`'s text
// output; nothing for an order made by the operator.
func printPurchase(w io.Writer, p dcv.Purchase) {
	if p.Product == 0 {
		return
	}
	fmt.Fprintf(w, "\nProduct\t%d, CAA %s\n", p.Product, safe(p.CAAStatus))
	fmt.Fprintln(w, "\nCERTIFICATE\tSTATE\tSERIAL\tNOT AFTER\tREVOKED\tNAMES")
	for _, c := range p.Certificates {
		after, revoked := "", ""
		if c.NotAfter != nil {
			after = c.NotAfter.Format(time.RFC3339)
		}
		if c.Revoked != nil {
			revoked = fmt.Sprintf("%s (reason %d)", c.Revoked.Format(time.RFC3339), c.Reason)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.State, c.Serial, after, revoked, safe(strings.Join(c.Names, " ")))
	}
}
