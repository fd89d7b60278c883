package dcv

import (
	"context"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// OrderView is what `dcvmail order show --json` prints and the admin API's
// GET /admin/v1/orders/{n} answers (docs/control.md): the evidence of each
// domain's validation, without the stored hashes or message bodies.
type OrderView struct {
	OrderNumber int64             `json:"orderNumber"`
	BaseOrder   int64             `json:"baseOrderNumber"`
	Account     string            `json:"account"`
	Status      model.OrderStatus `json:"status"`
	Created     time.Time         `json:"createdAt"`
	Domains     []DomainView      `json:"domains"`
	Emails      []EmailView       `json:"emails"`
	Deliveries  []DeliveryView    `json:"deliveries"`
	Attempts    []AttemptView     `json:"attempts"`
	Confirmed   []ConfirmView     `json:"confirmations"`
	// OrgValidated is when the organization validation (OV/EV) was
	// recorded, and OrgValidatedBy by what ("test-control").
	OrgValidated   *time.Time `json:"organizationValidatedAt,omitempty"`
	OrgValidatedBy string     `json:"organizationValidatedBy,omitempty"`
	Purchase                  // what an API order bought, and its certificates
}

// Purchase is the part of an order's view about what an API order bought
// and its certificates: serials, validity and revocations. It is empty for
// the operator's orders.
type Purchase struct {
	Product      int64             `json:"product,omitempty"`
	CAAStatus    string            `json:"caaStatus,omitempty"`
	Refunded     *time.Time        `json:"refundedAt,omitempty"`
	Certificates []CertificateView `json:"certificates,omitempty"`
}

// CertificateView is one certificate request of an order and, once
// issued, its certificate.
type CertificateView struct {
	ID        int64           `json:"certificateId"`
	State     model.CertState `json:"state"`
	Names     []string        `json:"names"`
	Serial    string          `json:"serial,omitempty"`
	NotBefore *time.Time      `json:"notBefore,omitempty"`
	NotAfter  *time.Time      `json:"notAfter,omitempty"`
	Revoked   *time.Time      `json:"revokedAt,omitempty"`
	Reason    int             `json:"revocationReason,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// AttemptView is one delivery attempt.
type AttemptView struct {
	DeliveryID int64         `json:"deliveryId"`
	At         time.Time     `json:"at"`
	Outcome    model.Outcome `json:"outcome"`
	Reply      string        `json:"reply"`
	Worker     string        `json:"worker"`
}

// ConfirmView is one confirmation on the page.
type ConfirmView struct {
	At        time.Time `json:"at"`
	EmailID   int64     `json:"emailId"`
	Domains   []string  `json:"domains"`
	ClientIP  string    `json:"clientIp"`
	PeerAddr  string    `json:"peerAddr"`
	UserAgent string    `json:"userAgent"`
}

// DomainView is one domain and its DCV state.
type DomainView struct {
	Name      string       `json:"domainName"`
	Method    model.Method `json:"dcvMethod"`
	Status    string       `json:"dcvStatus"`
	Recipient string       `json:"dcvEmailAddress"`
	BRSection string       `json:"brSection,omitempty"`
	EmailID   int64        `json:"liveEmailId,omitempty"`
	Validated *time.Time   `json:"validatedAt,omitempty"`
	// ValidatedBy is "test-control" for a validation a test control made
	// ("" for an email confirmation, whose evidence is its confirmation).
	ValidatedBy string `json:"validatedBy,omitempty"`
}

// EmailView is one DCV email, without its message.
type EmailView struct {
	ID        int64     `json:"id"`
	Recipient string    `json:"recipient"`
	Template  int64     `json:"templateId"`
	Subject   string    `json:"subject"`
	Created   time.Time `json:"createdAt"`
	Expires   time.Time `json:"expiresAt"`
}

// DeliveryView is one sending of a DCV email.
type DeliveryView struct {
	ID        int64               `json:"id"`
	EmailID   int64               `json:"emailId"`
	Recipient string              `json:"recipient"`
	State     model.DeliveryState `json:"state"`
	Attempts  int                 `json:"attempts"`
	LastReply string              `json:"lastReply"`
	Queued    time.Time           `json:"queuedAt"`
	Sent      *time.Time          `json:"sentAt,omitempty"`
}

// Show reads an order of any account as OrderView; found is false when
// there is no such order.
func (s *Service) Show(ctx context.Context, number int64) (v OrderView, found bool, err error) {
	d, err := s.Details(ctx, 0, number)
	if _, refused := AsError(err); refused {
		return v, false, nil
	} else if err != nil {
		return v, false, err
	}
	ev, err := s.store.EvidenceOf(ctx, number)
	if err != nil {
		return v, false, err
	}
	return NewOrderView(d, ev), true, nil
}

// NewOrderView builds the view of an order from its details and evidence.
func NewOrderView(d OrderDetails, ev model.Evidence) OrderView {
	v := OrderView{OrderNumber: d.Order.Number, BaseOrder: d.Order.BaseNumber, Account: d.Account.Login, Status: d.Order.Status, Created: d.Order.Created}
	if !ev.OrgValidated.IsZero() {
		t := ev.OrgValidated
		v.OrgValidated, v.OrgValidatedBy = &t, ev.OrgValidatedBy
	}
	for _, dom := range d.Domains {
		dv := DomainView{Name: dom.Name, Method: dom.Method, Status: "Awaiting Validation", Recipient: dom.Recipient, BRSection: BRSection(dom.Source), EmailID: dom.CurrentEmailID}
		if !dom.Validated.IsZero() {
			t := dom.Validated
			dv.Status, dv.Validated, dv.ValidatedBy = "Validated", &t, ev.ValidatedBy[dom.Position]
		}
		v.Domains = append(v.Domains, dv)
	}
	for _, e := range d.Emails {
		v.Emails = append(v.Emails, EmailView{e.ID, e.Recipient, e.TemplateID, e.Subject, e.Created, e.Expires})
	}
	for _, o := range d.Deliveries {
		dv := DeliveryView{ID: o.ID, EmailID: o.EmailID, Recipient: o.Recipient, State: o.State, Attempts: o.Attempts, LastReply: o.LastReply, Queued: o.Created}
		if !o.Sent.IsZero() {
			t := o.Sent
			dv.Sent = &t
		}
		v.Deliveries = append(v.Deliveries, dv)
	}
	for _, a := range d.Attempts {
		v.Attempts = append(v.Attempts, AttemptView{a.DeliveryID, a.At, a.Outcome, a.Reply, a.Worker})
	}
	for _, c := range d.Confirmations {
		v.Confirmed = append(v.Confirmed, ConfirmView{c.At, c.EmailID, c.Domains, c.ClientIP, c.PeerAddr, c.UserAgent})
	}
	v.Purchase = Purchase{Product: d.Terms.Product, CAAStatus: d.Terms.CAAStatus, Refunded: timePtr(d.Terms.Refunded)}
	for _, c := range d.Certificates {
		v.Certificates = append(v.Certificates, CertificateView{ID: c.ID, State: c.State, Names: c.Names, Serial: c.Serial,
			NotBefore: timePtr(c.NotBefore), NotAfter: timePtr(c.NotAfter), Revoked: timePtr(c.Revoked), Reason: c.Reason})
	}
	return v
}
