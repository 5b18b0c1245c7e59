package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

var ctx = context.Background()

func mustUser(t *testing.T, db *store.DB, id string) models.User {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	u := models.User{ID: id, Email: id + "@Example.org", EmailKey: id + "@example.org", PasswordHash: "h0",
		PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		u := mustUser(t, db, "ann")
		if err := db.CreateUser(ctx, models.User{ID: "other", Email: "x", EmailKey: u.EmailKey, PasswordHash: "h"}); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("a taken email key: got %v, want ErrDuplicate", err)
		}
		got, err := db.UserByEmailKey(ctx, "ann@example.org")
		if err != nil || got.ID != u.ID || got.Email != "ann@Example.org" || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) {
			t.Fatalf("by key: got %+v %v, want %+v", got, err, u)
		}
		if _, err := db.UserByID(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown id: got %v, want ErrNotFound", err)
		}
		later := u.PasswordChangedAt.Add(time.Minute)
		if err := db.SetPassword(ctx, u.ID, "stale", "h1", later); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a stale read hash: got %v, want ErrConflict", err)
		}
		if err := db.SetPassword(ctx, u.ID, "h0", "h1", later); err != nil {
			t.Fatal(err)
		}
		if at, err := db.PasswordChangedAt(ctx, u.ID); err != nil || !at.Equal(later) {
			t.Fatalf("changed at %v %v, want %v", at, err, later)
		}
	})
}

// An account's locale is stored and read back; one created without it has
// the column's default, "".
func TestUserLocale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC().Truncate(time.Second)
		u := models.User{ID: "de", Email: "de@example.org", EmailKey: "de@example.org", PasswordHash: "h",
			Locale: "de-AT", PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, err := db.UserByID(ctx, "de"); err != nil || got.Locale != "de-AT" {
			t.Fatalf("by id: locale %q %v, want de-AT", got.Locale, err)
		}
		if got, err := db.UserByEmailKey(ctx, "de@example.org"); err != nil || got.Locale != "de-AT" {
			t.Fatalf("by key: locale %q %v, want de-AT", got.Locale, err)
		}
		if got, err := db.UserByID(ctx, mustUser(t, db, "none").ID); err != nil || got.Locale != "" {
			t.Fatalf("no locale: got %q %v, want empty", got.Locale, err)
		}
	})
}

// Of twenty concurrent consumers of one token exactly one succeeds.
func TestConsumeTokenOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		u := mustUser(t, db, "race")
		now := time.Now().UTC()
		if _, err := db.IssueToken(ctx, u.EmailKey, "hash", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		tok, owner, err := db.LiveToken(ctx, "hash", now)
		if err != nil || tok.UserID != u.ID || owner.ID != u.ID || owner.Email != u.Email ||
			owner.PasswordHash != u.PasswordHash || !owner.PasswordChangedAt.Equal(u.PasswordChangedAt) {
			t.Fatalf("live token: %+v %+v %v", tok, owner, err)
		}
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			won, lost int
		)
		for range 20 {
			wg.Go(func() {
				err := db.ConsumeToken(ctx, tok.ID, "hash", now)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrConflict):
					lost++
				default:
					t.Errorf("consume: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != 19 {
			t.Fatalf("%d won and %d lost, want 1 and 19", won, lost)
		}
		if _, _, err := db.LiveToken(ctx, "hash", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a used token is not live: got %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC()
		u := models.User{ID: "tok", Email: "Tok@Example.org", EmailKey: "tok@example.org", PasswordHash: "h0",
			Locale: "fr-CA", PasswordChangedAt: now.Add(-time.Hour).Truncate(time.Second),
			CreatedAt: now.Add(-2 * time.Hour).Truncate(time.Second), UpdatedAt: now.Truncate(time.Second)}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, err := db.IssueToken(ctx, "nobody@example.org", "h", now.Add(time.Minute), now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a token for no account: got %v, want ErrNotFound", err)
		}
		// A new token supersedes the unused one; each returns the whole account.
		for _, h := range []string{"first", "second"} {
			got, err := db.IssueToken(ctx, u.EmailKey, h, now.Add(time.Minute), now)
			if err != nil || got.ID != u.ID || got.Email != u.Email || got.EmailKey != u.EmailKey ||
				got.PasswordHash != u.PasswordHash || got.Locale != u.Locale ||
				!got.PasswordChangedAt.Equal(u.PasswordChangedAt) || !got.CreatedAt.Equal(u.CreatedAt) ||
				!got.UpdatedAt.Equal(u.UpdatedAt) {
				t.Fatalf("issue: got %+v %v, want %+v", got, err, u)
			}
		}
		if _, _, err := db.LiveToken(ctx, "first", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("superseded token: got %v, want ErrNotFound", err)
		}
		if _, _, err := db.LiveToken(ctx, "second", now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token: got %v, want ErrNotFound", err)
		}
		// Housekeeping: expired tokens go, used or not; live ones stay.
		second, _, _ := db.LiveToken(ctx, "second", now)
		if err := db.ConsumeToken(ctx, second.ID, "second", now); err != nil {
			t.Fatal(err)
		}
		other := mustUser(t, db, "other")
		if _, err := db.IssueToken(ctx, other.EmailKey, "live", now.Add(time.Hour), now); err != nil {
			t.Fatal(err)
		}
		third := mustUser(t, db, "third")
		if _, err := db.IssueToken(ctx, third.EmailKey, "expired", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		n, err := db.DeleteExpiredTokens(ctx, now.Add(2*time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("deleted %d, %v; want the used and the unused expired token", n, err)
		}
		if _, _, err := db.LiveToken(ctx, "live", now); err != nil {
			t.Fatalf("the live token went: %v", err)
		}
	})
}

// A failing transaction leaves nothing behind, and fn's error comes back as
// it is.
func TestInTxRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateUser(ctx, models.User{ID: "ghost", Email: "g", EmailKey: "g", PasswordHash: "h"}); err != nil {
				return err
			}
			if _, err := tx.CountHits(ctx, []store.Hit{{Bucket: "b", Start: 0, End: 60, N: 1}}); err != nil {
				return err
			}
			return boom
		})
		if err != boom { //nolint:errorlint // the very value fn returned
			t.Fatalf("got %v, want fn's error itself", err)
		}
		if n := storetest.Count(t, db, "users") + storetest.Count(t, db, "rate_limit_counters"); n != 0 {
			t.Fatalf("%d rows left by a rolled-back transaction", n)
		}
	})
}

// A database that cannot be reached is unavailable (503), not a server
// fault.
func TestUnavailableIsClassified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		db.Close()
		for name, err := range map[string]error{
			"query": func() error { _, err := db.UserByID(ctx, "x"); return err }(),
			"ping":  db.Ping(ctx),
			"tx":    db.InTx(ctx, func(*store.Tx) error { return nil }),
		} {
			if !errors.Is(err, models.ErrUnavailable) {
				t.Errorf("%s on a closed pool: got %v, want ErrUnavailable", name, err)
			}
		}
	})
}

// Issuers racing for one account leave exactly one live token: each
// supersedes the others' under the account's row lock.
func TestIssueTokenConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		u := mustUser(t, db, "many")
		now := time.Now().UTC()
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				if _, err := db.IssueToken(ctx, u.EmailKey, fmt.Sprint("h", i), now.Add(time.Minute), now); err != nil {
					t.Errorf("issue %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if n := storetest.Count(t, db, "reset_tokens"); n != 1 {
			t.Fatalf("%d tokens, want exactly one live token", n)
		}
	})
}
