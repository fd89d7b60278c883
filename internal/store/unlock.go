package store

import (
	"context"
	"strconv"
	"strings"
)

// ClearLoginFailures forgets the failed-login counts and locks of the given
// subjects, and tells how many it held.
func (q Queries) ClearLoginFailures(ctx context.Context, subjects ...string) (int64, error) {
	if len(subjects) == 0 {
		return 0, nil
	}
	marks := make([]string, len(subjects))
	args := make([]any, len(subjects))
	for i, s := range subjects {
		marks[i] = "$" + strconv.Itoa(i+1)
		args[i] = s
	}
	res, err := q.ex.ExecContext(ctx, `DELETE FROM login_failures WHERE subject IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ClearLoginFailuresWithPrefix forgets the counts and locks of every subject
// that starts with prefix (a login name's per-source subjects), and tells
// how many it held. The prefix is the caller's own text, never a client's.
func (q Queries) ClearLoginFailuresWithPrefix(ctx context.Context, prefix string) (int64, error) {
	res, err := q.ex.ExecContext(ctx, `DELETE FROM login_failures WHERE substr(subject, 1, $1) = $2`, len(prefix), prefix)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
