package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// A token superseded between its lookup and its use fails: the newer token
// reuses the row, so the use is guarded by the hash, not only the row.
func TestConsumeSupersededToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		u := mustUser(t, db, "sup")
		now := time.Now().UTC()
		if _, err := db.IssueToken(ctx, u.EmailKey, "old", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		old, _, err := db.LiveToken(ctx, "old", now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.IssueToken(ctx, u.EmailKey, "new", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		if err := db.ConsumeToken(ctx, old.ID, "old", now); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("superseded token: got %v, want ErrConflict", err)
		}
		if _, _, err := db.LiveToken(ctx, "new", now); err != nil {
			t.Fatalf("the newer token is no longer live: %v", err)
		}
	})
}

// An address change that commits while a token is being issued for the old
// address leaves no token: the issue waits for the change and then finds no
// account under the old address. PostgreSQL only: SQLite runs one writer
// at a time, so the two cannot overlap there.
func TestIssueTokenWaitsForAddressChange(t *testing.T) {
	db := storetest.Postgres(t)
	u := mustUser(t, db, "move")
	now := time.Now().UTC()
	inTx, release := make(chan struct{}), make(chan struct{})
	changed := make(chan error, 1)
	go func() {
		changed <- db.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.SetEmail(ctx, u.ID, "moved@Example.org", "moved@example.org", now); err != nil {
				return err
			}
			if err := tx.DeleteUnusedTokens(ctx, u.ID); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	issued := make(chan error, 1)
	go func() {
		_, err := db.IssueToken(ctx, u.EmailKey, "to-old-address", now.Add(time.Minute), now)
		issued <- err
	}()
	// Let the change commit once the issue waits for its lock, or once the
	// issue has finished without waiting (the race this test is about).
	var issueErr error
	finished := false
	for deadline := time.Now().Add(20 * time.Second); !finished; {
		select {
		case issueErr = <-issued:
			finished = true
			continue
		default:
		}
		var waiting int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the issue neither finished nor waited within 20 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the server's lock waits, not synchronising
	}
	close(release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	if !finished {
		issueErr = <-issued
	}
	if !errors.Is(issueErr, store.ErrNotFound) {
		t.Errorf("issue for the old address: got %v, want ErrNotFound", issueErr)
	}
	if _, _, err := db.LiveToken(ctx, "to-old-address", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a link for the old address survived the change: %v", err)
	}
}

// The links of two requests win by request, not by when they are sent: an
// earlier request's token issued after a later one's is refused
// (ErrSuperseded) and the later link stands; the same hash issued again (an
// email sent again) keeps its first expiry; a later request replaces.
func TestIssueTokenOrdersRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		u := mustUser(t, db, "order")
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		t1 := t0.Add(time.Minute)
		// The later request's email goes out first...
		if _, err := db.IssueToken(ctx, u.EmailKey, "later", t1.Add(30*time.Minute), t1); err != nil {
			t.Fatal(err)
		}
		// ...then the earlier request's: it must not replace it.
		if _, err := db.IssueToken(ctx, u.EmailKey, "earlier", t0.Add(40*time.Minute), t0); !errors.Is(err, store.ErrSuperseded) {
			t.Fatalf("an earlier request's link after a later one's: got %v, want ErrSuperseded", err)
		}
		if _, _, err := db.LiveToken(ctx, "later", t1); err != nil {
			t.Fatalf("the later link is no longer live: %v", err)
		}
		// The later email sent again, later still: the same link, and its
		// expiry as first issued.
		if _, err := db.IssueToken(ctx, u.EmailKey, "later", t1.Add(50*time.Minute), t1); err != nil {
			t.Fatal(err)
		}
		tok, _, err := db.LiveToken(ctx, "later", t1)
		if err != nil || !tok.ExpiresAt.Equal(t1.Add(30*time.Minute)) {
			t.Fatalf("after a re-send: %+v, %v; want the first expiry %v", tok, err, t1.Add(30*time.Minute))
		}
		// A yet later request replaces it.
		t2 := t1.Add(time.Minute)
		if _, err := db.IssueToken(ctx, u.EmailKey, "latest", t2.Add(30*time.Minute), t2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.LiveToken(ctx, "later", t1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the replaced link: got %v, want ErrNotFound", err)
		}
	})
}

// A later request's token committed while an earlier request's issue waits
// for the account's lock stands: the waiting issue's snapshot predates it,
// and only the upsert's own guard sees it, so that issue is refused
// (ErrSuperseded) instead of replacing the later link. PostgreSQL only, as
// above.
func TestIssueTokenWaitingBehindALaterRequest(t *testing.T) {
	db := storetest.Postgres(t)
	u := mustUser(t, db, "behind")
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	t1 := t0.Add(time.Minute)
	// The later request's issue, by hand: it holds the account's lock while
	// the earlier one starts, then commits its token.
	later, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer later.Rollback() //nolint:errcheck // committed below; a failed test leaves it to this
	if _, err := later.ExecContext(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := later.ExecContext(ctx, `INSERT INTO reset_tokens (user_id, token_hash, expires_at, created_at)
		VALUES ($1, 'later', $2, $3)`, u.ID, t1.Add(30*time.Minute), t1); err != nil {
		t.Fatal(err)
	}
	issued := make(chan error, 1)
	go func() {
		_, err := db.IssueToken(ctx, u.EmailKey, "earlier", t0.Add(30*time.Minute), t0)
		issued <- err
	}()
	for deadline := time.Now().Add(20 * time.Second); ; {
		var waiting int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the earlier request's issue did not wait for the account's lock within 20 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the server's lock waits, not synchronising
	}
	if err := later.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-issued; !errors.Is(err, store.ErrSuperseded) {
		t.Errorf("the earlier request's issue: got %v, want ErrSuperseded", err)
	}
	if _, _, err := db.LiveToken(ctx, "later", t0); err != nil {
		t.Errorf("the later request's link is no longer live: %v", err)
	}
}
