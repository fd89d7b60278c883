package web_test

import (
	"testing"

	"github.com/dcvmail/dcvmail/internal/pgtest"
)

// With DCVMAIL_TEST_BACKEND=postgres every test here runs on PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }
