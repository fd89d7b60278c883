package mail_test

import (
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/mail"
)

// Benchmarks of what the outbox does per message and what a new DCV email
// costs to render:
//
//	go test -run '^$' -bench . -benchmem ./internal/mail

func BenchmarkRenderDefault(b *testing.B) {
	for b.Loop() {
		if _, err := mail.Default.Render(mail.SampleFields); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageBytes(b *testing.B) {
	r, err := mail.Default.Render(mail.SampleFields)
	if err != nil {
		b.Fatal(err)
	}
	m := mail.Message{
		From:      "dcv@dcvmail.example",
		To:        "admin@example.com",
		MessageID: "0123456789abcdef0123456789abcdef@dcvmail.example",
		Date:      time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Rendered:  r,
	}
	var n int
	for b.Loop() {
		raw, err := m.Bytes()
		if err != nil {
			b.Fatal(err)
		}
		n = len(raw)
	}
	b.SetBytes(int64(n))
}
