package model

import "time"

// Email is one DCV email: a recipient, a random value (kept only as a keyed
// hash) and the rendered message, which is kept so that a resend within the
// value's validity is the identical message. The message (Subject, Text,
// HTML) lives in a table of its own, dcv_email_bodies: most reads need only
// the rest (see migration 00004). With a message key the message is stored
// sealed (sealing.go): read back through a store with the key it is as
// rendered; without the key Subject is the subject to show and Text and
// HTML are empty.
type Email struct {
	ID          int64
	OrderNumber int64
	Recipient   string
	TemplateID  int64 // 0 is the built-in template
	CodeHash    string
	Subject     string
	Text        string
	HTML        string
	Created     time.Time
	Expires     time.Time
}

// Delivery is one message in the outbox: a sending of a DCV email to its
// recipient. An identical resend is a new Delivery of the same email.
type Delivery struct {
	ID          int64
	EmailID     int64
	OrderNumber int64
	Recipient   string
	MessageID   string
	State       DeliveryState
	Attempts    int
	NextAttempt time.Time
	LastReply   string
	Created     time.Time
	Sent        time.Time
	// Content of the email, filled by Claim.
	Subject, Text, HTML, CodeHash string
	// Unreadable is set, by Claim, when the message is sealed and does
	// not open under this store's key: it cannot be sent.
	Unreadable error
}

// Attempt is the outcome of one try to deliver, kept as evidence.
type Attempt struct {
	DeliveryID int64
	At         time.Time
	Outcome    Outcome
	Reply      string // the mail server's answer, or the error
	Worker     string // the worker that tried (filled when read)
}

// Template is an operator-defined DCV email template.
type Template struct {
	ID        int64
	Subject   string
	Text      string
	HTML      string
	OpenToAll bool // usable by every account; otherwise only by granted ones
	Created   time.Time
}

// Confirmation is the evidence of one code that validated domains on the
// confirmation page.
type Confirmation struct {
	ID          int64
	OrderNumber int64
	EmailID     int64
	Domains     []string // validated by this confirmation, as ordered
	ClientIP    string   // the approver's address, as far as trusted proxies tell
	PeerAddr    string   // the TCP peer: a proxy, or the approver
	UserAgent   string
	At          time.Time
}

// Offer records that an address was returned to an account for a name.
type Offer struct {
	AccountID int64
	FQDN      string
	Mailbox   string
	Source    Source
	ADN       string
	Product   int64 // 0 when not given
	At        time.Time
}

// Sendings is what became of one DCV email's deliveries, as a reseller
// sees it: whether it was queued, when it was last handed to a mail
// server, and its newest attempt.
type Sendings struct {
	Queued   bool
	LastSent time.Time // zero when never sent
	Last     Attempt   // the newest attempt; zero DeliveryID when none
}
