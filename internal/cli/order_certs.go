package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
)

// Orders is the part of `order show` about what an API order bought and
// its certificates: serials, validity and revocations.
type Orders struct {
	Product      int64      `json:"product,omitempty"`
	CAAStatus    string     `json:"caaStatus,omitempty"`
	Refunded     *time.Time `json:"refundedAt,omitempty"`
	Certificates []certView `json:"certificates,omitempty"`
}

type certView struct {
	ID        int64      `json:"certificateId"`
	State     string     `json:"state"`
	Names     []string   `json:"names"`
	Serial    string     `json:"serial,omitempty"`
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	Revoked   *time.Time `json:"revokedAt,omitempty"`
	Reason    int        `json:"revocationReason,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func newOrdersView(d dcv.OrderDetails) Orders {
	o := Orders{Product: d.Terms.Product, CAAStatus: d.Terms.CAAStatus, Refunded: timePtr(d.Terms.Refunded)}
	for _, c := range d.Certificates {
		o.Certificates = append(o.Certificates, certView{ID: c.ID, State: c.State, Names: c.Names, Serial: c.Serial,
			NotBefore: timePtr(c.NotBefore), NotAfter: timePtr(c.NotAfter), Revoked: timePtr(c.Revoked), Reason: c.Reason})
	}
	return o
}

// print writes the certificates section of the text output.
func (o Orders) print(w io.Writer) {
	if o.Product == 0 {
		return
	}
	fmt.Fprintf(w, "\nProduct\t%d, CAA %s\n", o.Product, safe(o.CAAStatus))
	fmt.Fprintln(w, "\nCERTIFICATE\tSTATE\tSERIAL\tNOT AFTER\tREVOKED\tNAMES")
	for _, c := range o.Certificates {
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
