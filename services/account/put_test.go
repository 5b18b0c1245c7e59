package account

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// mustProblem asserts that err is answered as the problem code of kind, naming field.
func mustProblem(t *testing.T, name string, err error, kind models.Kind, code, field string) {
	t.Helper()
	var e *models.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code || e.Field != field {
		t.Errorf("%s: got %v (%+v), want %s on %q", name, err, e, code, field)
	}
}

// PutAccount creates an account (Created) and then updates it, by the
// rules of an import line: a password in clear is checked and hashed, a
// hash is taken as it is, an older hash is not taken and the note says so.
func TestPutAccount(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		put, err := e.p.PutAccount(ctx, "shop:1", []byte(`{"email":"ann@example.org","password":"`+pwA+`","locale":"de"}`))
		if err != nil || !put.Created || put.Account.ID != "shop:1" || put.Account.HashFormat != hash.FormatArgon2id ||
			put.Account.Locale != "de" || put.NoteCode != "" {
			t.Fatalf("create: got %+v, %v", put, err)
		}
		if !e.verifies(t, "shop:1", pwA) {
			t.Fatal("the password in clear does not verify")
		}
		created := e.user(t, "shop:1")
		e.clock.Advance(time.Minute)
		put, err = e.p.PutAccount(ctx, "shop:1", []byte(`{"email":"ann@example.org"}`))
		if err != nil || put.Created || put.Account.Locale != "de" || !e.verifies(t, "shop:1", pwA) {
			t.Fatalf("an update of nothing: got %+v, %v; want the account as it was", put, err)
		}
		put, err = e.p.PutAccount(ctx, "shop:1", []byte(`{"email":"Ann@Example.org","password_hash":"`+legacyBcrypt+
			`","password_changed_at":"2020-01-02T03:04:05Z"}`))
		if err != nil || put.Created || put.NoteCode != CodeHashNotTaken || put.Note == "" || put.Account.Email != "Ann@Example.org" {
			t.Fatalf("an older hash: got %+v, %v; want the address taken, the hash not, and a note", put, err)
		}
		if u := e.user(t, "shop:1"); u.PasswordHash != created.PasswordHash {
			t.Fatal("an older hash replaced the newer password")
		}
		put, err = e.p.PutAccount(ctx, "shop:1", []byte(`{"email":"ann@example.org","password_hash":"`+legacyBcrypt+`"}`))
		if err != nil || put.Account.HashFormat != hash.FormatBcrypt || !put.Account.PasswordChangedAt.Equal(e.clock.Now()) {
			t.Fatalf("a hash without a time: got %+v, %v; want it taken, changed now", put, err)
		}
	})
}

// Every problem of a PUT body is a problem with a stable code and the
// member at fault; a policy refusal names "password"; an address another
// account holds is a conflict; nothing is written by any of them.
func TestPutAccountProblems(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	e.mustUser(t, "taken@example.org", pwA)
	for _, tc := range []struct {
		name, id, body string
		kind           models.Kind
		code, field    string
	}{
		{"not JSON", "a", `{`, models.KindInvalid, "invalid_body", ""},
		{"the id in the body", "a", `{"id":"a","email":"a@example.org"}`, models.KindInvalid, "invalid_body", ""},
		{"an unknown member", "a", `{"email":"a@example.org","mail":"x"}`, models.KindInvalid, "invalid_body", ""},
		{"a number", "a", `{"email":"a@example.org","locale":1}`, models.KindInvalid, "invalid_body", ""},
		{"no email", "a", `{}`, models.KindInvalid, "invalid_email", "email"},
		{"a bad email", "a", `{"email":"nope"}`, models.KindInvalid, "invalid_email", "email"},
		{"a bad id", "a b", `{"email":"a@example.org"}`, models.KindInvalid, "invalid_user_id", "id"},
		{"a bad hash", "a", `{"email":"a@example.org","password_hash":"$2b$12$short"}`, models.KindInvalid, "invalid_password_hash", "password_hash"},
		{"a bad locale", "a", `{"email":"a@example.org","locale":"ja"}`, models.KindInvalid, "invalid_locale", "locale"},
		{"a bad time", "a", `{"email":"a@example.org","password_changed_at":"yesterday"}`, models.KindInvalid, "invalid_password_changed_at", "password_changed_at"},
		{"a password and a hash", "a", `{"email":"a@example.org","password":"` + pwA + `","password_hash":"` + legacyBcrypt + `"}`, models.KindInvalid, "invalid_body", "password_hash"},
		{"a time with a password", "a", `{"email":"a@example.org","password":"` + pwA + `","password_changed_at":"2020-01-02T03:04:05Z"}`, models.KindInvalid, "invalid_body", "password_changed_at"},
		{"a weak password", "a", `{"email":"a@example.org","password":"short"}`, models.KindPolicy, "password_too_short", "password"},
		{"a lone surrogate in the password", "a", `{"email":"a@example.org","password":"quartz meadow tundra violin \ud800"}`, models.KindInvalid, "invalid_body", ""},
		{"an address that is taken", "a", `{"email":"TAKEN@example.org"}`, models.KindConflict, "email_taken", "email"},
	} {
		_, err := e.p.PutAccount(ctx, tc.id, []byte(tc.body))
		mustProblem(t, tc.name, err, tc.kind, tc.code, tc.field)
	}
	if _, err := e.p.Account(ctx, "a"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("a refused PUT wrote an account: %v", err)
	}
	var nf *models.Error
	if _, err := e.p.Account(ctx, "a"); !errors.As(err, &nf) || nf.Kind != models.KindNotFound || nf.Code != "account_not_found" {
		t.Fatalf("an unknown account is %v, want the account_not_found problem", err)
	}
}

// The three doors write an account with one set of rules: the CLI's create
// refuses an existing id, its set-email an unknown one, and PUT takes
// either.
func TestOneCodePathForEveryDoor(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	if _, err := e.p.CreateUserWith(ctx, NewUser{ID: "x", Email: "x@example.org", Password: pwA, Locale: "xx"}); !errors.Is(err, models.ErrUnsupportedLocale) {
		t.Errorf("create with a bad locale: got %v", err)
	}
	if err := e.p.SetEmail(ctx, "nobody", "n@example.org"); !errors.Is(err, ErrNoAccount) {
		t.Errorf("set-email of nobody: got %v, want ErrNoAccount", err)
	}
	if _, err := e.p.PutAccount(ctx, "nobody", []byte(`{"email":"n@example.org"}`)); err != nil {
		t.Errorf("PUT of a new id: %v", err)
	}
	if _, err := e.p.CreateUserWith(ctx, NewUser{ID: "nobody", Email: "m@example.org", Password: pwA}); !errors.Is(err, ErrIDExists) {
		t.Errorf("create of an id PUT made: got %v, want ErrIDExists", err)
	}
	if info, _ := e.p.Account(ctx, "nobody"); info.HashFormat != "none" {
		t.Errorf("PUT without a password made %q, want none", info.HashFormat)
	}
}
