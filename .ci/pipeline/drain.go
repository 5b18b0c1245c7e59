package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/config"
)

// backlog queues n reset requests for addrs through the service's own
// RequestReset, in-process, with no worker running: the same jobs the API
// would queue, from distinct client addresses so no limit stands in the way.
func backlog(ctx context.Context, dbURL string, addrs []string) error {
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.Auth.JWTSecret = jwtSecret
	cfg.Mail.Provider, cfg.Mail.SendGrid.APIKey = config.ProviderSendGrid, fakeKey
	cfg.Reset.URL = "https://app.example.org/password-reset"
	a, err := services.Open(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), services.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < len(addrs); i += 32 {
				c := models.Client{IP: sourceIP(i).String(), RequestID: fmt.Sprint("backlog-", i)}
				if err := a.Passwords.RequestReset(ctx, c, addrs[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// jobStates counts River's reset jobs by state.
func jobStates(ctx context.Context, db *sql.DB) (map[string]int, error) {
	return countStates(ctx, db, `SELECT state, count(*) FROM river_job WHERE kind = 'reset_email' GROUP BY state`)
}

// countStates runs query, which returns (state, count) rows, into a map.
func countStates(ctx context.Context, db *sql.DB, query string) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// drainOnce queues the backlog, starts serve, and times the drain until
// every job is completed: jobs/s from serve's start and from the first
// completion, emails/s as the provider saw them.
func drainOnce(ctx context.Context, o options, knownAccounts bool, delay time.Duration) (map[string]any, error) {
	f, err := newFixture(ctx, o, delay)
	if err != nil {
		return nil, err
	}
	defer f.close()
	db, p, env := f.db, f.p, f.env
	addrs := addresses("drain", o.backlog)
	if knownAccounts {
		if err := seed(ctx, db.url, addrs); err != nil {
			return nil, err
		}
	}
	if err := backlog(ctx, db.url, addrs); err != nil {
		return nil, fmt.Errorf("backlog: %w", err)
	}
	sdb, err := sql.Open("pgx", db.url)
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	s, err := startServe(ctx, o.bin, o.dir, env)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	var firstDone, lastDone time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st, err := jobStates(ctx, sdb)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if st["completed"] > 0 && firstDone.IsZero() {
			firstDone = now
		}
		if st["completed"] >= o.backlog {
			lastDone = now
			break
		}
		if st["cancelled"]+st["discarded"] > 0 {
			return nil, fmt.Errorf("jobs failed: %v (see %s)", st, s.log)
		}
		if now.After(deadline) {
			return nil, fmt.Errorf("not drained in 10 minutes: %v", st)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling the queue's state
		}
	}
	out := map[string]any{
		"jobs":              o.backlog,
		"jobs_per_s":        round(float64(o.backlog)/lastDone.Sub(s.started).Seconds(), 0),
		"jobs_per_s_steady": round(float64(o.backlog)/lastDone.Sub(firstDone).Seconds(), 0),
		"seconds":           round(lastDone.Sub(s.started).Seconds(), 2),
	}
	if knownAccounts {
		n, first, last := p.snapshot()
		out["emails"] = n
		out["emails_per_s"] = round(float64(n)/last.Sub(first).Seconds(), 0)
	}
	s.stop()
	out["log"] = logCounts(s.log)
	return out, nil
}

func drainMode(ctx context.Context, o options, _ int) (any, error) {
	res := map[string]any{}
	for _, c := range []struct {
		name  string
		known bool
		delay time.Duration
	}{{"unknown_addresses", false, 0}, {"provider_at_once", true, 0}, {"provider_100ms", true, 100 * time.Millisecond}} {
		progress("drain: %s", c.name)
		r, err := drainOnce(ctx, o, c.known, c.delay)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		res[c.name] = r
	}
	return res, nil
}

// keepLog copies a serve log next to the binary when -keep is set.
func keepLog(o options, path, name string) {
	if o.keep {
		b, _ := os.ReadFile(path)
		_ = os.WriteFile(filepath.Join(o.dir, name), b, 0o600)
	}
}
