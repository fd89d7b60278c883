// Package pgcluster starts a throwaway PostgreSQL cluster: initdb into a
// fresh temporary directory named "dcvmail-pgtest-*", a postmaster on a
// free port of 127.0.0.1 only, trust authentication. Package pgtest gives
// tests databases on one; `dcvmail bench` measures on one.
//
// initdb and postgres refuse to run as root. When this process is root,
// they are run as the "postgres" OS user (which must exist), and the
// temporary directory is handed to that user.
//
// If this process dies without calling Stop, the kernel sends the
// postmaster SIGQUIT, which makes it shut down immediately (Linux
// parent-death signal). Its directory is left behind; the next Start
// removes leftover directories whose owning process is gone.
package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// debianBinDir is where Debian and Ubuntu install the PostgreSQL 15
	// server programs (package postgresql-15).
	debianBinDir = "/usr/lib/postgresql/15/bin"

	dirPrefix     = "dcvmail-pgtest-" // temporary cluster directories
	ownerFile     = "owner.pid"       // pid of the process that started the cluster in a directory
	logName       = "postgres.log"
	superuser     = "postgres" // database superuser created by initdb
	runAsUser     = "postgres" // OS user for initdb/postgres when we are root
	startAttempts = 5          // ports tried before giving up

	initdbTimeout = 2 * time.Minute
	startTimeout  = time.Minute
	stopTimeout   = 15 * time.Second
	opTimeout     = time.Minute // the first query
)

// EnvBin names the directory holding initdb and postgres. Without it the
// Debian location of PostgreSQL 15 is tried, then `pg_config --bindir`,
// then PATH.
const EnvBin = "DCVMAIL_PG_BIN"

// Options say how to start a cluster.
type Options struct {
	// Durable keeps PostgreSQL's durable defaults (fsync and
	// synchronous_commit on: every commit is flushed). Without it they are
	// off, for speed.
	Durable bool
}

// osUser is the OS user that runs initdb and postgres; nil means ourselves.
type osUser struct {
	name     string
	uid, gid uint32
}

// Cluster is a running throwaway cluster.
type Cluster struct {
	dir     string // temporary directory holding everything below
	data    string // data directory
	log     string // server log
	binDir  string
	runAs   *osUser
	port    int
	proc    *proc
	info    string // for Info
	durable bool
}

// Info describes how the cluster came up, for logging.
func (c *Cluster) Info() string { return c.info }

// Check tells whether Start could start a cluster here, without starting
// one: the server programs are found and may be run.
func Check() error {
	if !supported {
		return fmt.Errorf("starting PostgreSQL is not supported on %s", runtime.GOOS)
	}
	if _, err := findBinDir(); err != nil {
		return err
	}
	_, err := pickUser()
	return err
}

// Start creates and starts a new cluster. The error says why it
// could not, with the tail of the server log when there is one.
func Start(o Options) (_ *Cluster, err error) {
	if !supported {
		return nil, fmt.Errorf("starting PostgreSQL is not supported on %s", runtime.GOOS)
	}
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	runAs, err := pickUser()
	if err != nil {
		return nil, err
	}
	removeStale()

	c := &Cluster{binDir: binDir, runAs: runAs, durable: o.Durable}
	c.dir, err = os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(c.dir)
		}
	}()
	c.data = filepath.Join(c.dir, "data")
	c.log = filepath.Join(c.dir, logName)
	if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	if runAs != nil {
		if err := os.Chown(c.dir, int(runAs.uid), int(runAs.gid)); err != nil {
			return nil, fmt.Errorf("hand %s to user %s: %w", c.dir, runAs.name, err)
		}
	}

	t0 := time.Now()
	if err := c.initdb(); err != nil {
		return nil, err
	}
	tInit := time.Since(t0)

	t1 := time.Now()
	if err := c.start(); err != nil {
		return nil, err
	}
	tStart := time.Since(t1)

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := Exec(ctx, c.AdminURL(), "SELECT 1"); err != nil {
		c.stopProc()
		return nil, fmt.Errorf("started PostgreSQL but cannot use it: %w%s", err, c.logTail())
	}

	who := "current user"
	if runAs != nil {
		who = "user " + runAs.name
	}
	c.info = fmt.Sprintf("%s from %s as %s on 127.0.0.1:%d in %s: initdb %s, start %s",
		c.version(), binDir, who, c.port, c.dir, tInit.Round(time.Millisecond), tStart.Round(time.Millisecond))
	return c, nil
}

// AdminURL is the superuser's URL of the database "postgres", which may
// CREATE DATABASE.
func (c *Cluster) AdminURL() *url.URL {
	return &url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
}

// findBinDir finds the directory holding initdb and postgres.
func findBinDir() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if err := hasServer(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBin, dir, err)
		}
		return dir, nil
	}
	if hasServer(debianBinDir) == nil {
		return debianBinDir, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServer(dir) == nil {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(p); hasServer(dir) == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server programs (initdb, postgres) not found in %s, `pg_config --bindir` or PATH "+
		"(install postgresql-15, or set %s to their directory)", debianBinDir, EnvBin)
}

func hasServer(dir string) error {
	for _, prog := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, prog))
		if err != nil {
			return fmt.Errorf("no %s there", prog)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s there is not executable", prog)
		}
	}
	return nil
}

// pickUser returns the OS user to run the server as: nil (ourselves) unless
// we are root, which initdb and postgres refuse.
func pickUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(runAsUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb and postgres refuse, and there is no %q OS user to run them as "+
			"(create one, e.g. `useradd --system %s`, or run the tests as a non-root user): %w", runAsUser, runAsUser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s: unexpected uid %q / gid %q", runAsUser, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s has uid 0; initdb and postgres refuse to run as root", runAsUser)
	}
	return &osUser{name: runAsUser, uid: uint32(uid), gid: uint32(gid)}, nil
}

// command prepares one of the server programs, run as c.runAs in c.dir.
func (c *Cluster) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if ctx != nil {
		cmd = exec.CommandContext(ctx, filepath.Join(c.binDir, prog), args...)
	} else {
		cmd = exec.Command(filepath.Join(c.binDir, prog), args...)
	}
	cmd.Dir = c.dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = sysProcAttr(c.runAs, ctx == nil)
	return cmd
}

// serverEnv is our environment without libpq/server variables (PGDATA,
// PGPORT, ...) that could redirect the programs.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

func (c *Cluster) initdb() error {
	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	cmd := c.command(ctx, "initdb",
		"--pgdata", c.data,
		"--username", superuser,
		"--auth", "trust",
		"--encoding", "UTF8",
		"--no-locale",
		"--no-sync",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if c.runAs != nil {
			hint = fmt.Sprintf(" (initdb runs as user %s, which must be able to reach %s)", c.runAs.name, c.dir)
		}
		return fmt.Errorf("initdb failed: %w%s\n%s", err, hint, tail(out, 20))
	}

	socketDir := c.dir
	if len(socketDir) > 90 { // Unix socket paths are limited to ~107 bytes
		socketDir = "" // TCP only
	}
	durability := "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	if c.durable {
		durability = "" // the server's defaults: every commit is flushed
	}
	conf := fmt.Sprintf(`
# dcvmail: throwaway cluster (internal/pgcluster).
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 200
logging_collector = off
%s`, strings.ReplaceAll(socketDir, "'", "''"), durability)
	if err := appendFile(filepath.Join(c.data, "postgresql.conf"), conf); err != nil {
		return err
	}
	// Trust, but only on the Unix socket (in our private directory) and
	// 127.0.0.1. The file exists (owned by the server user); overwriting
	// keeps its owner.
	hba := "# dcvmail\nlocal all all trust\nhost all all 127.0.0.1/32 trust\n"
	return os.WriteFile(filepath.Join(c.data, "pg_hba.conf"), []byte(hba), 0o600)
}

func appendFile(name, s string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// start starts the postmaster on a free port, retrying with another port if
// someone else took the one we picked.
func (c *Cluster) start() error {
	logf, err := os.OpenFile(c.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		c.port = port
		var logStart int64
		if fi, err := logf.Stat(); err == nil {
			logStart = fi.Size()
		}

		cmd := c.command(nil, "postgres", "-D", c.data, "-p", strconv.Itoa(port))
		cmd.Stdout = logf
		cmd.Stderr = logf
		p, err := startProc(cmd)
		if err != nil {
			return fmt.Errorf("start postgres: %w", err)
		}
		c.proc = p
		err = c.waitReady()
		if err == nil {
			return nil
		}
		c.stopProc()
		if attempt < startAttempts && c.portTaken(logStart) {
			continue
		}
		return fmt.Errorf("%w%s", err, c.logTail())
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portTaken tells whether the log written since offset reports that the
// port was in use.
func (c *Cluster) portTaken(offset int64) bool {
	b, err := os.ReadFile(c.log)
	if err != nil || int64(len(b)) < offset {
		return false
	}
	return bytes.Contains(b[offset:], []byte("could not bind")) ||
		bytes.Contains(b[offset:], []byte("already in use"))
}

// waitReady waits until the postmaster reports "ready" in postmaster.pid,
// as pg_ctl -w does. (Connecting would not do: if our postmaster failed to
// bind, we could reach whoever holds the port.)
func (c *Cluster) waitReady() error {
	want := strconv.Itoa(c.proc.cmd.Process.Pid)
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.proc.done:
			return fmt.Errorf("postgres exited during startup: %v", c.proc.err)
		case <-deadline.C:
			return fmt.Errorf("postgres not ready after %s", startTimeout)
		case <-tick.C:
		}
		b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) >= 8 && lines[0] == want && strings.TrimSpace(lines[7]) == "ready" {
			return nil
		}
	}
}

// Stop shuts the server down and removes the cluster directory.
func (c *Cluster) Stop() error {
	c.stopProc()
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove %s: %w", c.dir, err)
	}
	return nil
}

// stopProc stops the postmaster with an immediate shutdown (SIGQUIT; the
// data is thrown away anyway), killing it if it does not go in time.
func (c *Cluster) stopProc() {
	p := c.proc
	if p == nil {
		return
	}
	c.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		fmt.Fprintf(os.Stderr, "pgcluster: postgres (pid %d) did not exit\n", p.cmd.Process.Pid)
	}
}

// proc is a running postmaster.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // from Wait; read after done is closed
}

// startProc starts cmd from an OS thread that stays alive until cmd exits:
// the parent-death signal (see sysProcAttr) fires when the thread that
// started the child ends, not the process, and Go may end threads.
func startProc(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine ends, its thread ends with it.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (c *Cluster) version() string {
	out, err := exec.Command(filepath.Join(c.binDir, "postgres"), "--version").Output()
	if err != nil {
		return "PostgreSQL"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "postgres (PostgreSQL) ") // "15.x (Debian ...)"
}

// logTail returns the end of the server log, formatted for an error message.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	return "\nserver log (tail):\n" + tail(b, 20)
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// removeStale removes cluster directories left behind by processes
// that are gone (killed before they could call Stop). Their postmasters have
// already shut down on the parent-death signal; a directory whose postmaster
// still runs is left alone.
func removeStale() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if owner, ok := readPid(filepath.Join(dir, ownerFile)); !ok || processAlive(owner) {
			continue // not ours to judge, or still in use
		}
		if pm, ok := readPid(filepath.Join(dir, "data", "postmaster.pid")); ok && processAlive(pm) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// readPid reads the number on the first line of a pid file.
func readPid(name string) (int, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// Exec runs one statement on a fresh connection to u.
func Exec(ctx context.Context, u *url.URL, sql string) error {
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
