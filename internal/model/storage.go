package model

import (
	"context"
	"time"
)

// Reads are the statements of the store that change nothing. A
// *store.Store has them, and so does a transaction. The packages that
// decide (dcv, accounts, faults) name these interfaces rather than the
// store, so that the store is theirs to be given, not to import. Each
// method is documented where package store defines it.
type Reads interface {
	AccountByLogin(ctx context.Context, login string) (Account, error)
	AccountByID(ctx context.Context, id int64) (Account, error)
	CertificatesOfOrder(ctx context.Context, number int64) ([]Certificate, error)
	CertificateByID(ctx context.Context, id int64) (Certificate, error)
	CertificateBySerial(ctx context.Context, serial string) (Certificate, error)
	RevokedCertificates(ctx context.Context) ([]RevokedCertificate, error)
	ConfirmationsOfOrder(ctx context.Context, orderNumber int64) ([]Confirmation, error)
	CodeAttemptsOf(ctx context.Context, subject string) (CodeAttempts, error)
	CodeLookup(ctx context.Context, orderNumber int64, codeHash string) (CodeLookup, error)
	AccountTerms(ctx context.Context, accountID int64) (AccountTerms, error)
	Accounts(ctx context.Context) ([]Account, error)
	LoginLocks(ctx context.Context, now time.Time) ([]LoginFailures, error)
	EvidenceOf(ctx context.Context, number int64) (Evidence, error)
	FaultRules(ctx context.Context) ([]FaultRule, error)
	ClockOffset(ctx context.Context) (time.Duration, error)
	Email(ctx context.Context, id int64) (Email, error)
	EmailsOfOrder(ctx context.Context, orderNumber int64) ([]Email, error)
	Mailbox(ctx context.Context, orderNumber int64) ([]CapturedMail, error)
	MailboxFiltered(ctx context.Context, f MailFilter) ([]CapturedMail, error)
	MailboxCounts(ctx context.Context) (total, unread int, err error)
	OffersOf(ctx context.Context, accountID int64, mailbox string, since time.Time) ([]Offer, error)
	CountOffers(ctx context.Context) (int, error)
	Order(ctx context.Context, accountID, number int64) (Order, error)
	OrderByNumber(ctx context.Context, number int64) (Order, error)
	OrderState(ctx context.Context, accountID, number int64) (OrderState, error)
	OrderStateOf(ctx context.Context, number int64) (OrderState, error)
	LockOrderState(ctx context.Context, accountID, number int64) (OrderState, error)
	NewestInChain(ctx context.Context, accountID, base int64) (int64, error)
	Domains(ctx context.Context, number int64) ([]Domain, error)
	DeliveriesOfOrder(ctx context.Context, orderNumber int64) ([]Delivery, error)
	PendingDeliveries(ctx context.Context) (int, error)
	AttemptsOfOrder(ctx context.Context, orderNumber int64) ([]Attempt, error)
	OrderDeliveries(ctx context.Context, accountID, number int64) ([]Domain, map[int64]Sendings, error)
	LoginStateOf(ctx context.Context, login, source string, subjects ...string) (LoginState, error)
	Setting(ctx context.Context, name string) (string, error)
	UsableTemplate(ctx context.Context, id, accountID int64) (Template, error)
	TermsOf(ctx context.Context, number int64) (Terms, error)
	BillingOf(ctx context.Context, accountID int64) (Billing, error)
	ValidatedSince(ctx context.Context, accountID int64, fqdn string, since time.Time) (time.Time, error)
}

// Tx is an open transaction of the store: the reads and every write, which
// commit together or not at all (store.Store.Tx).
type Tx interface {
	Reads
	CreateAccount(ctx context.Context, a Account) (Account, error)
	UpdateAccount(ctx context.Context, a Account) error
	NextCertificateID(ctx context.Context) (int64, error)
	CreateCertificate(ctx context.Context, c Certificate) error
	ClaimCertificate(ctx context.Context, c Certificate) (bool, error)
	RejectCertificate(ctx context.Context, id int64) (bool, error)
	RevokeCertificate(ctx context.Context, id int64, at time.Time, reason int) (bool, error)
	ConfirmDomains(ctx context.Context, c Confirmation) (int64, error)
	CountCodeAttempts(ctx context.Context, subjects []CodeSubject, now, expired time.Time) ([]CodeAttempts, error)
	HoldCodeAttempts(ctx context.Context, subjects []CodeSubject, now, expired time.Time) ([]CodeAttempts, error)
	PruneCodeAttempts(ctx context.Context, expired time.Time) (int64, error)
	SetAccountTerms(ctx context.Context, accountID int64, t AccountTerms) error
	ValidateByControl(ctx context.Context, number int64, positions []int, at time.Time) (int64, error)
	SetOrganizationValidated(ctx context.Context, number int64, at time.Time, by string) error
	AddFaultRule(ctx context.Context, r FaultRule) (int64, error)
	FireFaultRule(ctx context.Context, id int64) (bool, error)
	DeleteFaultRules(ctx context.Context, id int64) (int64, error)
	SetClockOffset(ctx context.Context, d time.Duration) error
	CreateEmail(ctx context.Context, e Email) (int64, error)
	Capture(ctx context.Context, m CapturedMail) error
	MarkMailRead(ctx context.Context, id int64) error
	DeleteMail(ctx context.Context, ids []int64) (int64, error)
	PruneOffers(ctx context.Context, expired time.Time) (int64, error)
	NextOrderNumber(ctx context.Context) (int64, error)
	CreateOrder(ctx context.Context, o Order, domains []Domain) error
	SetOrderResend(ctx context.Context, number, templateID int64, tat time.Time) error
	SetOrderStatus(ctx context.Context, number int64, status OrderStatus) error
	SetDomainRecipient(ctx context.Context, number int64, position int, recipient, source string, emailID int64) error
	SetDomainMethod(ctx context.Context, number int64, position int, method Method) error
	Enqueue(ctx context.Context, emailID int64, recipient, messageID string, now time.Time) (int64, error)
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]Delivery, error)
	FinishAttempt(ctx context.Context, owner string, a Attempt, next time.Time) (bool, error)
	Release(ctx context.Context, owner string, ids []int64, now time.Time) error
	LockLogin(ctx context.Context, subject string, threshold int, now, until time.Time) (bool, error)
	EndLoginLocks(ctx context.Context, now time.Time) ([]LoginFailures, error)
	PruneLoginFailures(ctx context.Context, expired time.Time) (int64, error)
	RecordLoginSource(ctx context.Context, accountID int64, source string, at time.Time) error
	PruneLoginSources(ctx context.Context, expired time.Time) (int64, error)
	EnsureSetting(ctx context.Context, name, value string) (string, error)
	SetSetting(ctx context.Context, name, value string) error
	PutTemplate(ctx context.Context, t Template, accountIDs []int64) error
	SetTerms(ctx context.Context, number int64, t Terms) error
	SetCAAStatus(ctx context.Context, number int64, status string) error
	SetOrgValidated(ctx context.Context, number int64, at time.Time) error
	MarkRefunded(ctx context.Context, number int64, at time.Time) error
	SetBilling(ctx context.Context, accountID int64, b Billing) error
	Charge(ctx context.Context, accountID, cents int64) (bool, error)
	Refund(ctx context.Context, accountID, cents int64) error
	ValidateDomainNow(ctx context.Context, number int64, position int, at time.Time) error
	ResetDomains(ctx context.Context, number int64, domains []Domain) error
	ClearLoginFailures(ctx context.Context, subjects ...string) (int64, error)
	ClearLoginFailuresWithPrefix(ctx context.Context, prefix string) (int64, error)
}

// Store is an open store as the packages that decide are given it: its
// reads, and its writes through a transaction (store.Store.Tx).
type Store interface {
	Reads
	Tx(ctx context.Context, fn func(Tx) error) error
}
