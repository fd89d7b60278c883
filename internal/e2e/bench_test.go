package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/sps"
)

// fillOutbox adds n more deliveries of the seeded orders' emails to the
// outbox, as n identical resends would.
func fillOutbox(t testing.TB, data string, orders []int64, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(data, "dcvmail.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var emails []model.Delivery
	for _, o := range orders {
		ds, err := st.DeliveriesOfOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		emails = append(emails, ds[0])
	}
	err = st.Tx(ctx, func(tx model.Tx) error {
		for i := range n {
			e := emails[i%len(emails)]
			if _, err := tx.Enqueue(ctx, e.EmailID, e.Recipient, fmt.Sprintf("bench%d@dcvmail.test", i), time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Throughput from the outbox to Mailpit: N deliveries already queued when
// dcvmail starts; messages per second from the first to the last arrival.
//
//	go test ./internal/e2e -run "^$" -bench MailpitThroughput -benchtime 1x -v
func benchThroughput(t testing.TB) {
	n := 10000
	if s := os.Getenv("DCVMAIL_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	conns := os.Getenv("DCVMAIL_BENCH_CONNECTIONS")
	if conns == "" {
		conns = "4"
	}
	mp := startMailpit(t, strings.Fields(os.Getenv("DCVMAIL_BENCH_MAILPIT_ARGS"))...)
	data := t.TempDir()
	orders := seed(t, data, "alice", "pw-alice", 100)
	fillOutbox(t, data, orders, n)
	total := n + len(orders)
	start := time.Now()
	mpCPU0 := cpuTime(mp.cmd.Process.Pid)
	d := startDcvmail(t, data, "--smtp", "smtp://"+mp.SMTPAddr+"?tls=none", "--smtp-connections", conns)
	mp.waitTotal(t, total, 5*time.Minute)
	wall := time.Since(start)
	dCPU, mpCPU := cpuTime(d.cmd.Process.Pid), cpuTime(mp.cmd.Process.Pid)-mpCPU0
	msgs := mp.messages(t)
	first, last := msgs[len(msgs)-1].Created, msgs[0].Created
	span := last.Sub(first)
	rate := float64(total-1) / span.Seconds()
	t.Logf("%d messages over %s connections: first to last arrival %v = %.0f msg/s (wall time from start %v)", total, conns, span, rate, wall)
	fmt.Printf("BENCH throughput: messages=%d connections=%s span=%v rate=%.0f msg/s cpu: dcvmail=%v mailpit=%v (%d CPUs)\n",
		total, conns, span.Round(time.Millisecond), rate, dCPU, mpCPU, runtime.NumCPU())
}

// cpuTime is the user+system CPU time a process has used so far (Linux;
// 0 elsewhere).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// Latency from the errorCode=0 answer to the message in Mailpit (its
// receive time), at a steady 100 resends per second.
//
//	go test ./internal/e2e -run "^$" -bench MailpitLatency -benchtime 1x -v
func benchLatency(t testing.TB) {
	const rate, seconds = 100, 20
	mp := startMailpit(t, strings.Fields(os.Getenv("DCVMAIL_BENCH_MAILPIT_ARGS"))...)
	data := t.TempDir()
	// Ten accounts, so that no per-account request limit shapes the run.
	type call struct {
		login string
		order int64
	}
	var calls []call
	for a := range 10 {
		login := fmt.Sprintf("acct%d", a)
		for _, o := range seed(t, data, login, "pw-"+login, rate*seconds/10) {
			calls = append(calls, call{login, o})
		}
	}
	orders := calls
	d := startDcvmail(t, data, "--smtp", "smtp://"+mp.SMTPAddr+"?tls=none")
	mp.waitTotal(t, len(orders), 2*time.Minute)
	req, _ := http.NewRequest(http.MethodDelete, mp.API+"/api/v1/messages", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("emptying Mailpit: %v %v", resp, err)
	}
	// Warm the password cache and the connections.
	for a := range 10 {
		login := fmt.Sprintf("acct%d", a)
		c := calls[a*len(calls)/10]
		if err := d.resend(context.Background(), login, "pw-"+login, sps.ResendDCVEmailRequest{OrderNumber: c.order}); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	mp.waitTotal(t, 10, 10*time.Second)
	time.Sleep(time.Second)

	answered := make(map[int64]time.Time, len(orders))
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	begin := time.Now()
	for _, c := range calls {
		<-tick.C
		wg.Go(func() {
			err := d.resend(context.Background(), c.login, "pw-"+c.login, sps.ResendDCVEmailRequest{OrderNumber: c.order})
			at := time.Now()
			if err != nil {
				t.Errorf("order %d: %v", c.order, err)
				return
			}
			mu.Lock()
			answered[c.order] = at
			mu.Unlock()
		})
	}
	wg.Wait()
	sent := time.Since(begin)
	mp.waitTotal(t, len(calls)+10, time.Minute)
	var lat []time.Duration
	for _, m := range mp.messages(t) {
		match := orderRE.FindStringSubmatch(m.Subject)
		if match == nil {
			continue
		}
		o, _ := strconv.ParseInt(match[1], 10, 64)
		if at, ok := answered[o]; ok && m.Created.After(begin) {
			// Mailpit keeps receive times in milliseconds.
			lat = append(lat, max(m.Created.Sub(at), 0))
		}
	}
	if len(lat) != len(calls) {
		t.Fatalf("%d latencies for %d resends", len(lat), len(calls))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	t.Logf("%d resends in %v (%.0f/s): errorCode=0 to Mailpit p50 %v, p90 %v, p99 %v, max %v",
		len(lat), sent.Round(time.Millisecond), float64(len(lat))/sent.Seconds(), p(0.5), p(0.9), p(0.99), lat[len(lat)-1])
	fmt.Printf("BENCH latency: resends=%d rate=%d/s p50=%v p90=%v p99=%v max=%v\n", len(lat), rate, p(0.5), p(0.9), p(0.99), lat[len(lat)-1])
}

// composeOnly is a sender that composes each message, as the SMTP sender
// does, and sends it nowhere.
type composeOnly struct{}

func (composeOnly) Send(_ context.Context, _ model.Delivery, m mail.Message) (string, error) {
	if _, err := m.Bytes(); err != nil {
		return "", err
	}
	return "250 composed", nil
}

// dcvmail's own ceiling: the outbox worker, on a SQLite database on disk,
// claiming, composing and recording, with a sender that sends nowhere.
//
//	go test ./internal/e2e -run "^$" -bench MailpitOutboxOnly -benchtime 1x -v
func benchOutboxOnly(t testing.TB) {
	const n = 10000
	data := t.TempDir()
	orders := seed(t, data, "alice", "pw-alice", 100)
	fillOutbox(t, data, orders, n)
	app, err := server.Open(context.Background(), server.AppOptions{
		DatabaseURL: store.SQLiteURL(filepath.Join(data, "dcvmail.db")),
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	w := &delivery.Worker{Store: app.Store, Sender: composeOnly{}, From: "dcv@dcvmail.test", Owner: "bench", Parallel: 4}
	start := time.Now()
	total := 0
	for {
		k, err := w.DeliverDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if total += k; k == 0 {
			break
		}
	}
	d := time.Since(start)
	fmt.Printf("BENCH outbox only: messages=%d time=%v rate=%.0f msg/s\n", total, d.Round(time.Millisecond), float64(total)/d.Seconds())
}

// Mailpit's own ceiling: the SMTP sender alone, no database, 4
// connections.
//
//	go test ./internal/e2e -run "^$" -bench MailpitIntake -benchtime 1x -v
func benchMailpitIntake(t testing.TB) {
	mp := startMailpit(t, strings.Fields(os.Getenv("DCVMAIL_BENCH_MAILPIT_ARGS"))...)
	s, err := delivery.NewSMTP(delivery.SMTPConfig{URL: "smtp://" + mp.SMTPAddr + "?tls=none", Connections: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _ := mail.Default.Render(mail.SampleFields)
	const n = 5000
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Go(func() {
			for i := range jobs {
				m := mail.Message{From: "dcv@dcvmail.test", To: "admin@example.com", MessageID: fmt.Sprintf("in%d@dcvmail.test", i), Date: time.Now(), Rendered: r}
				if _, err := s.Send(context.Background(), model.Delivery{}, m); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("BENCH Mailpit intake: messages=%d connections=4 time=%v rate=%.0f msg/s\n", n, d.Round(time.Millisecond), n/d.Seconds())
}

func BenchmarkMailpitThroughput(b *testing.B) {
	b.ReportAllocs()
	benchThroughput(b)
}

func BenchmarkMailpitLatency(b *testing.B) {
	b.ReportAllocs()
	benchLatency(b)
}

func BenchmarkMailpitOutboxOnly(b *testing.B) {
	b.ReportAllocs()
	benchOutboxOnly(b)
}

func BenchmarkMailpitIntake(b *testing.B) {
	b.ReportAllocs()
	benchMailpitIntake(b)
}
