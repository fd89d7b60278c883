package store

import (
	"context"
	"time"
)

// Offer records that an address was returned to an account for a name.
type Offer struct {
	AccountID int64
	FQDN      string
	Mailbox   string
	Source    string
	ADN       string
	Product   int64 // 0 when not given
	At        time.Time
}

// RecordOffers stores what GetDCVEmailAddressList returned.
func (q Queries) RecordOffers(ctx context.Context, offers []Offer) error {
	for _, o := range offers {
		if _, err := q.ex.ExecContext(ctx,
			`INSERT INTO address_offers (account_id, fqdn, mailbox, source, adn, product, offered_ms)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			o.AccountID, o.FQDN, o.Mailbox, o.Source, o.ADN, nullInt(o.Product), ms(o.At)); err != nil {
			return err
		}
	}
	return nil
}

// OffersOf lists the offers of mailbox to an account since a time: for which
// names, and by which source, the address was returned.
func (q Queries) OffersOf(ctx context.Context, accountID int64, mailbox string, since time.Time) ([]Offer, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT DISTINCT fqdn, source, adn FROM address_offers
		 WHERE account_id = $1 AND mailbox = $2 AND offered_ms >= $3`, accountID, mailbox, ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Offer
	for rows.Next() {
		o := Offer{AccountID: accountID, Mailbox: mailbox}
		if err := rows.Scan(&o.FQDN, &o.Source, &o.ADN); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CountOffers counts recorded offers (for tests and status output).
func (q Queries) CountOffers(ctx context.Context) (int, error) {
	var n int
	err := q.ex.QueryRowContext(ctx, `SELECT COUNT(*) FROM address_offers`).Scan(&n)
	return n, err
}
