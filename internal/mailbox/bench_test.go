package mailbox_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// BenchmarkList measures one page of 50 summaries (each parsed from its
// source) and a search, over a mailbox of 500 DCV emails, through HTTP.
func BenchmarkList(b *testing.B) {
	e := dcvtest.Start(b, dcvtest.Options{AdminListen: true})
	e.AddAccount("alice", "pw-alice", false)
	for i := range 500 {
		d := fmt.Sprintf("d%d.example.com", i)
		e.AddOrder("alice", []string{d}, 0, "admin@"+d)
	}
	e.Drain()
	admin := e.Server.AdminURL()
	for _, path := range []string{"/api/v1/messages?limit=50", "/api/v1/search?query=to:admin@d42.example.com", "/"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(admin + path)
				if err != nil || resp.StatusCode != 200 {
					b.Fatal(err, resp.StatusCode)
				}
				resp.Body.Close()
			}
		})
	}
}
