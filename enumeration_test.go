package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accountpw/accountpw/handlers"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/config"
)

// BenchmarkEnumerationTiming interleaves {"email"} requests for known and
// unknown addresses, in random order, while the queue works against a mail
// provider that is slow (200 ms) and then failing, and reports the median
// server time of each group. The two must not differ: the request path never
// looks the account up and never waits for mail.
func BenchmarkEnumerationTiming(b *testing.B) {
	var calls atomic.Int64
	sg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError) // failing
			return
		}
		time.Sleep(200 * time.Millisecond) // slow
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sg.Close()

	cfg := config.Default()
	cfg.Database.URL = mustPostgresURL(b)
	cfg.Auth.JWTSecret = "bench-secret-0123456789abcdefghijklmno"
	cfg.Mail.Provider, cfg.Mail.SendGrid.APIKey, cfg.Mail.SendGrid.BaseURL = "sendgrid", "SG.k", sg.URL
	cfg.Password.Memory, cfg.Password.Time, cfg.Password.Threads = 19456, 2, 1
	raiseClientLimits(&cfg)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if err := a.Queue.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.Queue.Stop(context.Background()) }()
	h := handlers.New(a.Passwords, handlers.Options{Logger: log})

	// Every known and unknown address is asked for once, so both groups are
	// within quota and differ only in whether an account exists; a third
	// group asks for one address over and over (over quota).
	db, err := sql.Open("pgx", cfg.Database.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range b.N {
		addr := fmt.Sprintf("known%06d@example.org", i)
		if _, err := db.Exec(`INSERT INTO users (id, email, email_key, password_hash, password_changed_at, created_at, updated_at)
			VALUES ($1, $1, $1, 'x', now(), now(), now())`, addr); err != nil {
			b.Fatal(err)
		}
	}
	var known, unknown, over []float64
	one := func(addr string) float64 {
		req := httptest.NewRequest(http.MethodPut, "/api/v1/account/password", strings.NewReader(`{"email":"`+addr+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.20:1234"
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := float64(time.Since(start).Microseconds()) / 1000
		if rec.Code != http.StatusAccepted {
			b.Fatalf("%s: got %d", addr, rec.Code)
		}
		return d
	}
	for i := range 50 { // warm-up
		one(fmt.Sprintf("warm%d@example.org", i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch rand.N(3) {
		case 0:
			known = append(known, one(fmt.Sprintf("known%06d@example.org", i)))
		case 1:
			unknown = append(unknown, one(fmt.Sprintf("nobody%06d@example.org", i)))
		default:
			over = append(over, one("over.quota@example.org"))
		}
	}
	b.StopTimer()
	mk, mu := median(known), median(unknown)
	b.ReportMetric(mk, "known-median-ms")
	b.ReportMetric(mu, "unknown-median-ms")
	b.ReportMetric(mk-mu, "diff-ms")
	b.ReportMetric(median(over), "over-quota-median-ms")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// raiseClientLimits lifts the per-client limits so one benchmark client can
// send thousands of requests; the per-address quota stays as configured, so
// over-quota answers are part of the measurement.
func raiseClientLimits(c *config.Config) {
	c.Limits.ClientPerMinute, c.Limits.ResetIPPerMinute, c.Limits.ResetIPPerHour = 1<<30, 1<<30, 1<<30
}
