package store_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// syncBuffer is a bytes.Buffer safe for concurrent loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoValuesInLogs is the canary test of SQL logging: every statement that
// binds a secret or an address (an address and its key, a token hash, a
// password hash, a counter bucket naming an IP) fails, because its context
// was cancelled, because the database raised an error inside it, or, on
// PostgreSQL, it is slow; the log at debug level, where each of these is
// reported, holds none of the values, and neither do the errors.
func TestNoValuesInLogs(t *testing.T) {
	const (
		address = "canary-addr@example.org"
		key     = "canary-key@example.org"
		token   = "canary-token-hash-0f1e2d3c"
		oldHash = "$argon2id$canary-old-hash"
		newHash = "$argon2id$canary-new-hash"
		bucket  = "reset_ip/60:198.51.100.77"
	)
	eachReopenable(t, func(t *testing.T, postgres bool, open func(*slog.Logger) *store.DB) {
		var logs syncBuffer
		db := open(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err := db.Migrate(ctx); err != nil { // the database is empty
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		u := models.User{ID: "canary-user", Email: address, EmailKey: key, PasswordHash: oldHash,
			PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		statements := map[string]func(ctx context.Context) error{
			"create user": func(ctx context.Context) error {
				v := u
				v.ID, v.EmailKey = "canary-user-2", key+"2"
				return db.CreateUser(ctx, v)
			},
			"user by key":  func(ctx context.Context) error { _, err := db.UserByEmailKey(ctx, key); return err },
			"set password": func(ctx context.Context) error { return db.SetPassword(ctx, u.ID, oldHash, newHash, now) },
			"issue token": func(ctx context.Context) error {
				_, err := db.IssueToken(ctx, key, token, now.Add(time.Hour), now)
				return err
			},
			"live token": func(ctx context.Context) error { _, _, err := db.LiveToken(ctx, token, now); return err },
			"count hits": func(ctx context.Context) error {
				_, err := db.CountHits(ctx, []store.Hit{{Bucket: bucket, Start: now.Unix(), End: now.Unix() + 60, N: 1}})
				return err
			},
			"uncount hits": func(ctx context.Context) error {
				return db.UncountHits(ctx, []store.Hit{{Bucket: bucket, Start: now.Unix(), N: 1}})
			},
		}
		var errs []error
		run := func(ctx context.Context) {
			for name, f := range statements {
				if err := f(ctx); err != nil {
					errs = append(errs, err)
				} else if name != "uncount hits" && name != "user by key" {
					t.Errorf("%s did not fail", name)
				}
			}
		}
		// A cancelled context: the client went away.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		run(cancelled)
		// The database refuses every write and fails every read of users.
		fail := []string{
			`CREATE TRIGGER fail_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`CREATE TRIGGER fail_users_update BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`CREATE TRIGGER fail_tokens BEFORE INSERT ON reset_tokens BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`CREATE TRIGGER fail_counters BEFORE INSERT ON rate_limit_counters BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
		}
		if postgres {
			fail = []string{`CREATE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
				`CREATE TRIGGER fail_users BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION fail_now()`,
				`CREATE TRIGGER fail_tokens BEFORE INSERT ON reset_tokens FOR EACH ROW EXECUTE FUNCTION fail_now()`,
				`CREATE TRIGGER fail_counters BEFORE INSERT ON rate_limit_counters FOR EACH ROW EXECUTE FUNCTION fail_now()`}
		}
		mustExec(t, db, fail...)
		statements["user by key"] = func(ctx context.Context) error {
			_, err := db.UserByEmailKey(ctx, key+"-none")
			return err
		}
		run(ctx)
		if postgres {
			// Slow, not failing: logged at warn with its statement.
			mustExec(t, db, `DROP TRIGGER fail_users ON users`,
				`CREATE FUNCTION slow_now() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.25); RETURN NEW; END $$`,
				`CREATE TRIGGER slow_users BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION slow_now()`)
			if err := db.SetPassword(ctx, u.ID, oldHash, newHash, now); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), `"level":"WARN","msg":"slow sql"`) {
				t.Error("the slow statement was not logged")
			}
		}
		text := logs.String()
		if !strings.Contains(text, `"msg":"sql failed"`) {
			t.Fatalf("no failed statement was logged:\n%s", text)
		}
		for _, canary := range []string{address, key, token, oldHash, newHash, bucket, "198.51.100.77"} {
			if strings.Contains(text, canary) {
				t.Errorf("the log holds %q", canary)
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), canary) {
					t.Errorf("an error holds %q: %v", canary, err)
				}
			}
		}
		for line := range strings.Lines(text) {
			if strings.Contains(line, "context canceled") && !strings.Contains(line, `"level":"DEBUG"`) {
				t.Errorf("a cancelled statement logged above debug: %s", line)
			}
		}
	})
}
