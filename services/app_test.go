package services

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store/storetest"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Database.Path = filepath.Join(t.TempDir(), "data", "accountpw.db")
	cfg.Password.Argon2 = config.Argon2{Memory: config.FloorArgon2Memory, Time: config.FloorArgon2Time, Threads: 1}
	return cfg
}

// The hourly housekeeping deletes expired reset tokens and stale rate-limit
// state, and keeps what is live.
func TestHousekeeping(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := Open(ctx, testConfig(t), slog.New(slog.NewJSONHandler(io.Discard, nil)), Options{Migrate: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for id, expires := range map[string]time.Time{"expired": now.Add(time.Minute), "live": now.Add(48 * time.Hour)} {
		if err := a.DB.CreateUser(ctx, models.User{ID: id, Email: id, EmailKey: id, PasswordHash: "h",
			PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.DB.IssueToken(ctx, id, id, expires, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Limits.Admit(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(25 * time.Hour)
	if err := a.housekeeping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, a.DB, "reset_tokens"); n != 1 {
		t.Fatalf("%d tokens left, want the live one", n)
	}
	if n := storetest.Count(t, a.DB, "rate_limit_counters"); n != 0 {
		t.Fatalf("%d counters left, want none a day later", n)
	}
}

// The memory budget covers every hashing slot at the configured cost.
func TestMemoryBudget(t *testing.T) {
	cfg := testConfig(t)
	cfg.Password.HashSlots = 3
	a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got, min := a.MemoryBudget(), int64(3*config.FloorArgon2Memory)<<10; got <= min {
		t.Fatalf("budget %d, want more than 3 slots × %d KiB", got, config.FloorArgon2Memory)
	}
	// The Go limit leaves room in the budget for the binary's pages, and
	// still covers every slot's block.
	if limit, blocks := a.MemoryLimit(), int64(3*config.FloorArgon2Memory)<<10; limit >= a.MemoryBudget() || limit <= blocks {
		t.Fatalf("limit %d, want between 3 slots' blocks (%d) and the budget (%d)", limit, blocks, a.MemoryBudget())
	}
}

// A broken email template override stops Open, naming the file, before any
// email is queued or sent.
func TestOpenRefusesBrokenTemplates(t *testing.T) {
	cfg := testConfig(t)
	cfg.Mail.TemplatesDir = t.TempDir()
	path := filepath.Join(cfg.Mail.TemplatesDir, "notice.html.tmpl")
	if err := os.WriteFile(path, []byte(`<p>{{.T "no_such_message"}}</p>`), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
	if err == nil {
		a.Close()
		t.Fatal("Open accepted a template that cannot render")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want an error naming %s", err, path)
	}
}

// The queue sends events exactly when webhook.url is set.
func TestOpenWiresWebhooks(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook config.Webhook
		want bool
	}{
		{"no URL", config.Webhook{}, false},
		{"a URL and a secret", config.Webhook{URL: "http://127.0.0.1:9/hooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, true},
	} {
		cfg := testConfig(t)
		cfg.Webhook = tc.hook
		a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Queue.SendsEvents(); got != tc.want {
			t.Errorf("%s: SendsEvents %v, want %v", tc.name, got, tc.want)
		}
		a.Close()
	}
}
