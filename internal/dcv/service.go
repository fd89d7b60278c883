package dcv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
)

// AddressFinder lists the permitted recipients of a normalized FQDN;
// *contacts.Finder is the real one.
type AddressFinder interface {
	Find(ctx context.Context, fqdn string) (contacts.List, error)
}

// Config wires a Service.
type Config struct {
	Store  Store
	Clock  clock.Clock // default clock.System
	Random io.Reader   // default crypto/rand.Reader
	Policy Policy      // zero value: DefaultPolicy
	Finder AddressFinder
	// PublicURL is where the confirmation page is reached from outside,
	// e.g. https://dcv.example.com; links in emails point there.
	PublicURL string
	// MailFrom is the From address; its domain also names Message-IDs.
	MailFrom string
	// Enqueued is called after a commit that put messages in the outbox
	// (the local worker's Wake). May be nil.
	Enqueued func()
}

// Service is the DCV domain over a store.
type Service struct {
	store    Store
	clock    clock.Clock
	random   io.Reader
	policy   Policy
	finder   AddressFinder
	values   *RandomValues
	pageURL  string
	msgHost  string
	enqueued func()

	offerPrune throttle // pruneOffers
	codePrune  throttle // pruneCodeAttempts

	orders *OrdersConfig // the order life (EnableOrders); nil: orders are the operator's only
}

// PagePath is where the confirmation page is served (docs/api.md): links in
// emails point there, and the web package serves it there.
const PagePath = "/products/EnterDCVCode2"

// codeKeySetting names the stored HMAC key of random values. It lives in the
// database so that every node hashes alike.
const codeKeySetting = "random_value_hmac_key"

// New returns a Service. It reads (or, the first time, creates) the HMAC key
// of random values in the store.
func New(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{
		store:    cfg.Store,
		clock:    cfg.Clock,
		random:   cfg.Random,
		policy:   cfg.Policy,
		finder:   cfg.Finder,
		enqueued: cfg.Enqueued,
	}
	if s.clock == nil {
		s.clock = clock.System
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	if s.policy == (Policy{}) {
		s.policy = DefaultPolicy
	}
	if err := s.policy.Check(); err != nil {
		return nil, err
	}
	if s.finder == nil {
		return nil, errors.New("dcv: no address finder")
	}
	if s.enqueued == nil {
		s.enqueued = func() {}
	}
	u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("dcv: public URL %q: want https://host[:port]", cfg.PublicURL)
	}
	s.pageURL = u.String() + PagePath
	s.msgHost = "dcvmail.invalid"
	// --mail-from may carry a display name ("DCV Team <dcv@example.com>"):
	// the host is the address's, never the text after the first "@".
	from := cfg.MailFrom
	if a, err := netmail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if _, host, ok := strings.Cut(from, "@"); ok && host != "" && !strings.ContainsAny(host, "<>@ ") {
		s.msgHost = host
	}
	keyHex := make([]byte, 32)
	if _, err := io.ReadFull(s.random, keyHex); err != nil {
		return nil, fmt.Errorf("dcv: key: %w", err)
	}
	stored, err := cfg.Store.EnsureSetting(ctx, codeKeySetting, hex.EncodeToString(keyHex))
	if err != nil {
		return nil, fmt.Errorf("dcv: key: %w", err)
	}
	key, err := hex.DecodeString(stored)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("dcv: stored key is malformed")
	}
	s.values = NewRandomValues(key, s.random)
	return s, nil
}

// RandomValues exposes the maker of random values (the mailbox and the
// confirmation page need its Find and Matches).
func (s *Service) RandomValues() *RandomValues { return s.values }

// Policy is the policy in force.
func (s *Service) Policy() Policy { return s.policy }

// PageURL is the confirmation page's address.
func (s *Service) PageURL() string { return s.pageURL }

// link is the confirmation page with the order and code filled in.
func (s *Service) link(order int64, code string) string {
	return s.pageURL + "?orderNumber=" + strconv.FormatInt(order, 10) + "&dcvCode=" + url.QueryEscape(code)
}

// messageID returns a fresh Message-ID (without angle brackets).
func (s *Service) messageID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b) + "@" + s.msgHost, nil
}

// template returns the template with the given id (0: the built-in one)
// that the account may use, or an Invalid refusal on dcvTemplateID.
func (s *Service) template(ctx context.Context, tx model.Tx, id, accountID int64) (mail.Template, error) {
	if id == 0 {
		return mail.Default, nil
	}
	t, err := tx.UsableTemplate(ctx, id, accountID)
	if errors.Is(err, model.ErrNotFound) {
		return mail.Template{}, invalid(ItemDCVTemplateID, "no such template for this account")
	}
	if err != nil {
		return mail.Template{}, err
	}
	return mail.Template{Subject: t.Subject, Text: t.Text, HTML: t.HTML}, nil
}

// recipient is a domain of an order and the BR method by which a recipient
// qualifies for it.
type recipient struct {
	domain model.Domain
	source contacts.Source
}

// sendNew creates a new DCV email with a new random value to mailbox for the
// given domains, makes it their live email (so earlier values stop covering
// them), and puts it in the outbox. It runs inside the caller's transaction.
func (s *Service) sendNew(ctx context.Context, tx model.Tx, order model.Order, mailbox string, to []recipient, tmplID int64) error {
	tmpl, err := s.template(ctx, tx, tmplID, order.AccountID)
	if err != nil {
		return err
	}
	value, hash, err := s.values.New()
	if err != nil {
		return err
	}
	now := s.clock.Now()
	expires := now.Add(s.policy.CodeValidity)
	names := make([]string, len(to))
	for i, r := range to {
		names[i] = r.domain.Name
	}
	rendered, err := tmpl.Render(mail.Fields{
		Domains:     names,
		OrderNumber: order.Number,
		Code:        value,
		Link:        s.link(order.Number, value),
		PageURL:     s.pageURL,
		Expires:     expires,
		Recipient:   mailbox,
	})
	if err != nil {
		return fmt.Errorf("dcv: template %d: %w", tmplID, err)
	}
	id, err := tx.CreateEmail(ctx, model.Email{
		OrderNumber: order.Number,
		Recipient:   mailbox,
		TemplateID:  tmplID,
		CodeHash:    hash,
		Subject:     rendered.Subject,
		Text:        rendered.Text,
		HTML:        rendered.HTML,
		Created:     now,
		Expires:     expires,
	})
	if err != nil {
		return err
	}
	for _, r := range to {
		if err := tx.SetDomainRecipient(ctx, order.Number, r.domain.Position, mailbox, string(r.source), id); err != nil {
			return err
		}
	}
	return s.enqueue(ctx, tx, id, mailbox)
}

// enqueue puts one sending of an email in the outbox.
func (s *Service) enqueue(ctx context.Context, tx model.Tx, emailID int64, mailbox string) error {
	mid, err := s.messageID()
	if err != nil {
		return err
	}
	_, err = tx.Enqueue(ctx, emailID, mailbox, mid, s.clock.Now())
	return err
}

// Now is the service's clock reading.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Store is what the service keeps its data in (a *store.Store): reads,
// writes through transactions, and the few writes that stand alone.
type Store interface {
	model.Store
	EnsureSetting(ctx context.Context, name, value string) (string, error)
	TxFor(ctx context.Context, key string, fn func(model.Tx) error) error
	RecordOffers(ctx context.Context, offers []model.Offer) error
	PruneOffers(ctx context.Context, cutoff time.Time) (int64, error)
	PruneCodeAttempts(ctx context.Context, cutoff time.Time) (int64, error)
}
