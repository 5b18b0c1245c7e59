package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// The bulk statements write and read back every column, times to the
// microsecond included, across more rows than one statement takes.
func TestBulkUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		at := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
		now := time.Now().UTC().Truncate(time.Microsecond)
		const n = 1203 // two statements of 1000 rows and one more
		users := make([]models.User, n)
		for i := range users {
			id := fmt.Sprintf("u:%04d", i)
			users[i] = models.User{ID: id, Email: id + "@Example.org", EmailKey: id + "@example.org",
				PasswordHash: "$2b$h" + id, Locale: "de", PasswordChangedAt: at, CreatedAt: now, UpdatedAt: now}
		}
		users[7].PasswordHash, users[7].Locale = "", "" // no password, no locale
		err := db.InTx(ctx, func(tx *store.Tx) error { return tx.InsertUsers(ctx, users) })
		if err != nil {
			t.Fatal(err)
		}
		if got := storetest.Count(t, db, "users"); got != n {
			t.Fatalf("%d rows, want %d", got, n)
		}
		ids := make([]string, n)
		for i, u := range users {
			ids[i] = u.ID
		}
		got, err := db.UsersForImport(ctx, ids, []string{"u:0005@example.org", "nobody@example.org"}, false)
		if err != nil || len(got) != n {
			t.Fatalf("got %d accounts, %v; want %d", len(got), err, n)
		}
		byID := map[string]models.User{}
		for _, u := range got {
			byID[u.ID] = u
		}
		for _, want := range []models.User{users[0], users[7], users[n-1]} {
			g := byID[want.ID]
			if g.Email != want.Email || g.EmailKey != want.EmailKey || g.PasswordHash != want.PasswordHash ||
				g.Locale != want.Locale || !g.PasswordChangedAt.Equal(want.PasswordChangedAt) || !g.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("read back %+v, want %+v", g, want)
			}
		}

		// Updates: move addresses (one row takes the key another gives up in
		// an earlier statement, as the caller orders them), replace hashes
		// and times.
		later := at.Add(time.Hour)
		moved := users[0]
		moved.Email, moved.EmailKey, moved.PasswordHash, moved.PasswordChangedAt, moved.UpdatedAt = "new@example.org", "new@example.org", "$2b$new", later, later
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.UsersForImport(ctx, []string{moved.ID}, []string{moved.EmailKey}, true); err != nil {
				return err
			}
			return tx.UpdateUsers(ctx, []models.User{moved})
		})
		if err != nil {
			t.Fatal(err)
		}
		taker := users[1]
		taker.Email, taker.EmailKey, taker.Locale = users[0].Email, users[0].EmailKey, "fr"
		if err := db.InTx(ctx, func(tx *store.Tx) error { return tx.UpdateUsers(ctx, []models.User{taker}) }); err != nil {
			t.Fatalf("taking an address given up before: %v", err)
		}
		g, _ := db.UserByID(ctx, moved.ID)
		if g.Email != "new@example.org" || g.PasswordHash != "$2b$new" || !g.PasswordChangedAt.Equal(later) {
			t.Fatalf("after the update: %+v", g)
		}
		if g, _ := db.UserByEmailKey(ctx, users[0].EmailKey); g.ID != taker.ID || g.Locale != "fr" {
			t.Fatalf("the freed address belongs to %+v, want %s with locale fr", g, taker.ID)
		}

		// A key that another row holds, and a row that does not exist.
		clash := users[2]
		clash.EmailKey = users[3].EmailKey
		if err := db.InTx(ctx, func(tx *store.Tx) error { return tx.UpdateUsers(ctx, []models.User{clash}) }); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("a taken key: got %v, want ErrDuplicate", err)
		}
		ghost := users[4]
		ghost.ID = "ghost"
		if err := db.InTx(ctx, func(tx *store.Tx) error { return tx.UpdateUsers(ctx, []models.User{ghost}) }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a missing row: got %v, want ErrConflict", err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return tx.InsertUsers(ctx, users[5:6]) }); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("an existing id: got %v, want ErrDuplicate", err)
		}
	})
}

// Lookups by key alone and by id alone find the account; nothing is found
// for empty lists.
func TestUsersForImportByKeyOrID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		mustUser(t, db, "ann")
		bob := mustUser(t, db, "bob")
		for _, tc := range []struct {
			name      string
			ids, keys []string
			wantIDs   []string
			lock      bool
		}{
			{"by id", []string{"ann"}, nil, []string{"ann"}, false},
			{"by key", nil, []string{bob.EmailKey}, []string{"bob"}, false},
			{"both, locked", []string{"ann"}, []string{bob.EmailKey}, []string{"ann", "bob"}, true},
			{"neither", nil, nil, nil, false},
			{"unknown", []string{"carl"}, []string{"carl@example.org"}, nil, true},
		} {
			var got []models.User
			err := db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				got, err = tx.UsersForImport(ctx, tc.ids, tc.keys, tc.lock)
				return err
			})
			var ids []string
			for _, u := range got {
				ids = append(ids, u.ID)
			}
			slices.Sort(ids)
			if err != nil || !slices.Equal(ids, tc.wantIDs) {
				t.Errorf("%s: got %v, %v; want %v", tc.name, ids, err, tc.wantIDs)
			}
		}
	})
}

// SetEmail moves an account to a free address, refuses one another account
// holds, and says when there is no such account; DeleteUser removes the
// account with its tokens and throttle state.
func TestSetEmailAndDeleteUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ann, bob := mustUser(t, db, "ann"), mustUser(t, db, "bob")
		now := time.Now().UTC()
		if err := db.SetEmail(ctx, ann.ID, "Ann@New.example", "ann@new.example", now); err != nil {
			t.Fatal(err)
		}
		if g, _ := db.UserByEmailKey(ctx, "ann@new.example"); g.ID != ann.ID || g.Email != "Ann@New.example" {
			t.Fatalf("after set email: %+v", g)
		}
		if err := db.SetEmail(ctx, ann.ID, "x", bob.EmailKey, now); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("another account's key: got %v, want ErrDuplicate", err)
		}
		if err := db.SetEmail(ctx, "nobody", "x", "x@example.org", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no such account: got %v, want ErrNotFound", err)
		}

		if _, err := db.IssueToken(ctx, "ann@new.example", "live", now.Add(time.Hour), now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.IssueToken(ctx, bob.EmailKey, "bobs", now.Add(time.Hour), now); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.LockChangeFailures(ctx, ann.ID, now.Unix())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteUser(ctx, ann.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UserByID(ctx, ann.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the account is still there: %v", err)
		}
		if n := storetest.Count(t, db, "reset_tokens") + storetest.Count(t, db, "change_failures"); n != 1 {
			t.Fatalf("%d token and throttle rows left, want bob's token only", n)
		}
		if err := db.DeleteUser(ctx, ann.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting twice: got %v, want ErrNotFound", err)
		}
	})
}

// DeleteUnusedTokensOf ends the live tokens of the given accounts only.
func TestDeleteUnusedTokensOf(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC()
		for _, id := range []string{"a", "b", "c"} {
			u := mustUser(t, db, id)
			if _, err := db.IssueToken(ctx, u.EmailKey, "tok-"+id, now.Add(time.Hour), now); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.DeleteUnusedTokensOf(ctx, []string{"a", "c", "nobody"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.LiveToken(ctx, "tok-b", now); err != nil {
			t.Fatalf("b's token went: %v", err)
		}
		if n := storetest.Count(t, db, "reset_tokens"); n != 1 {
			t.Fatalf("%d tokens left, want b's", n)
		}
	})
}
