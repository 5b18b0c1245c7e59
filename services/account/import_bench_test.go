package account

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/slots"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// importFile generates n accounts as an adopting application would export
// them: every supported hash format and accounts without one, locales and
// times on some lines.
func importFile(tb testing.TB, n int) []byte {
	tb.Helper()
	h, err := hash.New(config.Password{Argon2: testParams}, slots.New(1, time.Second, nil), nil)
	if err != nil {
		tb.Fatal(err)
	}
	argon, err := h.Hash(context.Background(), pwA)
	if err != nil {
		tb.Fatal(err)
	}
	hashes := []string{legacyBcrypt, legacyBcrypt, argon, legacyDjango, ""}
	locales := []string{"", "de", "fr-CA", "es", "en"}
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, `{"id":"acme:%d","email":"user%d@example.org"`, i, i)
		if h := hashes[i%len(hashes)]; h != "" {
			fmt.Fprintf(&buf, `,"password_hash":%q`, h)
		}
		if l := locales[i%len(locales)]; l != "" {
			fmt.Fprintf(&buf, `,"locale":%q`, l)
		}
		if i%3 == 0 {
			buf.WriteString(`,"password_changed_at":"2025-01-02T03:04:05Z"`)
		}
		buf.WriteString("}\n")
	}
	return buf.Bytes()
}

// benchPasswords is Passwords over db with what Import needs: the store and
// the queue (for events).
func benchPasswords(b *testing.B, db *store.DB) *Passwords {
	b.Helper()
	log := slog.New(slog.DiscardHandler)
	q, err := queue.New(config.DefaultMail(), queue.Deps{DB: db, Composer: mustMails(b, db, config.DefaultMail(), time.Now),
		Log: log, Now: time.Now}, queue.DefaultTuning(true))
	if err != nil {
		b.Fatal(err)
	}
	p := New(testReset, Deps{DB: db, Queue: q, Log: log, Now: func() time.Time { return time.Now().UTC() }})
	b.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// BenchmarkImport imports a generated file of 100,000 accounts into an
// empty PostgreSQL database and reports lines per second ("new"); then the
// same file again, every line unchanged, as a re-run after an interruption
// reads it ("again"). The target is at least 10,000 lines/s.
//
//	go test -run '^$' -bench Import -benchtime 1x ./services/account
func BenchmarkImport(b *testing.B) {
	const n = 100_000
	file := importFile(b, n)
	run := func(b *testing.B, p *Passwords, want models.ImportSummary) time.Duration {
		start := time.Now()
		sum, err := p.Import(context.Background(), bytes.NewReader(file), ImportOptions{})
		d := time.Since(start)
		if err != nil || sum != want {
			b.Fatalf("got %+v, %v; want %+v", sum, err, want)
		}
		return d
	}
	for _, again := range []bool{false, true} {
		name, want := "new", models.ImportSummary{Imported: n}
		if again {
			name, want = "again", models.ImportSummary{Unchanged: n}
		}
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			// Each iteration needs a database of its own, made outside the
			// measured time, so b.Loop (which times the whole body) does not fit.
			for range b.N {
				b.StopTimer()
				db := storetest.Postgres(b)
				p := benchPasswords(b, db)
				if again {
					run(b, p, models.ImportSummary{Imported: n})
				}
				b.StartTimer()
				total += run(b, p, want)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "lines/s")
		})
	}
}
