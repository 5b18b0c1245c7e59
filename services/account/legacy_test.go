package account

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/store"
)

// Hashes as adopting teams bring them, made by the real tools (see the
// vectors in services/hash): all of "correct horse battery staple".
const (
	legacyPassword = "correct horse battery staple"
	// golang.org/x/crypto/bcrypt v0.58.0, cost 4.
	legacyBcrypt = "$2a$04$F/7tYD.C..5USMpXvOIftuyNryzZ8JoFsbRiNHd70.492qy2DaeE2"
	// Django 3.2's PBKDF2PasswordHasher().encode(password, salt).
	legacyDjango = "pbkdf2_sha256$260000$YCd0nqFRn5Y4Zvs1xzZHNV$E4A4civFOFO5CLf0X+nQ0zeV8aI1kd2rDt2sF937igA="
)

// mustLegacyUser stores an account as an import would: the row written
// directly with a hash this service never makes.
func (e *testEnv) mustLegacyUser(t *testing.T, email, passwordHash string) models.User {
	t.Helper()
	now := e.clock.Now()
	u := models.User{ID: "legacy-" + email, Email: email, EmailKey: models.EmailKey(email), PasswordHash: passwordHash,
		PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	if err := e.db.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create legacy user: %v", err)
	}
	return u
}

// An account imported with a bcrypt (or Django) hash changes its password
// with the old one through the {old,new} branch; a wrong old password is
// ErrWrongPassword, and afterwards the stored hash is argon2id: imported
// hashes are verified, never kept past a change.
func TestChangeFromImportedHash(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		for _, tc := range []struct{ name, email, stored string }{
			{"bcrypt", "bcrypt@example.org", legacyBcrypt},
			{"Django pbkdf2_sha256", "django@example.org", legacyDjango},
		} {
			u := e.mustLegacyUser(t, tc.email, tc.stored)
			s := models.Session{UserID: u.ID}
			if err := e.p.Change(ctx, client, s, legacyPassword+"!", pwB); !errors.Is(err, models.ErrWrongPassword) {
				t.Fatalf("%s, wrong old: got %v, want ErrWrongPassword", tc.name, err)
			}
			if got := e.storedHash(t, u.ID); got != tc.stored {
				t.Fatalf("%s: a refused change replaced the hash with %q", tc.name, got)
			}
			if err := e.p.Change(ctx, client, s, legacyPassword, pwB); err != nil {
				t.Fatalf("%s, right old: %v", tc.name, err)
			}
			if got := hash.Format(e.storedHash(t, u.ID)); got != hash.FormatArgon2id {
				t.Fatalf("%s: stored hash after the change is %q, want argon2id", tc.name, got)
			}
			if !e.verifies(t, u.ID, pwB) || e.verifies(t, u.ID, legacyPassword) {
				t.Fatalf("%s: after the change the new password must verify and the old one not", tc.name)
			}
		}
	})
}

// A reset verifies nothing, so it also rescues an account whose stored hash
// Verify cannot check (here: made under a pepper that is no longer
// configured), and it stores argon2id too.
func TestResetReplacesImportedHash(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		unverifiable := "$argon2id$v=19$m=64,t=1,p=1,k=gone$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43)
		u := e.mustLegacyUser(t, "unverifiable@example.org", unverifiable)
		if _, err := e.hasher.Verify(context.Background(), legacyPassword, unverifiable); err == nil {
			t.Fatal("a hash under an unknown pepper must be refused")
		}
		if err := e.p.Reset(context.Background(), client, e.mustToken(t, u.Email), pwB); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if got := hash.Format(e.storedHash(t, u.ID)); got != hash.FormatArgon2id || !e.verifies(t, u.ID, pwB) {
			t.Fatalf("stored hash after the reset is %q, want argon2id of the new password", got)
		}
	})
}

func (e *testEnv) storedHash(t *testing.T, userID string) string {
	t.Helper()
	u, err := e.db.UserByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}
