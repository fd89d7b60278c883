package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dcvmail/dcvmail/internal/model"
)

// offersPerStatement bounds the rows of one upsert (8 parameters each;
// SQLite allows 32,766 and PostgreSQL 65,535).
const offersPerStatement = 500

// offerHour is the span by which pruning finds offers (offered_hour,
// migration 00016). A row's offered_hour is the hour it was first offered
// in, or the one pruning last moved it up to: never later than the hour
// of its time (offered_ms). An offer made again leaves it as it was, so
// that the upsert changes no indexed column: PostgreSQL updates the row in
// place, and SQLite, which rewrites the index entries of every column an
// UPDATE names whether its value changed or not, leaves the hour's index
// alone. Pruning moves up the hour of the rows it finds offered again
// since (PruneOffers), once per offer window at most.
const offerHour = time.Hour

// hourOf is the offered_hour of a time: whole hours since the Unix epoch.
func hourOf(t time.Time) int64 { return ms(t) / offerHour.Milliseconds() }

// RecordOffers stores what GetDCVEmailAddressList returned: one row per
// (account, name, address), whose source, ADN, product and time become
// those of this offer (its hour stays that of the first, see offerHour).
// One statement per call (per 500 offers), so that a call costs the same
// whatever was offered before; repeated addresses in offers count once
// (the first).
func (q Queries) RecordOffers(ctx context.Context, offers []model.Offer) error {
	unique := uniqueOffers(offers)
	for len(unique) > 0 {
		chunk := unique[:min(len(unique), offersPerStatement)]
		unique = unique[len(chunk):]
		var b strings.Builder
		args := make([]any, 0, 8*len(chunk))
		b.WriteString(`INSERT INTO address_offers (account_id, fqdn, mailbox, source, adn, product, offered_ms, offered_hour) VALUES `)
		for i, o := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q.d.marks(len(args), 8))
			args = append(args, o.AccountID, o.FQDN, o.Mailbox, o.Source, o.ADN, nullInt(o.Product), ms(o.At), hourOf(o.At))
		}
		b.WriteString(` ON CONFLICT (account_id, fqdn, mailbox) DO UPDATE SET
		   source = excluded.source, adn = excluded.adn, product = excluded.product,
		   offered_ms = excluded.offered_ms`)
		if _, err := q.ex.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// Migration 19 leaves room on PostgreSQL's pages of offers for the offers
// made again.
//
// An offer made again rewrites its row (RecordOffers). PostgreSQL writes a
// row's new version beside the old one, and adds no index entry for it,
// when no indexed column changed and the row's page has room (a heap-only
// update); otherwise the new version goes to another page, with an entry in
// each of the table's four indexes, and the old one is left to vacuum.
// Inserts filled the pages, so about half the offers' updates found no
// room. With inserts stopping at half a page (fillfactor 50), all but a few
// are heap-only, and GetDCVEmailAddressList answers a fifth to a third more
// a second (BENCHMARKS.md, "Seventh round"). The setting holds for pages
// filled from then on: a table's existing pages keep their rows, and the
// versions that leave them go to pages with room. SQLite rewrites a row
// where it is in its B-tree and has no such setting: there this migration
// records its version and changes nothing.
const offersRoomVersion = 19

func offersRoomMigration(d *dialect) *goose.Migration {
	if d == sqliteDialect {
		return goose.NewGoMigration(offersRoomVersion, nil, nil)
	}
	alter := func(clause string) *goose.GoFunc {
		return &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `ALTER TABLE address_offers `+clause)
			return err
		}}
	}
	return goose.NewGoMigration(offersRoomVersion, alter(`SET (fillfactor = 50)`), alter(`RESET (fillfactor)`))
}

// offerKey is what makes an offer's row: address_offers_key.
type offerKey struct {
	account       int64
	fqdn, mailbox string
}

func keyOf(o model.Offer) offerKey { return offerKey{o.AccountID, o.FQDN, o.Mailbox} }

// uniqueOffers keeps the first offer of each row, in order.
func uniqueOffers(offers []model.Offer) []model.Offer {
	seen := make(map[offerKey]bool, len(offers))
	unique := make([]model.Offer, 0, len(offers))
	for _, o := range offers {
		if k := keyOf(o); !seen[k] {
			seen[k] = true
			unique = append(unique, o)
		}
	}
	return unique
}

// PruneOffers deletes up to 1,000 offers made in an hour that ended at or
// before expired (so an offer outlives expired by less than an hour). Of
// the offers whose offered_hour is that old but which were made again
// since, it moves up to 1,000 to the hour of their newest making (see
// offerHour). It returns how many rows it deleted or moved: 1,000 or more
// says there may be more. On PostgreSQL it skips rows that another
// transaction holds, so it never waits.
func (q Queries) PruneOffers(ctx context.Context, expired time.Time) (int64, error) {
	hour := hourOf(expired)
	end := hour * offerHour.Milliseconds() // of the newest hour to prune
	moved, err := q.ex.ExecContext(ctx,
		`UPDATE address_offers SET offered_hour = offered_ms / $3 WHERE id IN
		   (SELECT id FROM address_offers WHERE offered_hour < $1 AND offered_ms >= $2 LIMIT 1000`+q.d.skipLocked+`)`,
		hour, end, offerHour.Milliseconds())
	if err != nil {
		return 0, err
	}
	deleted, err := q.ex.ExecContext(ctx,
		`DELETE FROM address_offers WHERE id IN
		   (SELECT id FROM address_offers WHERE offered_hour < $1 AND offered_ms < $2 LIMIT 1000`+q.d.skipLocked+`)`,
		hour, end)
	if err != nil {
		return 0, err
	}
	m, err := moved.RowsAffected()
	if err != nil {
		return 0, err
	}
	d, err := deleted.RowsAffected()
	return m + d, err
}

// OffersOf lists the offers of mailbox to an account since a time: for which
// names, and by which source, the address was returned.
func (q Reads) OffersOf(ctx context.Context, accountID int64, mailbox string, since time.Time) ([]model.Offer, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT DISTINCT fqdn, source, adn FROM address_offers
		 WHERE account_id = $1 AND mailbox = $2 AND offered_ms >= $3`, accountID, mailbox, ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Offer
	for rows.Next() {
		o := model.Offer{AccountID: accountID, Mailbox: mailbox}
		if err := rows.Scan(&o.FQDN, &o.Source, &o.ADN); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CountOffers counts recorded offers (for tests and status output).
func (q Reads) CountOffers(ctx context.Context) (int, error) {
	var n int
	err := q.ex.QueryRowContext(ctx, `SELECT COUNT(*) FROM address_offers`).Scan(&n)
	return n, err
}
