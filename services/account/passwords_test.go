package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/policy"
	"github.com/accountpw/accountpw/services/sessions"
	"github.com/accountpw/accountpw/services/slots"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

const (
	pwA = "velvet orbit copper lantern"
	pwB = "quartz meadow tundra violin"
	pwC = "ember glacier saffron pylon"
)

func TestResetFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "Mike@Example.org", pwA)

		// The lookup ignores ASCII case; the mail goes to the stored address.
		if err := e.p.RequestReset(ctx, client, "MIKE@example.ORG"); err != nil {
			t.Fatal(err)
		}
		m := e.mail.next(t)
		if got, want := m.To, "Mike@Example.org"; got != want {
			t.Fatalf("reset email to %q, want the stored %q", got, want)
		}
		token := tokenFrom(t, m)
		if !strings.Contains(m.Text, "https://app.example.org/password-reset?token="+token) {
			t.Fatalf("link not built from the configured URL: %q", m.Text)
		}
		var stored string
		if err := db.SQL().QueryRow("SELECT token_hash FROM reset_tokens").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored == token || stored != hashToken(token) {
			t.Fatalf("stored %q, want the SHA-256 of the token and never the token", stored)
		}

		if err := e.p.Reset(ctx, client, token, pwB); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if !e.verifies(t, u.ID, pwB) || e.verifies(t, u.ID, pwA) {
			t.Fatal("after the reset the new password must verify and the old must not")
		}
		n := e.mail.next(t)
		if n.Kind != models.MessageNotice || n.To != u.Email {
			t.Fatalf("got %s email to %s, want a notice to %s", n.Kind, n.To, u.Email)
		}
		if strings.Contains(n.Text+n.HTML, token) || strings.Contains(n.Text+n.HTML, pwB) {
			t.Fatal("the notice must carry neither the token nor the password")
		}
		if err := e.p.Reset(ctx, client, token, pwC); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("second use: got %v, want ErrInvalidToken", err)
		}
	})
}

func TestUnknownAndLookalikeAddressesGetNoEmail(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.mustUser(t, "mike@example.org", pwA)
		for _, addr := range []string{"nobody@example.org", "mıke@example.org", "ｍike@example.org"} {
			if err := e.p.RequestReset(context.Background(), client, addr); err != nil {
				t.Fatalf("%s: got %v, want nil (202 for every address)", addr, err)
			}
			if d := e.waitDelivery(t); d.Outcome != "no_account" {
				t.Fatalf("%s: job ended %s, want no_account", addr, d.Outcome)
			}
			e.mail.none(t)
		}
	})
}

func TestRequestResetRejectsBadSyntax(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for _, addr := range []string{"a", "a@@b.c", `"x"@b.c`, "a@b.c\r\n"} {
		if err := e.p.RequestReset(context.Background(), client, addr); !errors.Is(err, models.ErrInvalidEmail) {
			t.Errorf("%q: got %v, want ErrInvalidEmail", addr, err)
		}
	}
}

func TestInvalidTokensAreIndistinguishable(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.mustUser(t, "ann@example.org", pwA)
		e.mustUser(t, "bob@example.org", pwA)

		superseded := e.mustToken(t, "ann@example.org")
		current := e.mustToken(t, "ann@example.org")
		used := e.mustToken(t, "bob@example.org")
		if err := e.p.Reset(ctx, client, used, pwB); err != nil {
			t.Fatal(err)
		}
		e.mail.next(t) // bob's notice
		expiring := e.mustToken(t, "bob@example.org")
		e.clock.Advance(30*time.Minute + time.Second)

		cases := map[string]string{
			"unknown":      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"malformed":    "x",
			"bad alphabet": strings.Repeat("*", 43),
			"superseded":   superseded,
			"used":         used,
			"expired":      expiring,
		}
		for name, tok := range cases {
			err := e.p.Reset(ctx, client, tok, pwC)
			if err != models.ErrInvalidToken { //nolint:errorlint // the very same value, so the same answer
				t.Errorf("%s token: got %v, want exactly models.ErrInvalidToken", name, err)
			}
		}
		_ = current
	})
}

func TestPolicyRejectionDoesNotConsumeToken(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.mustUser(t, "ann@example.org", pwA)
		tok := e.mustToken(t, "ann@example.org")
		if err := e.p.Reset(ctx, client, tok, "short"); !errors.Is(err, models.ErrPasswordTooShort) {
			t.Fatalf("got %v, want ErrPasswordTooShort", err)
		}
		if err := e.p.Reset(ctx, client, tok, pwB); err != nil {
			t.Fatalf("after a policy rejection the token must still work: %v", err)
		}
	})
}

// Twenty concurrent resets with one token: exactly one wins, and its
// password is the one in effect.
func TestConcurrentResetHasOneWinner(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		u := e.mustUser(t, "race@example.org", pwA)
		tok := e.mustToken(t, "race@example.org")
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = e.p.Reset(context.Background(), client, tok, fmt.Sprintf("%s %02d", pwB, i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("requests %d and %d both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, models.ErrInvalidToken):
				t.Fatalf("request %d: got %v, want ErrInvalidToken", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no request succeeded")
		}
		if !e.verifies(t, u.ID, fmt.Sprintf("%s %02d", pwB, winner)) {
			t.Fatal("the winner's password is not the one in effect")
		}
	})
}

func TestChange(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "cat@example.org", pwA)
		tok := e.mustToken(t, "cat@example.org")
		s := models.Session{UserID: u.ID}

		if err := e.p.Change(ctx, client, s, pwC, pwB); !errors.Is(err, models.ErrWrongPassword) {
			t.Fatalf("wrong old: got %v, want ErrWrongPassword", err)
		}
		if err := e.p.Change(ctx, client, s, pwA, "too short"); !errors.Is(err, models.ErrPasswordTooShort) {
			t.Fatalf("short new: got %v, want ErrPasswordTooShort", err)
		}
		e.mail.none(t) // no notice after 403 or 422
		if err := e.p.Change(ctx, client, s, pwA, pwB); err != nil {
			t.Fatalf("change: %v", err)
		}
		if n := e.mail.next(t); n.Kind != models.MessageNotice || n.To != u.Email {
			t.Fatalf("got %s email to %s, want a notice", n.Kind, n.To)
		}
		if !e.verifies(t, u.ID, pwB) {
			t.Fatal("the new password does not verify")
		}
		if err := e.p.Reset(ctx, client, tok, pwC); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("a change must end outstanding reset tokens: got %v", err)
		}
	})
}

func TestChangeEndsEarlierSessions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "dan@example.org", pwA)
		e.clock.Advance(time.Minute)
		bearer, err := sessions.Issue(e.secret, config.Auth{}, u.ID, e.clock.Now(), 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.p.Authenticate(ctx, bearer)
		if err != nil {
			t.Fatalf("fresh token: %v", err)
		}
		e.clock.Advance(2 * time.Second)
		if err := e.p.Change(ctx, client, s, pwA, pwB); err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.Authenticate(ctx, bearer); !errors.Is(err, models.ErrStaleSession) {
			t.Fatalf("token issued before the change: got %v, want ErrStaleSession", err)
		}
		fresh, _ := sessions.Issue(e.secret, config.Auth{}, u.ID, e.clock.Now(), 15*time.Minute)
		if _, err := e.p.Authenticate(ctx, fresh); err != nil {
			t.Fatalf("token issued after the change: %v", err)
		}
	})
}

// A stored hash with parameters other than the configured ones is replaced
// by one with the current parameters after a successful change.
func TestChangeUpgradesHashParameters(t *testing.T) {
	db := storetest.Postgres(t)
	old := newEnv(t, db)
	u := old.mustUser(t, "eve@example.org", pwA)
	e := newEnv(t, db, func(c *envConfig) { c.password.Argon2 = config.Argon2{Memory: 128, Time: 2, Threads: 1} })
	if err := e.p.Change(context.Background(), client, models.Session{UserID: u.ID}, pwA, pwB); err != nil {
		t.Fatal(err)
	}
	got, _ := db.UserByID(context.Background(), u.ID)
	if !strings.Contains(got.PasswordHash, "m=128,t=2,p=1") {
		t.Fatalf("stored %q, want the current parameters m=128,t=2,p=1", got.PasswordHash)
	}
}

// A hash made under a retired pepper still verifies, and the change stores
// the new hash under the current pepper.
func TestPepperRotation(t *testing.T) {
	db := storetest.Postgres(t)
	key1 := "pepper-one-0123456789abcdefghijkl"
	key2 := "pepper-two-0123456789abcdefghijkl"
	before := newEnv(t, db, func(c *envConfig) { c.password.Pepper, c.password.PepperID = key1, "1" })
	u := before.mustUser(t, "pep@example.org", pwA)
	if !strings.Contains(u.PasswordHash, ",k=1$") {
		t.Fatalf("stored %q, want the pepper id k=1", u.PasswordHash)
	}
	withoutOld := newEnv(t, db, func(c *envConfig) { c.password.Pepper, c.password.PepperID = key2, "2" })
	if err := withoutOld.p.Change(context.Background(), client, models.Session{UserID: u.ID}, pwA, pwB); err == nil {
		t.Fatal("a hash under an unknown pepper must not verify")
	}
	after := newEnv(t, db, func(c *envConfig) {
		c.password.Pepper, c.password.PepperID, c.password.OldPeppers = key2, "2", "1:"+key1
	})
	if err := after.p.Change(context.Background(), client, models.Session{UserID: u.ID}, pwA, pwB); err != nil {
		t.Fatalf("change under the rotated pepper: %v", err)
	}
	got, _ := db.UserByID(context.Background(), u.ID)
	if !strings.Contains(got.PasswordHash, ",k=2$") {
		t.Fatalf("stored %q, want the current pepper id k=2", got.PasswordHash)
	}
}

// A reset that fails inside its transaction changes nothing: the token still
// works and the old password still verifies, and the client sees an error,
// never a half-made change. A database that is gone answers "unavailable"
// (503), not a server fault.
func TestResetFailureIsAtomic(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "atom@example.org", pwA)
		tok := e.mustToken(t, "atom@example.org")
		// The database itself refuses the password update, inside the
		// transaction that has already consumed the token.
		failOn, failOff := `CREATE TRIGGER fail_users BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`DROP TRIGGER fail_users`
		if db.Postgres() {
			failOn = `CREATE FUNCTION fail_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
				CREATE TRIGGER fail_users BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION fail_users()`
			failOff = `DROP TRIGGER fail_users ON users`
		}
		if _, err := db.SQL().Exec(failOn); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Reset(ctx, client, tok, pwB); err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("got %v, want the injected failure", err)
		}
		if _, err := db.SQL().Exec(failOff); err != nil {
			t.Fatal(err)
		}
		if !e.verifies(t, u.ID, pwA) {
			t.Fatal("the password changed although the reset failed")
		}
		if err := e.p.Reset(ctx, client, tok, pwB); err != nil {
			t.Fatalf("the token was consumed by the failed reset: %v", err)
		}

		gone, err := store.Open(config.Database{Path: filepath.Join(t.TempDir(), "gone.db")}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		gone.Close()
		p := New(testReset, Deps{DB: gone, Hasher: e.hasher, Policy: policy.New(config.DefaultPassword(), slots.New(1, time.Second, nil)),
			Queue: e.q, Pseudo: NewPseudonymizer([]byte("k")), Log: slog.New(slog.DiscardHandler), Now: e.clock.Now})
		if err := p.Reset(ctx, client, tok, pwC); !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("database gone: got %v, want ErrUnavailable", err)
		}
	})
}

// A panic in work started beside a request becomes that work's error
// instead of ending the process; an error is delivered as it is.
func TestGoSafely(t *testing.T) {
	t.Parallel()
	if err := <-goSafely(func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic: got %v, want an error naming it", err)
	}
	want := errors.New("failed")
	if err := <-goSafely(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("error: got %v, want %v", err, want)
	}
	if err := <-goSafely(func() error { return nil }); err != nil {
		t.Fatalf("success: got %v", err)
	}
}
