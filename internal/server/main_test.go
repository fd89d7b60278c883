package server_test

import (
	"testing"

	"github.com/dcvmail/dcvmail/internal/pgtest"
)

// With DCVMAIL_TEST_BACKEND=postgres the tests here run on PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }
