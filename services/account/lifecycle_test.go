package account

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// SetEmail ends every outstanding reset token (the link mailed to the old
// address dies), the next reset goes to the new address, and the password
// stays.
func TestSetEmail(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "old@example.org", pwA)
		e.mustUser(t, "other@example.org", pwA)
		old := e.mustToken(t, "old@example.org")
		if d := e.waitDelivery(t); d.Outcome != "sent" {
			t.Fatalf("the first reset email: %s", d.Outcome)
		}
		if err := e.p.SetEmail(ctx, u.ID, "New@Example.org"); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Reset(ctx, client, old, pwB); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("the old address's link: got %v, want ErrInvalidToken", err)
		}
		if err := e.p.RequestReset(ctx, client, "old@example.org"); err != nil {
			t.Fatal(err)
		}
		if d := e.waitDelivery(t); d.Outcome != "no_account" {
			t.Fatalf("a reset for the old address ended %s, want no_account", d.Outcome)
		}
		e.mail.none(t)
		if err := e.p.RequestReset(ctx, client, "new@example.org"); err != nil {
			t.Fatal(err)
		}
		if m := e.mail.next(t); m.To != "New@Example.org" {
			t.Fatalf("reset email to %q, want the new address as given", m.To)
		}
		if !e.verifies(t, u.ID, pwA) {
			t.Fatal("moving the address changed the password")
		}
		for _, tc := range []struct {
			name, id, email string
			want            error
		}{
			{"an address another account has", u.ID, "OTHER@example.org", ErrAccountExists},
			{"no such account", "nobody", "x@example.org", ErrNoAccount},
			{"a bad address", u.ID, "not an address", models.ErrInvalidEmail},
			{"a bad id", "a b", "x@example.org", models.ErrInvalidUserID},
		} {
			if err := e.p.SetEmail(ctx, tc.id, tc.email); !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}
		if got := e.user(t, u.ID).Email; got != "New@Example.org" {
			t.Errorf("a refused move changed the address to %q", got)
		}
	})
}

// Deleting an account removes it, and the emails already queued for it
// (a reset email and a notice) are dropped by the worker, not sent.
func TestDeleteDropsQueuedEmails(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *envConfig) { c.noWorkers = true })
		ctx := context.Background()
		u := e.mustUser(t, "gone@example.org", pwA)
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, pwA, pwB); err != nil {
			t.Fatal(err)
		}
		if err := e.p.RequestReset(ctx, client, "gone@example.org"); err != nil {
			t.Fatal(err)
		}
		if err := e.p.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		e.start(t)
		for range 2 {
			if d := e.waitDelivery(t); d.Outcome != "no_account" {
				t.Fatalf("a %s job ended %s, want no_account", d.Kind, d.Outcome)
			}
		}
		e.mail.none(t)
		if n := storetest.Count(t, db, "reset_tokens"); n != 0 {
			t.Fatalf("%d tokens, want none for a deleted account", n)
		}
		if err := e.p.DeleteUser(ctx, u.ID); !errors.Is(err, ErrNoAccount) {
			t.Fatalf("deleting twice: got %v, want ErrNoAccount", err)
		}
		if _, err := e.p.Account(ctx, u.ID); !errors.Is(err, ErrNoAccount) {
			t.Fatalf("showing a deleted account: got %v, want ErrNoAccount", err)
		}
	})
}

// Account shows what an operator needs and the hash's format, never the
// hash.
func TestAccountInfo(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	own, err := e.p.CreateUserWith(ctx, NewUser{ID: "own:1", Email: "own@example.org", Password: pwA, Locale: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	e.runImport(t, lines(
		`{"id":"bc","email":"bc@example.org","password_hash":"`+legacyBcrypt+`","password_changed_at":"2025-01-02T03:04:05Z"}`,
		`{"id":"dj","email":"dj@example.org","password_hash":"`+legacyDjango+`"}`,
		`{"id":"np","email":"np@example.org"}`,
	), ImportOptions{})
	for id, want := range map[string]string{"own:1": "argon2id", "bc": "bcrypt", "dj": "pbkdf2_sha256", "np": "none"} {
		info, err := e.p.Account(ctx, id)
		if err != nil || info.HashFormat != want || info.ID != id {
			t.Errorf("%s: got %+v, %v; want hash format %s", id, info, err, want)
		}
		b, _ := json.Marshal(info)
		if strings.Contains(string(b), "$") || strings.Contains(string(b), "password_hash") {
			t.Errorf("%s: %s shows the hash", id, b)
		}
	}
	info, _ := e.p.Account(ctx, "own:1")
	if info.Locale != "fr" || info.Email != "own@example.org" || !info.CreatedAt.Equal(own.CreatedAt) || info.CreatedAt.Location() != time.UTC {
		t.Errorf("own:1: %+v", info)
	}
	if info, _ := e.p.Account(ctx, "bc"); !info.PasswordChangedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("bc: password_changed_at %v", info.PasswordChangedAt)
	}
}

// An account created with the application's own id keeps it; an id or an
// address that is taken is refused, saying which.
func TestCreateUserWithID(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u, err := e.p.CreateUserWith(ctx, NewUser{ID: "acme:42", Email: "ann@example.org", Password: pwA})
		if err != nil || u.ID != "acme:42" {
			t.Fatalf("got %+v, %v; want the given id", u, err)
		}
		for _, tc := range []struct {
			name string
			n    NewUser
			want error
		}{
			{"an id that is taken", NewUser{ID: "acme:42", Email: "bob@example.org", Password: pwA}, ErrIDExists},
			{"an address that is taken", NewUser{ID: "acme:43", Email: "ANN@example.org", Password: pwA}, ErrAccountExists},
			{"both taken", NewUser{ID: "acme:42", Email: "ann@example.org", Password: pwA}, ErrIDExists},
			{"an id that cannot be one", NewUser{ID: "acme 44", Email: "cy@example.org", Password: pwA}, models.ErrInvalidUserID},
		} {
			if _, err := e.p.CreateUserWith(ctx, tc.n); !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}
		if g, err := e.p.CreateUserWith(ctx, NewUser{Email: "gen@example.org", Password: pwA}); err != nil || len(g.ID) != 36 {
			t.Errorf("without an id: got %q, %v; want a generated UUID", g.ID, err)
		}
	})
}
