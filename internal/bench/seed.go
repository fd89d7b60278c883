package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

// fixture is what seed made: accounts, and orders spread over them, each
// with a first DCV email already delivered, so that a ResendDCVEmail
// without dcvEmailAddress resends it (rule 4 of docs/api.md §2).
type fixture struct {
	logins, passwords []string
	first             int64   // order numbers are first, first+1, ...
	orders            int     // order first+i belongs to account i % len(logins)
	emailIDs          []int64 // of order first+i, by i
	// keepCodes keeps each order's code in codes (by i), for the
	// confirmation page's right-code POSTs.
	keepCodes bool
	codes     []string
}

// recipient is the address order i's email went to.
func (f *fixture) recipient(i int) string {
	return "admin@" + orderDomain(f.first+int64(i))
}

func orderDomain(number int64) string { return "o" + strconv.FormatInt(number, 10) + ".example.com" }

// body is the ResendDCVEmail form of order i.
func (f *fixture) body(i int) string {
	a := i % len(f.logins)
	return "loginName=" + f.logins[a] + "&loginPassword=" + f.passwords[a] + "&orderNumber=" + strconv.FormatInt(f.first+int64(i), 10)
}

// seedChunk is how many orders one transaction stores: big enough that the
// commits cost nothing, small enough to keep the memory of a chunk (about
// 4 KB of email per order) modest.
const seedChunk = 2_000

// seed creates n accounts and adds orders to the store until it holds
// orders of them (an existing fixture is extended). Orders go in through
// store.SeedOrders in big transactions: dcv.CreateOrder would commit, and
// fsync, once per order.
func seed(ctx context.Context, app *server.App, f *fixture, accountsN, orders int, runID string, progress func(done int)) error {
	st := app.Store
	for i := len(f.logins); i < accountsN; i++ {
		login := fmt.Sprintf("bench-%s-%d", runID, i)
		password := fmt.Sprintf("bench-password-%s-%d", runID, i)
		if err := accounts.Create(ctx, st, accounts.NewAccount{Login: login, Password: password}, app.DCV.Now()); err != nil {
			return fmt.Errorf("seed account: %w", err)
		}
		f.logins, f.passwords = append(f.logins, login), append(f.passwords, password)
	}
	ids := make([]int64, len(f.logins))
	for i, login := range f.logins {
		a, err := st.AccountByLogin(ctx, login)
		if err != nil {
			return err
		}
		ids[i] = a.ID
	}
	if f.first == 0 {
		var n int64
		err := st.Tx(ctx, func(tx model.Tx) (err error) {
			n, err = tx.NextOrderNumber(ctx)
			return err
		})
		if err != nil {
			return err
		}
		f.first = n + 1
	}
	proto, err := newPrototype(app)
	if err != nil {
		return err
	}
	// One goroutine builds the next chunk while the store writes this one.
	type built struct {
		chunk []store.SeedOrder
		codes []string
		err   error
	}
	chunks := make(chan built, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(chunks)
		values := app.DCV.RandomValues()
		for done := f.orders; done < orders; {
			chunk := make([]store.SeedOrder, min(seedChunk, orders-done))
			var codes []string
			now := app.DCV.Now()
			expires := now.Add(app.DCV.Policy().CodeValidity)
			for j := range chunk {
				number := f.first + int64(done+j)
				code, hash, err := values.New()
				if err != nil {
					chunks <- built{err: err}
					return
				}
				if f.keepCodes {
					codes = append(codes, code)
				}
				fqdn := orderDomain(number)
				recipient := "admin@" + fqdn
				r := proto.render(number, fqdn, code)
				chunk[j] = store.SeedOrder{
					Order: model.Order{Number: number, AccountID: ids[(done+j)%len(ids)], BaseNumber: number, Status: model.OrderActive, Created: now},
					Domains: []model.Domain{{Position: 1, Name: fqdn, FQDN: fqdn, Method: model.MethodEmail,
						Recipient: recipient, Source: contacts.Constructed}},
					Email: model.Email{OrderNumber: number, Recipient: recipient, CodeHash: hash,
						Subject: r.Subject, Text: r.Text, HTML: r.HTML, Created: now, Expires: expires},
					MessageID: randomHex(16) + "@bench.dcvmail.invalid",
				}
			}
			done += len(chunk)
			select {
			case chunks <- built{chunk: chunk, codes: codes}:
			case <-stop:
				return
			}
		}
	}()
	for b := range chunks {
		if b.err != nil {
			return b.err
		}
		emails, err := st.SeedOrders(ctx, b.chunk)
		if err != nil {
			return err
		}
		f.emailIDs = append(f.emailIDs, emails...)
		f.codes = append(f.codes, b.codes...)
		f.orders += len(b.chunk)
		if progress != nil {
			progress(f.orders)
		}
	}
	return st.Checkpoint(ctx)
}

// prototype is the built-in template rendered once with placeholders, so
// that a million emails cost a few string replacements each rather than a
// template execution: the content is what dcv would have rendered.
type prototype struct{ mail.Rendered }

const (
	placeholderNumber = 987654321987
	placeholderDomain = "placeholder-domain.example"
	placeholderCode   = "QQQQQQQQQQQQQQQQQQQQQQQQQQ" // 26 characters of the code alphabet
)

func newPrototype(app *server.App) (prototype, error) {
	page := app.DCV.PageURL()
	r, err := mail.Default.Render(mail.Fields{
		Domains:     []string{placeholderDomain},
		OrderNumber: placeholderNumber,
		Code:        placeholderCode,
		Link:        page + "?orderNumber=" + strconv.Itoa(placeholderNumber) + "&dcvCode=" + placeholderCode,
		PageURL:     page,
		Expires:     app.DCV.Now().Add(app.DCV.Policy().CodeValidity),
		Recipient:   "admin@" + placeholderDomain,
	})
	return prototype{r}, err
}

func (p prototype) render(number int64, fqdn, code string) mail.Rendered {
	rep := strings.NewReplacer(strconv.Itoa(placeholderNumber), strconv.FormatInt(number, 10),
		placeholderDomain, fqdn, placeholderCode, code)
	return mail.Rendered{Subject: rep.Replace(p.Subject), Text: rep.Replace(p.Text), HTML: rep.Replace(p.HTML)}
}

// seedBacklog queues n deliveries of the fixture's emails (cycling through
// them) in one transaction: the outbox worker's work for the delivery step.
func seedBacklog(ctx context.Context, st *store.Store, f *fixture, n int, now time.Time) error {
	ds := make([]model.Delivery, n)
	for i := range ds {
		k := i % len(f.emailIDs)
		ds[i] = model.Delivery{EmailID: f.emailIDs[k], Recipient: f.recipient(k), MessageID: randomHex(16) + "@bench.dcvmail.invalid", Created: now}
	}
	return st.SeedDeliveries(ctx, ds)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
