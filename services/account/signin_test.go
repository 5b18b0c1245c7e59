package account

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/slots"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// Hashes of legacyPassword made by other argon2 libraries (see the vectors
// in services/hash): npm argon2 0.45.1 writes m,p,t; these are weaker than
// signInParams, so a sign-in upgrades them.
const (
	legacyNPMArgon2id = "$argon2id$v=19$m=1024,p=2,t=2$bnBtYXJnb24yc2FsdHZlYw$oIJWKz2dtmwzPfDqp3Jvls/UVN/BVCTwJt0rzmwdfAQ"
	legacyNPMArgon2i  = "$argon2i$v=19$m=1024,p=2,t=2$bnBtYXJnb24yc2FsdHZlYw$HzgSs2bCt04Q/4R/O1WwY9B2Uc3XIMQU1QupVAhoZm4"
	// argon2-cffi 21.1.0 of "ﬁnal ①" as typed (not NFKC), m=1024,t=2,p=2.
	legacyCFFILigature = "$argon2id$v=19$m=1024,t=2,p=2$Y2ZmaWFyZ29uMnNhbHR2Yw$7ZtyiI7naTiyeFNqbPIQcIEZYvRBjFc+6Nvo4E6z8Ks"
)

// signInParams are the current parameters of the sign-in tests: cheap, but
// above the legacy vectors', so those are outdated.
var signInParams = config.Argon2{Memory: 2048, Time: 2, Threads: 1}

func withParams(a config.Argon2) envOption { return func(c *envConfig) { c.password.Argon2 = a } }

func signIn(id, email, password string) models.SignIn {
	return models.SignIn{ID: id, Email: email, Password: password, ClientIP: "203.0.113.7"}
}

// A right password is valid, by id or by address; a wrong one, an account
// without a password and an unknown id or address are the same answer,
// which names no account.
func TestSignInAnswers(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		e.runImport(t, lines(`{"id":"nopw","email":"nopw@example.org"}`), ImportOptions{})
		for _, in := range []models.SignIn{signIn(u.ID, "", pwA), signIn("", "ANN@EXAMPLE.org", pwA)} {
			got, err := e.p.SignIn(ctx, client, in)
			if err != nil || !got.Valid || got.ID != u.ID || !got.PasswordChangedAt.Equal(e.user(t, u.ID).PasswordChangedAt) {
				t.Fatalf("%+v: got %+v, %v", in, got, err)
			}
		}
		for _, tc := range []struct {
			name string
			in   models.SignIn
		}{
			{"a wrong password", signIn(u.ID, "", pwB)},
			{"a wrong password by address", signIn("", "ann@example.org", pwB)},
			{"an unknown id", signIn("nobody", "", pwA)},
			{"an unknown address", signIn("", "nobody@example.org", pwA)},
			{"a look-alike of the address", signIn("", "ann@exampIe.org", pwA)},
			{"an account without a password", signIn("nopw", "", "")},
			{"an account without a password, by address", signIn("", "nopw@example.org", pwA)},
		} {
			got, err := e.p.SignIn(ctx, client, tc.in)
			if err != nil || got != (models.SignInResult{}) {
				t.Errorf("%s: got %+v, %v; want {valid: false} alone", tc.name, got, err)
			}
		}
		for _, tc := range []struct {
			name string
			in   models.SignIn
			code string
		}{
			{"neither id nor address", signIn("", "", pwA), "invalid_body"},
			{"both", signIn(u.ID, "ann@example.org", pwA), "invalid_body"},
			{"a bad id", signIn("a b", "", pwA), "invalid_user_id"},
			{"a bad address", signIn("", "nope", pwA), "invalid_email"},
			{"a bad client IP", models.SignIn{ID: u.ID, Password: pwA, ClientIP: "localhost"}, "invalid_client_ip"},
		} {
			_, err := e.p.SignIn(ctx, client, tc.in)
			var me *models.Error
			if !errors.As(err, &me) || me.Kind != models.KindInvalid || me.Code != tc.code {
				t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
			}
		}
	})
}

// Imported hashes of every format become current argon2id hashes at the
// first right sign-in, which still verify; the password did not change, so
// password_changed_at stays, a reset link stays usable, and no
// password.changed event is queued.
func TestSignInUpgradesImportedHashes(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		rec := newHookReceiver(t)
		e := newEnv(t, db, withParams(signInParams), withWebhook(rec))
		obs := &observed{}
		e.p.Observer = obs
		ctx := context.Background()
		for _, tc := range []struct{ id, hash, password string }{
			{"bcrypt", legacyBcrypt, legacyPassword},
			{"django", legacyDjango, legacyPassword},
			{"argon2i", legacyNPMArgon2i, legacyPassword},
			{"npm-argon2id", legacyNPMArgon2id, legacyPassword},
			{"cffi-not-nfkc", legacyCFFILigature, "ﬁnal ①"},
		} {
			e.runImport(t, lines(`{"id":"`+tc.id+`","email":"`+tc.id+`@example.org","password_hash":"`+tc.hash+
				`","password_changed_at":"2025-01-02T03:04:05Z"}`), ImportOptions{})
			before := e.user(t, tc.id)
			got, err := e.p.SignIn(ctx, client, signIn(tc.id, "", tc.password))
			if err != nil || !got.Valid {
				t.Fatalf("%s: got %+v, %v", tc.id, got, err)
			}
			after := e.user(t, tc.id)
			cmp, err := e.hasher.Compare(ctx, tc.password, after.PasswordHash)
			if hash.Format(after.PasswordHash) != hash.FormatArgon2id || !strings.Contains(after.PasswordHash, "$m=2048,t=2,p=1$") ||
				err != nil || !cmp.Match || cmp.Outdated {
				t.Errorf("%s: stored %s (%+v, %v), want a current argon2id hash of the same password", tc.id, after.PasswordHash, cmp, err)
			}
			if !after.PasswordChangedAt.Equal(before.PasswordChangedAt) || !got.PasswordChangedAt.Equal(before.PasswordChangedAt) {
				t.Errorf("%s: password_changed_at %v, answered %v; want %v kept", tc.id, after.PasswordChangedAt, got.PasswordChangedAt, before.PasswordChangedAt)
			}
			if again, err := e.p.SignIn(ctx, client, signIn(tc.id, "", tc.password)); err != nil || !again.Valid {
				t.Errorf("%s: the upgraded hash does not verify: %+v, %v", tc.id, again, err)
			}
			if again := e.user(t, tc.id); again.PasswordHash != after.PasswordHash {
				t.Errorf("%s: a current hash was upgraded again", tc.id)
			}
		}
		want := strings.Repeat("sign_in rehashed sign_in valid ", 5)
		if got := strings.Join(obs.heard, " ") + " "; got != want {
			t.Errorf("observer heard %q, want %q", got, want)
		}
		// A reset link issued before the upgrade still works: no link ended.
		tok := e.mustToken(t, "bcrypt@example.org")
		if _, err := e.p.SignIn(ctx, client, signIn("", "django@example.org", legacyPassword)); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Reset(ctx, client, tok, pwB); err != nil {
			t.Fatalf("a link issued before an upgrade: %v", err)
		}
		// Only the reset's event was queued, none for the upgrades.
		if ev := rec.next(t); ev.body.Data.Method != models.MethodReset || webhookJobs(t, db) != 1 {
			t.Fatalf("got %+v and %d events, want the reset's alone", ev.body, webhookJobs(t, db))
		}
	})
}

// A hash under a retired pepper is upgraded to the current pepper.
func TestSignInUpgradesRetiredPepper(t *testing.T) {
	old := strings.Repeat("o", 32)
	e := newEnv(t, storetest.SQLite(t), func(c *envConfig) {
		c.password = config.Password{Argon2: testParams, Pepper: old, PepperID: "1"}
	})
	ctx := context.Background()
	u := e.mustUser(t, "pep@example.org", pwA)
	rotated := newEnv(t, e.db, func(c *envConfig) {
		c.password = config.Password{Argon2: testParams, Pepper: strings.Repeat("n", 32), PepperID: "2", OldPeppers: "1:" + old}
	})
	if got, err := rotated.p.SignIn(ctx, client, signIn(u.ID, "", pwA)); err != nil || !got.Valid {
		t.Fatalf("got %+v, %v", got, err)
	}
	if h := rotated.user(t, u.ID).PasswordHash; !strings.Contains(h, ",k=2$") {
		t.Fatalf("stored %s, want the current pepper's", h)
	}
}

// Wrong passwords back off per account, the right one included, and an
// unknown account backs off exactly like a known one, by id or by address;
// the back-off ends, and a right password then clears the count.
func TestSignInBackoff(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.ChangeFailures, l.ChangeBackoff, l.ChangeBackoffMax = 2, time.Minute, time.Hour
		e := newEnv(t, db, withLimits(l))
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		type answer struct {
			valid   bool
			limited bool
		}
		run := func(in models.SignIn) answer {
			got, err := e.p.SignIn(ctx, client, in)
			if err != nil && models.KindOf(err) != models.KindRateLimited {
				t.Fatalf("%+v: %v", in, err)
			}
			return answer{got.Valid, err != nil}
		}
		for _, tc := range []struct {
			name         string
			wrong, right models.SignIn
		}{
			{"a known account by address", signIn("", "ann@example.org", pwB), signIn("", "ann@example.org", pwA)},
			{"an unknown address", signIn("", "nobody@example.org", pwB), signIn("", "nobody@example.org", pwA)},
			{"an unknown id", signIn("ghost", "", pwB), signIn("ghost", "", pwA)},
		} {
			got := []answer{run(tc.wrong), run(tc.wrong), run(tc.right)}
			wantRight := answer{limited: true}
			if want := []answer{{}, {}, wantRight}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Errorf("%s: got %v, want two invalid answers, then 429 even for the right password", tc.name, got)
			}
		}
		// The known account is throttled by id too: one count per account.
		if got := run(signIn(u.ID, "", pwA)); !got.limited {
			t.Fatal("the known account's back-off does not hold by id")
		}
		e.clock.Advance(time.Minute + time.Second)
		if got := run(signIn(u.ID, "", pwA)); !got.valid {
			t.Fatalf("after the back-off the right password got %+v", got)
		}
		if got := []answer{run(signIn(u.ID, "", pwB)), run(signIn(u.ID, "", pwA))}; got[0].limited || !got[1].valid {
			t.Fatalf("a right password did not clear the count: %v", got)
		}
	})
}

// Failures per client IP are limited across accounts; right passwords do
// not count, and other clients are not affected.
func TestSignInClientLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.SignInFailuresPer15m = 2
		e := newEnv(t, db, withLimits(l))
		obs := &observed{}
		e.p.Observer = obs
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		for range 3 {
			if got, err := e.p.SignIn(ctx, client, signIn(u.ID, "", pwA)); err != nil || !got.Valid {
				t.Fatalf("a right password: %+v, %v", got, err)
			}
		}
		for _, id := range []string{"x1", "x2"} {
			if _, err := e.p.SignIn(ctx, client, signIn(id, "", pwB)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.p.SignIn(ctx, client, signIn(u.ID, "", pwA))
		mustRateLimited(t, err)
		other := signIn(u.ID, "", pwA)
		other.ClientIP = "203.0.113.8"
		if got, err := e.p.SignIn(ctx, client, other); err != nil || !got.Valid {
			t.Fatalf("another client: %+v, %v", got, err)
		}
		noIP := signIn(u.ID, "", pwA)
		noIP.ClientIP = ""
		if got, err := e.p.SignIn(ctx, client, noIP); err != nil || !got.Valid {
			t.Fatalf("a check without client_ip: %+v, %v", got, err)
		}
		if !strings.Contains(strings.Join(obs.heard, " "), "limit sign_in_ip sign_in limited") {
			t.Errorf("observer heard %v, want the sign_in_ip 429", obs.heard)
		}
	})
}

// A check that finds no hashing slot answers 503 and is counted nowhere:
// neither the client's failures nor the account's.
func TestSignInBusyCountsNothing(t *testing.T) {
	pool := slots.New(1, 10*time.Millisecond, nil)
	l := generousLimits()
	l.SignInFailuresPer15m, l.ChangeFailures = 1, 1
	e := newEnv(t, storetest.SQLite(t), withLimits(l), func(c *envConfig) { c.pool = pool })
	ctx := context.Background()
	u := e.mustUser(t, "ann@example.org", pwA)
	release, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.p.SignIn(ctx, client, signIn(u.ID, "", pwB)); !errors.Is(err, models.ErrHashBusy) {
			release()
			t.Fatalf("got %v, want ErrHashBusy", err)
		}
	}
	release()
	if got, err := e.p.SignIn(ctx, client, signIn(u.ID, "", pwB)); err != nil || got.Valid {
		t.Fatalf("the first counted failure: %+v, %v; want invalid, not 429", got, err)
	}
	_, err = e.p.SignIn(ctx, client, signIn(u.ID, "", pwA))
	mustRateLimited(t, err)
}

// The sign-in check's back-off is its own: whoever guesses at the sign-in
// form cannot hold up the signed-in person's change of password, a change
// or a completed reset ends it, and failures against an id before its
// account existed do not follow the account created under it.
func TestSignInBackoffIsItsOwn(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.ChangeFailures, l.ChangeBackoff, l.ChangeBackoffMax = 2, time.Hour, time.Hour
		e := newEnv(t, db, withLimits(l))
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		wrong := signIn(u.ID, "", pwB)
		for range 2 {
			if _, err := e.p.SignIn(ctx, client, wrong); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.p.SignIn(ctx, client, signIn(u.ID, "", pwA))
		mustRateLimited(t, err)
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, pwA, pwB); err != nil {
			t.Fatalf("the signed-in person's change during the sign-in back-off: %v", err)
		}
		e.mail.next(t) // its notice
		if got, err := e.p.SignIn(ctx, client, signIn(u.ID, "", pwB)); err != nil || !got.Valid {
			t.Fatalf("after the change the back-off still holds: %+v, %v", got, err)
		}
		// A completed reset ends it too.
		for range 2 {
			if _, err := e.p.SignIn(ctx, client, signIn("", "ann@example.org", pwC)); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.p.Reset(ctx, client, e.mustToken(t, "ann@example.org"), pwC); err != nil {
			t.Fatal(err)
		}
		if got, err := e.p.SignIn(ctx, client, signIn("", "ann@example.org", pwC)); err != nil || !got.Valid {
			t.Fatalf("after the reset the back-off still holds: %+v, %v", got, err)
		}
		// Failures against an id nobody has yet.
		for range 3 {
			_, _ = e.p.SignIn(ctx, client, signIn("shop:1001", "", pwB))
		}
		if _, err := e.p.CreateUserWith(ctx, NewUser{ID: "shop:1001", Email: "new@example.org", Password: pwA}); err != nil {
			t.Fatal(err)
		}
		if got, err := e.p.SignIn(ctx, client, signIn("shop:1001", "", pwA)); err != nil || !got.Valid {
			t.Fatalf("a new account inherited the failures made before it existed: %+v, %v", got, err)
		}
		// The table holds neither an address nor an id of an unknown account.
		rows, err := db.SQL().Query(`SELECT user_id FROM change_failures`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			if err := rows.Scan(&key); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(key, "shop:1001") || strings.Contains(key, "@") || strings.Contains(key, "nobody") {
				t.Errorf("change_failures holds the key %q", key)
			}
		}
	})
}
