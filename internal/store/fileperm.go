package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// privateFiles makes the SQLite file of a sqlite:// URL, and its -wal and
// -shm files, readable by their owner only, whatever the umask: the
// database holds password hashes, HMAC keys and, with the built-in
// mailbox, codes. A missing database is created empty with mode 0600
// before SQLite opens it, so that the WAL and shared-memory files, which
// SQLite creates with the database's mode, are 0600 from their first byte;
// existing ones are narrowed to 0600.
func privateFiles(dbURL string) error {
	path, ok := strings.CutPrefix(dbURL, "sqlite://")
	if !ok || path == "" || strings.HasPrefix(path, ":memory:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: make %s private: %w", p, err)
		}
	}
	return nil
}
