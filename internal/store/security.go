package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

const loginFailureColumns = `subject, label, failures, window_start_ms, locked_until_ms`

func scanLoginFailures(row interface{ Scan(...any) error }) (model.LoginFailures, error) {
	var f model.LoginFailures
	var start, until int64
	if err := row.Scan(&f.Subject, &f.Label, &f.Failures, &start, &until); err != nil {
		return f, err
	}
	f.WindowStart = fromMS(start)
	if until != 0 {
		f.LockedUntil = fromMS(until)
	}
	return f, nil
}

// loginStateQueries holds LoginStateOf's statement on each database for
// the usual numbers of subjects (an API call's login checks three), made
// once rather than on every call, as orderDeliveriesSQL.
var loginStateQueries = map[*dialect][4]string{
	sqliteDialect:   loginStateQueriesOn(sqliteDialect),
	postgresDialect: loginStateQueriesOn(postgresDialect),
}

func loginStateQueriesOn(d *dialect) (q [4]string) {
	for n := range q {
		q[n] = buildLoginStateQuery(d, n)
	}
	return q
}

func loginStateQuery(d *dialect, subjects int) string {
	if qs := loginStateQueries[d]; subjects < len(qs) {
		return qs[subjects]
	}
	return buildLoginStateQuery(d, subjects)
}

// buildLoginStateQuery is the statement each database answers fastest,
// as measured. On SQLite, the account row and then each subject's counts
// by a point lookup of its own, joined by UNION ALL: every arm uses a
// primary or unique key, where an IN list made SQLite build an ephemeral
// table on every call (10.8 -> 8.1 us, BenchmarkLoginStateOf). On
// PostgreSQL, one row of LEFT JOINs over an IN list: the UNION ALL's four
// arms cost it a quarter more (pgbench, prepared: 59,100 -> 43,700/s).
func buildLoginStateQuery(d *dialect, subjects int) string {
	if d == postgresDialect {
		on := "1 = 0"
		if subjects > 0 {
			on = "f.subject IN " + d.marks(2, subjects)
		}
		return `SELECT a.id, a.login, a.password_hash, a.read_only, a.disabled, a.created_ms, a.updated_ms,
		        ls.last_success_ms, f.subject, f.label, f.failures, f.window_start_ms, f.locked_until_ms
		 FROM (SELECT 1 AS one) one
		 LEFT JOIN accounts a ON a.login = $1
		 LEFT JOIN login_sources ls ON ls.account_id = a.id AND ls.source = $2
		 LEFT JOIN login_failures f ON ` + on
	}
	var b strings.Builder
	b.WriteString(`SELECT a.id, a.login, a.password_hash, a.read_only, a.disabled, a.created_ms, a.updated_ms,
	        ls.last_success_ms, NULL, NULL, NULL, NULL, NULL
	 FROM accounts a LEFT JOIN login_sources ls ON ls.account_id = a.id AND ls.source = $2
	 WHERE a.login = $1`)
	for i := range subjects {
		b.WriteString(` UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ` + loginFailureColumns +
			` FROM login_failures WHERE subject = $` + strconv.Itoa(i+3))
	}
	return b.String()
}

// LoginStateOf reads, in one statement, the account of login, when it last
// logged in from source ("" for none), and the counts of the given
// subjects, each given once (subjects without one are left out). Every API
// call reads them; one statement is one read transaction instead of three.
// It changes nothing, so that a locked subject's refused attempts cost no
// write.
func (q Reads) LoginStateOf(ctx context.Context, login, source string, subjects ...string) (model.LoginState, error) {
	args := make([]any, 2, 2+len(subjects))
	args[0], args[1] = login, source
	for _, s := range subjects {
		args = append(args, s)
	}
	rows, err := q.ex.QueryContext(ctx, loginStateQuery(q.d, len(subjects)), args...)
	if err != nil {
		return model.LoginState{}, err
	}
	defer rows.Close()
	var st model.LoginState
	for rows.Next() {
		var (
			id, ro, dis, created, updated sql.NullInt64
			lastSuccess                   sql.NullInt64
			login, hash                   sql.NullString
			subject, label                sql.NullString
			failures, start, until        sql.NullInt64
		)
		if err := rows.Scan(&id, &login, &hash, &ro, &dis, &created, &updated, &lastSuccess,
			&subject, &label, &failures, &start, &until); err != nil {
			return model.LoginState{}, err
		}
		if id.Valid && !st.Known {
			st.Known = true
			st.Account = model.Account{ID: id.Int64, Login: login.String, PasswordHash: hash.String,
				ReadOnly: ro.Int64 != 0, Disabled: dis.Int64 != 0, Created: fromMS(created.Int64), Updated: fromMS(updated.Int64)}
			if lastSuccess.Valid {
				st.KnownSince = fromMS(lastSuccess.Int64)
			}
		}
		if subject.Valid {
			f := model.LoginFailures{Subject: subject.String, Label: label.String, Failures: int(failures.Int64), WindowStart: fromMS(start.Int64)}
			if until.Int64 != 0 {
				f.LockedUntil = fromMS(until.Int64)
			}
			st.Failures = append(st.Failures, f)
		}
	}
	return st, rows.Err()
}

// CountLoginFailures counts one more failed login against each subject, in
// one transaction (one commit, whatever the number of subjects), and
// returns the counts in the order given. A window that started at or before
// expired is over: its count starts again at 1 in a window starting at now.
// On PostgreSQL the upsert's row lock serializes the failures of one
// subject on every node; SQLite's one writer does the same.
func (s *Store) CountLoginFailures(ctx context.Context, subjects []model.LoginSubject, now, expired time.Time) ([]model.LoginFailures, error) {
	out := make([]model.LoginFailures, 0, len(subjects))
	err := s.tx(ctx, func(tx *Tx) error {
		for _, sub := range subjects {
			f, err := scanLoginFailures(tx.ex.QueryRowContext(ctx,
				`INSERT INTO login_failures (subject, label, window_start_ms, failures, locked_until_ms) VALUES ($1, $2, $3, 1, 0)
				 ON CONFLICT (subject) DO UPDATE SET
				   label = $2,
				   failures = CASE WHEN login_failures.window_start_ms <= $4 THEN 1 ELSE login_failures.failures + 1 END,
				   window_start_ms = CASE WHEN login_failures.window_start_ms <= $4 THEN $3 ELSE login_failures.window_start_ms END
				 RETURNING `+loginFailureColumns,
				sub.Subject, sub.Label, ms(now), ms(expired)))
			if err != nil {
				return fmt.Errorf("store: count login failure: %w", err)
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LockLogin locks subject until until if its count has reached threshold,
// and starts its count afresh (window from now, no failures). It reports
// whether this call set the lock: when several nodes race, exactly one
// does, so that the lock is logged once.
func (q Queries) LockLogin(ctx context.Context, subject string, threshold int, now, until time.Time) (bool, error) {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE login_failures SET locked_until_ms = $2, failures = 0, window_start_ms = $3
		 WHERE subject = $1 AND failures >= $4`,
		subject, ms(until), ms(now), threshold)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// EndLoginLocks clears up to 100 locks that ended at or before now and
// returns them with the time each ended. Each ended lock is returned by
// one call only, on whichever node, so that its end is logged once.
func (q Queries) EndLoginLocks(ctx context.Context, now time.Time) ([]model.LoginFailures, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT `+loginFailureColumns+` FROM login_failures
		 WHERE locked_until_ms > 0 AND locked_until_ms <= $1 ORDER BY locked_until_ms LIMIT 100`, ms(now))
	if err != nil {
		return nil, err
	}
	var ended []model.LoginFailures
	for rows.Next() {
		f, err := scanLoginFailures(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		ended = append(ended, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := ended[:0]
	for _, f := range ended {
		res, err := q.ex.ExecContext(ctx,
			`UPDATE login_failures SET locked_until_ms = 0 WHERE subject = $1 AND locked_until_ms = $2`,
			f.Subject, ms(f.LockedUntil))
		if err != nil {
			return out, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return out, err
		} else if n == 1 {
			out = append(out, f)
		}
	}
	return out, nil
}

// PruneLoginFailures deletes up to 100 counts whose window started at or
// before expired and that hold no lock (an ended lock is cleared by
// EndLoginLocks first), and returns how many. On PostgreSQL it skips rows
// that another transaction holds, so it never waits.
func (q Queries) PruneLoginFailures(ctx context.Context, expired time.Time) (int64, error) {
	res, err := q.ex.ExecContext(ctx,
		`DELETE FROM login_failures WHERE subject IN
		   (SELECT subject FROM login_failures WHERE window_start_ms <= $1 AND locked_until_ms = 0 LIMIT 100`+q.d.skipLocked+`)`,
		ms(expired))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RecordLoginSource notes that an account logged in successfully from a
// source at a time (a later time than the one stored wins).
func (q Queries) RecordLoginSource(ctx context.Context, accountID int64, source string, at time.Time) error {
	_, err := q.ex.ExecContext(ctx,
		`INSERT INTO login_sources (account_id, source, last_success_ms) VALUES ($1, $2, $3)
		 ON CONFLICT (account_id, source) DO UPDATE SET
		   last_success_ms = CASE WHEN excluded.last_success_ms > login_sources.last_success_ms
		                          THEN excluded.last_success_ms ELSE login_sources.last_success_ms END`,
		accountID, source, ms(at))
	return err
}

// PruneLoginSources deletes up to 100 sources whose last success was at or
// before expired, and returns how many.
func (q Queries) PruneLoginSources(ctx context.Context, expired time.Time) (int64, error) {
	res, err := q.ex.ExecContext(ctx,
		`DELETE FROM login_sources WHERE (account_id, source) IN
		   (SELECT account_id, source FROM login_sources WHERE last_success_ms <= $1 LIMIT 100`+q.d.skipLocked+`)`,
		ms(expired))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
