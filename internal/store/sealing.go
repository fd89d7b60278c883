package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Sealed messages (SECURITY.md, "Codes at rest").
//
// A DCV email's rendered message holds its random value in clear: the code
// and the link that carries it. The message is kept while the value is
// live, because a resend within the validity is the identical message
// (docs/api.md §2). So that a copy of the database yields no usable code,
// the message is sealed before it is written: AES-256-GCM under a key kept
// in a file outside the database (--message-key-file, by default
// message.key in --data). The row keeps a subject to show, with anything
// shaped like a code masked; the outbox worker opens the message to send it.
// The random value itself is stored only as its keyed hash (dcv.RandomValues).
//
// The database records a check value of the key (an HMAC of a constant
// under it, which tells nothing of the key), so that a node given another
// key, or none, refuses to start instead of sending what it cannot open.
// Messages written before migration 10, or by a store without a key, stay in
// clear (sealed = 0) and are read as they are; SealClearBodies seals those
// still live.

// MessageKeySetting names the check value of the message key.
const MessageKeySetting = "message_key_check"

// ErrNoMessageKey: a sealed message was read by a store that has no key.
var ErrNoMessageKey = errors.New("store: the message is sealed and this process has no message key (--message-key-file)")

// sealBox holds the message key of a Store once it is set; every Queries
// of the Store (and of its transactions) shares it.
type sealBox struct {
	aead atomic.Pointer[cipher.AEAD]
}

func (b *sealBox) get() cipher.AEAD {
	if b == nil {
		return nil
	}
	if p := b.aead.Load(); p != nil {
		return *p
	}
	return nil
}

// sealedMessage is what a sealed body holds.
type sealedMessage struct {
	Subject string `json:"s"`
	Text    string `json:"t"`
	HTML    string `json:"h"`
}

// sealPrefix marks the format of a sealed body: v1 is a 12-byte nonce and
// the AES-256-GCM ciphertext of sealedMessage's JSON, Base64, with the
// email's id as additional data (a body moved to another row does not open).
const sealPrefix = "v1:"

// codeLike matches what could be a random value (26 characters of A-Z and
// 2-7, docs/rules.md); a subject to show has such words masked.
var codeLike = regexp.MustCompile(`\b[A-Z2-7]{26}\b`)

func sealAD(emailID int64) []byte {
	return []byte("dcv_email_bodies " + strconv.FormatInt(emailID, 10))
}

// seal returns the subject to show and the sealed body of a message.
func seal(aead cipher.AEAD, emailID int64, subject, text, html string) (shown, body string, err error) {
	plain, err := json.Marshal(sealedMessage{subject, text, html})
	if err != nil {
		return "", "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", "", fmt.Errorf("store: seal: %w", err)
	}
	out := aead.Seal(nonce, nonce, plain, sealAD(emailID))
	return codeLike.ReplaceAllString(subject, "[code]"), sealPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// unseal opens a sealed body.
func unseal(aead cipher.AEAD, emailID int64, body string) (sealedMessage, error) {
	var m sealedMessage
	if aead == nil {
		return m, ErrNoMessageKey
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(body, sealPrefix))
	if err != nil || !strings.HasPrefix(body, sealPrefix) || len(raw) < aead.NonceSize() {
		return m, fmt.Errorf("store: email %d: the sealed message is malformed", emailID)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], sealAD(emailID))
	if err != nil {
		return m, fmt.Errorf("store: email %d: the sealed message does not open under this message key", emailID)
	}
	return m, json.Unmarshal(plain, &m)
}

// sealBody is what CreateEmail and SeedOrders write for a message: sealed
// when the store has a key, else as it is.
func (q Reads) sealBody(emailID int64, subject, text, html string) (s, t, h string, sealed int, err error) {
	aead := q.seal.get()
	if aead == nil {
		return subject, text, html, 0, nil
	}
	shown, body, err := seal(aead, emailID, subject, text, html)
	return shown, body, "", 1, err
}

// openBody returns a stored message as it was rendered. A sealed one that
// cannot be opened is an error when must is set; otherwise it reads as the
// subject to show and no text.
func (q Reads) openBody(emailID int64, sealed bool, subject, text, html *string, must bool) error {
	if !sealed {
		return nil
	}
	m, err := unseal(q.seal.get(), emailID, *text)
	if err != nil {
		if must {
			return err
		}
		*text, *html = "", ""
		return nil
	}
	*subject, *text, *html = m.Subject, m.Text, m.HTML
	return nil
}

// keyCheck is the check value of a message key recorded in the database.
func keyCheck(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("dcvmail message key check v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// UseMessageKey reads the message key from file and makes the store seal
// new messages and open sealed ones with it. When the file does not exist
// and the database has no key recorded, create makes one: 32 random bytes,
// hex, in a file readable by its owner only; without create the store
// stays without a key (it reads clear messages and writes clear ones).
// It refuses a key that is not the one the database records, and a missing
// file when the database records one: the messages waiting in it could not
// be sent. It reports whether it created the file.
func (s *Store) UseMessageKey(ctx context.Context, file string, create bool) (created bool, err error) {
	recorded, err := s.Setting(ctx, MessageKeySetting)
	if err != nil {
		return false, err
	}
	key, err := readKeyFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist) && recorded != "":
		return false, fmt.Errorf("message key %s: no such file, but this database seals DCV messages under a key (check %.12s…): "+
			"copy the key file from a node that runs on this database, or name it with --message-key-file", file, recorded)
	case errors.Is(err, fs.ErrNotExist) && !create:
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		if key, err = createKeyFile(file); err != nil {
			return false, err
		}
		created = true
	case err != nil:
		return false, err
	case recorded == "" && !create:
		return false, nil // nothing is sealed yet; only a process that writes messages binds the database to a key
	}
	check := keyCheck(key)
	if recorded == "" {
		// Several nodes may start at once: the first check written wins.
		if recorded, err = s.direct().EnsureSetting(ctx, MessageKeySetting, check); err != nil {
			return created, err
		}
	}
	if !hmac.Equal([]byte(recorded), []byte(check)) {
		if created {
			os.Remove(file) // another node recorded its key first; ours was never used
		}
		return false, fmt.Errorf("message key %s is not the key this database seals DCV messages under (check %.12s…, the file's %.12s…): "+
			"every node must use the same key file", file, recorded, check)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return created, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return created, err
	}
	s.seal.aead.Store(&aead)
	return created, nil
}

// readKeyFile reads a key file: 64 hex digits (32 bytes), white space
// around them ignored.
func readKeyFile(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("message key %s: want 64 hex digits (32 bytes)", file)
	}
	return key, nil
}

// createKeyFile writes a new key to file, mode 0600; it never replaces an
// existing file. The key is written and synced under a temporary name and
// then linked to its name, so that nodes starting together on one shared
// file all read a whole key: the one that links first wins, the others read
// its key.
func createKeyFile(file string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".message.key-*")
	if err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("message key %s: %w", file, err)
	}
	if err := os.Link(tmp.Name(), file); errors.Is(err, fs.ErrExist) {
		return readKeyFile(file) // another process made it a moment ago
	} else if err != nil {
		return nil, fmt.Errorf("message key: %w", err)
	}
	return key, nil
}

// SealClearBodies seals the clear messages of emails that are still live at
// now (written before migration 10, or by a process without the key), in
// batches, and returns how many it sealed. On SQLite it overwrites the
// clear text it replaces (secure_delete) and empties the WAL afterwards, so
// that the file keeps no copy; on PostgreSQL the old row versions stay in
// the table's pages until VACUUM reuses them (SECURITY.md).
func (s *Store) SealClearBodies(ctx context.Context, now time.Time) (int, error) {
	aead := s.seal.get()
	if aead == nil {
		return 0, ErrNoMessageKey
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if s.d == sqliteDialect {
		if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return 0, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`)
	}
	total := 0
	for {
		n, err := sealBatch(ctx, conn, aead, now)
		total += n
		if err != nil || n == 0 {
			if err == nil && total > 0 && s.d == sqliteDialect {
				_, err = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
			}
			return total, err
		}
	}
}

// sealBatch seals up to 200 clear messages of live emails in one
// transaction.
func sealBatch(ctx context.Context, conn *sql.Conn, aead cipher.AEAD, now time.Time) (int, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx,
		`SELECT b.email_id, b.subject, b.text_body, b.html_body FROM dcv_email_bodies b JOIN dcv_emails e ON e.id = b.email_id
		 WHERE b.sealed = 0 AND e.expires_ms > $1 ORDER BY b.email_id LIMIT 200`, ms(now))
	if err != nil {
		return 0, err
	}
	type clear struct {
		id         int64
		s, t, html string
	}
	var batch []clear
	for rows.Next() {
		var c clear
		if err := rows.Scan(&c.id, &c.s, &c.t, &c.html); err != nil {
			rows.Close()
			return 0, err
		}
		batch = append(batch, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(batch) == 0 {
		return 0, err
	}
	for _, c := range batch {
		shown, body, err := seal(aead, c.id, c.s, c.t, c.html)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE dcv_email_bodies SET subject = $2, text_body = $3, html_body = '', sealed = 1 WHERE email_id = $1 AND sealed = 0`,
			c.id, shown, body); err != nil {
			return 0, err
		}
	}
	return len(batch), tx.Commit()
}
