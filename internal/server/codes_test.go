package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/server"
)

// issue 16 item 5: a server that delivers over SMTP keeps no usable code in
// its database. While an email is live (delivered, its code not yet used),
// a copy of the database (on SQLite the raw bytes of the file and its WAL,
// and every row of every table; on PostgreSQL every row of every table)
// does not hold the code the relay received, yet the code confirms on the
// page. A node given the database without the message key refuses to start
// and says what is missing; given the key file, it starts.
func TestDatabaseCopyHoldsNoUsableCode(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	var db string
	s := startOps(t, func(c *config.Serve) {
		c.SMTP = "smtp://" + r.addr + "?tls=none"
		c.Mail = config.Mail{SMTPConnections: 1, SMTPTimeout: 5 * time.Second, MaxAge: 48 * time.Hour,
			RetryBase: time.Second, RetryMax: time.Minute, Lease: 2 * time.Minute}
		db = c.DB
	})
	s.addAccount(t, "reseller", "a long password")
	order := s.sendOne(t, "reseller")
	code := deliveredCode(t, s, r, order)

	copyDir := t.TempDir()
	if db == "" {
		src := filepath.Join(s.dir, "dcvmail.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(src + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(code)) {
				t.Errorf("dcvmail.db%s holds the live code", suffix)
			}
			if err == nil {
				if err := os.WriteFile(filepath.Join(copyDir, "dcvmail.db"+suffix), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		assertNoCodeInRows(t, "sqlite", filepath.Join(copyDir, "dcvmail.db"), code)
	} else {
		assertNoCodeInRows(t, "pgx", db, code)
	}

	// The code still confirms on the page.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
	resp, err := client.PostForm(s.URL()+"/products/EnterDCVCode2", url.Values{"orderNumber": {fmt.Sprint(order)}, "dcvCode": {code}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ds, err := s.App.Store.Domains(t.Context(), order)
	if err != nil || len(ds) != 1 || ds[0].Validated.IsZero() {
		t.Fatalf("the delivered code did not confirm: HTTP %d, %+v %v", resp.StatusCode, ds, err)
	}

	// A node on the database without the key refuses to start.
	cfg := config.Serve{Common: config.Common{Data: copyDir, DB: db}, Listen: "127.0.0.1:0", MailFrom: "dcv@dcvmail.test",
		DNSResolvers: config.List{"none"}, CodeValidity: dcv.DefaultPolicy.CodeValidity, ResendBurst: 1, ResendInterval: time.Second,
		SMTP: "smtp://" + r.addr + "?tls=none"}
	quiet := server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if srv, err := server.New(context.Background(), cfg, quiet); err == nil {
		srv.Close()
		t.Fatal("a node without the message key started")
	} else if !strings.Contains(err.Error(), "message key") || !strings.Contains(err.Error(), "--message-key-file") {
		t.Fatalf("refusal does not say what is missing: %v", err)
	}
	cfg.MessageKeyFile = filepath.Join(s.dir, "message.key")
	srv, err := server.New(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatalf("with the key file: %v", err)
	}
	srv.Close()
}

// deliveredCode waits for the relay to receive the order's email and
// returns the code in it (the one whose keyed hash the store holds).
func deliveredCode(t *testing.T, s *opsServer, r *relay, order int64) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var msg string
	for msg == "" {
		r.mu.Lock()
		if len(r.data) > 0 {
			msg = r.data[0]
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the relay received nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	emails, err := s.App.Store.EmailsOfOrder(t.Context(), order)
	if err != nil || len(emails) != 1 {
		t.Fatalf("emails: %+v %v", emails, err)
	}
	// Quoted-printable soft line breaks aside, a code travels as it is.
	text := strings.ReplaceAll(msg, "=\r\n", "")
	for _, c := range regexp.MustCompile(`[A-Z2-7]{26}`).FindAllString(text, -1) {
		if s.App.DCV.RandomValues().Matches(c, emails[0].CodeHash) {
			return c
		}
	}
	t.Fatalf("no code in the delivered message:\n%s", msg)
	return ""
}

// assertNoCodeInRows reads every row of every table of a database and fails
// when a value holds the code.
func assertNoCodeInRows(t *testing.T, driver, dsn, code string) {
	t.Helper()
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	list := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if driver == "pgx" {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	var tables []string
	rows, err := conn.Query(list)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	seen := 0
	for _, table := range tables {
		rows, err := conn.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				if strings.Contains(fmt.Sprint(v), code) {
					t.Errorf("%s.%s holds the live code", table, cols[i])
				}
				seen++
			}
		}
		rows.Close()
	}
	if seen == 0 {
		t.Fatal("read no values")
	}
}

// issue 16 item 5, the upgrade: the clear message of a live email written
// before messages were sealed is sealed by the first start with a key, and
// the email's delivery still goes out whole.
func TestUpgradeSealsClearMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var db string
	if os.Getenv(dcvtest.EnvBackend) == "postgres" {
		db = pgtest.URL(t)
	}
	url := db
	if url == "" {
		url = "sqlite://" + filepath.Join(dir, "dcvmail.db")
	}
	old, err := server.Open(context.Background(), server.AppOptions{DatabaseURL: url, Clock: clock.NewFake(dcvtest.Epoch), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Store.Direct().CreateAccount(t.Context(), model.Account{Login: "reseller", PasswordHash: "x", Created: dcvtest.Epoch}); err != nil {
		t.Fatal(err)
	}
	order, err := old.DCV.CreateOrder(t.Context(), dcv.NewOrder{Login: "reseller", Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var sealed int
	if err := old.Store.QueryRow(t.Context(), `SELECT COUNT(*) FROM dcv_email_bodies WHERE sealed = 1`, &sealed); err != nil || sealed != 0 {
		t.Fatalf("before: %d sealed, %v", sealed, err)
	}
	old.Close()

	r := startRelay(t)
	s := startOpsIn(t, dir, io.Discard, func(c *config.Serve) {
		c.DB = db
		c.SMTP = "smtp://" + r.addr + "?tls=none"
		c.Mail = config.Mail{SMTPConnections: 1, SMTPTimeout: 5 * time.Second, MaxAge: 48 * time.Hour,
			RetryBase: time.Second, RetryMax: time.Minute, Lease: 2 * time.Minute}
	})
	if err := s.App.Store.QueryRow(t.Context(), `SELECT COUNT(*) FROM dcv_email_bodies WHERE sealed = 1`, &sealed); err != nil || sealed != 1 {
		t.Fatalf("after the start: %d sealed, %v", sealed, err)
	}
	code := deliveredCode(t, s, r, order)
	if db == "" {
		assertNoCodeInRows(t, "sqlite", filepath.Join(dir, "dcvmail.db"), code)
	} else {
		assertNoCodeInRows(t, "pgx", db, code)
	}
}
