package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

const certColumns = `certificate_id, order_number, state, csr, names, serial, der, not_before_ms, not_after_ms, issued_ms, revoked_ms, revocation_reason, created_ms`

func scanCertificate(row interface{ Scan(...any) error }) (model.Certificate, error) {
	var c model.Certificate
	var csr, names string
	var serial, der sql.NullString
	var nb, na, issued, revoked, reason sql.NullInt64
	var created int64
	err := row.Scan(&c.ID, &c.OrderNumber, &c.State, &csr, &names, &serial, &der, &nb, &na, &issued, &revoked, &reason, &created)
	if err != nil {
		return c, notFound(err)
	}
	c.CSR, _ = base64.StdEncoding.DecodeString(csr)
	c.Names = strings.Fields(names)
	c.Serial = serial.String
	if der.Valid {
		c.DER, _ = base64.StdEncoding.DecodeString(der.String)
	}
	c.NotBefore, c.NotAfter, c.Issued, c.Revoked = nullTime(nb), nullTime(na), nullTime(issued), nullTime(revoked)
	c.Reason, c.Created = int(reason.Int64), fromMS(created)
	return c, nil
}

// NextCertificateID allocates a certificateID (nine digits and up).
func (q Queries) NextCertificateID(ctx context.Context) (int64, error) {
	return q.next(ctx, "certificate_id")
}

// CreateCertificate stores a new certificate request (State pending).
func (q Queries) CreateCertificate(ctx context.Context, c model.Certificate) error {
	_, err := q.ex.ExecContext(ctx,
		`INSERT INTO certificates (certificate_id, order_number, state, csr, names, created_ms) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.OrderNumber, model.CertPending, base64.StdEncoding.EncodeToString(c.CSR), strings.Join(c.Names, " "), ms(c.Created))
	return err
}

// CertificatesOfOrder lists an order's certificates, oldest first.
func (q Reads) CertificatesOfOrder(ctx context.Context, number int64) ([]model.Certificate, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT `+certColumns+` FROM certificates WHERE order_number = $1 ORDER BY certificate_id`, number)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CertificateByID reads a certificate by its certificateID.
func (q Reads) CertificateByID(ctx context.Context, id int64) (model.Certificate, error) {
	return scanCertificate(q.ex.QueryRowContext(ctx, `SELECT `+certColumns+` FROM certificates WHERE certificate_id = $1`, id))
}

// CertificateBySerial reads an issued certificate by its serial (lowercase
// hex without leading zeros, as big.Int.Text(16) writes it).
func (q Reads) CertificateBySerial(ctx context.Context, serial string) (model.Certificate, error) {
	return scanCertificate(q.ex.QueryRowContext(ctx, `SELECT `+certColumns+` FROM certificates WHERE serial = $1`, serial))
}

// ClaimCertificate moves a pending certificate to issued with what was
// signed for it, if it is still pending; it reports whether this call did.
// Issuing runs it in the transaction that signed: of two nodes that issue
// at once, the second's UPDATE waits for the first's commit (PostgreSQL's
// row lock, SQLite's one writer) and then matches no row, so it rolls back
// and its certificate is never published.
func (q Queries) ClaimCertificate(ctx context.Context, c model.Certificate) (bool, error) {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE certificates SET state = $2, serial = $3, der = $4, not_before_ms = $5, not_after_ms = $6, issued_ms = $7
		 WHERE certificate_id = $1 AND state = $8`,
		c.ID, model.CertIssued, c.Serial, base64.StdEncoding.EncodeToString(c.DER), ms(c.NotBefore), ms(c.NotAfter), ms(c.Issued), model.CertPending)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RejectCertificate marks a pending certificate rejected; false when it was
// not pending.
func (q Queries) RejectCertificate(ctx context.Context, id int64) (bool, error) {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE certificates SET state = $2 WHERE certificate_id = $1 AND state = $3`, id, model.CertRejected, model.CertPending)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RevokeCertificate records the revocation of an issued certificate that is
// not revoked yet; false when there was nothing to revoke.
func (q Queries) RevokeCertificate(ctx context.Context, id int64, at time.Time, reason int) (bool, error) {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE certificates SET revoked_ms = $2, revocation_reason = $3
		 WHERE certificate_id = $1 AND state = $4 AND revoked_ms IS NULL`, id, ms(at), reason, model.CertIssued)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// revokedSQL reads the revoked certificates from their partial index
// alone (migration 00020); its plan is tested.
const revokedSQL = `SELECT serial, revoked_ms, revocation_reason FROM certificates WHERE revoked_ms IS NOT NULL ORDER BY serial`

// RevokedCertificates lists every revoked certificate, by serial.
func (q Reads) RevokedCertificates(ctx context.Context) ([]model.RevokedCertificate, error) {
	// Watched: its time grows with the certificates revoked, thousands in
	// a busy test CA's life.
	rows, err := q.watched().ex.QueryContext(ctx, revokedSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.RevokedCertificate
	for rows.Next() {
		var r model.RevokedCertificate
		var at, reason int64
		if err := rows.Scan(&r.Serial, &at, &reason); err != nil {
			return nil, err
		}
		r.At, r.Reason = fromMS(at), int(reason)
		out = append(out, r)
	}
	return out, rows.Err()
}

// LoadCA implements ca.Store: the built-in CA's PEM document, or nil.
func (s *Store) LoadCA(ctx context.Context) ([]byte, error) {
	var p string
	err := s.ex.QueryRowContext(ctx, `SELECT pem FROM ca_material WHERE name = 'builtin'`).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []byte(p), nil
}

// SaveCA implements ca.Store: it keeps pem unless a CA is kept already, and
// returns the one kept, so that nodes starting at once agree on the first.
func (s *Store) SaveCA(ctx context.Context, pem []byte) ([]byte, error) {
	if _, err := s.ex.ExecContext(ctx,
		`INSERT INTO ca_material (name, pem, created_ms) VALUES ('builtin', $1, $2) ON CONFLICT (name) DO NOTHING`,
		string(pem), ms(time.Now())); err != nil {
		return nil, err
	}
	return s.LoadCA(ctx)
}
