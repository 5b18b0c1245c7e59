package account

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// runImport imports file and returns the summary and every note.
func (e *testEnv) runImport(t *testing.T, file string, opts ImportOptions) (models.ImportSummary, []ImportNote) {
	t.Helper()
	var notes []ImportNote
	opts.Note = func(n ImportNote) { notes = append(notes, n) }
	sum, err := e.p.Import(context.Background(), strings.NewReader(file), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return sum, notes
}

// user reads an account, failing the test when it is missing.
func (e *testEnv) user(t *testing.T, id string) models.User {
	t.Helper()
	u, err := e.db.UserByID(context.Background(), id)
	if err != nil {
		t.Fatalf("account %s: %v", id, err)
	}
	return u
}

// lines joins JSON Lines.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// Every rule a line can break is an error for that line alone, reported
// with its number and a reason that names no address and no hash; the
// other lines go in.
func TestImportRefusesBadLines(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		future := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
		const secretAddr, secretHash = "hidden.person@example.org", legacyBcrypt
		costly := legacyBcrypt[:4] + "32" + legacyBcrypt[6:] // bcrypt defines costs 4–31
		// Above the default caps, password.max_bcrypt_cost 14 and
		// max_pbkdf2_iterations 1,000,000: every verification would hold a
		// hashing slot for seconds.
		slowBcrypt := legacyBcrypt[:4] + "15" + legacyBcrypt[6:]
		slowDjango := "pbkdf2_sha256$1000001$salt$" + base64.StdEncoding.EncodeToString(make([]byte, 32))
		rows := []struct{ name, line, reason string }{
			{"malformed JSON", `{"id":"x1","email":`, "malformed JSON"},
			{"not an object", `["x1","` + secretAddr + `"]`, "not a JSON object"},
			{"unknown member", `{"id":"x1","email":"` + secretAddr + `","pasword_hash":"x"}`, `unknown member "pasword_hash"`},
			{"unknown member that could be an address", `{"id":"x1","` + secretAddr + `":"x"}`, "unknown member (not shown)"},
			{"another case", `{"ID":"x1","email":"` + secretAddr + `"}`, `unknown member "ID"`},
			{"duplicate member", `{"id":"x1","email":"` + secretAddr + `","email":"` + secretAddr + `"}`, "member email appears twice"},
			{"a number", `{"id":42,"email":"` + secretAddr + `"}`, "id must be a string"},
			{"null", `{"id":"x1","email":"` + secretAddr + `","locale":null}`, "locale must be a string"},
			{"missing id", `{"email":"` + secretAddr + `"}`, "missing id"},
			{"missing email", `{"id":"x1"}`, "missing email"},
			{"bad id", `{"id":"has space","email":"` + secretAddr + `"}`, "id: an account id is 1–128 characters"},
			{"bad email", `{"id":"x1","email":"hidden.person@@example.org"}`, "email: not a valid address"},
			{"unsupported locale", `{"id":"x1","email":"` + secretAddr + `","locale":"ja"}`, "locale: not a supported language (one of en, de, fr, es"},
			{"unknown hash format", `{"id":"x1","email":"` + secretAddr + `","password_hash":"md5$abc"}`, "password_hash: not a well-formed hash of a supported format"},
			{"hash out of bounds", `{"id":"x1","email":"` + secretAddr + `","password_hash":"` + costly + `"}`, "bcrypt cost out of bounds"},
			{"bcrypt above the cost cap", `{"id":"x1","email":"` + secretAddr + `","password_hash":"` + slowBcrypt + `"}`, "bcrypt cost 15 is above password.max_bcrypt_cost (14)"},
			{"pbkdf2 above the iterations cap", `{"id":"x1","email":"` + secretAddr + `","password_hash":"` + slowDjango + `"}`, "above password.max_pbkdf2_iterations (1000000)"},
			{"truncated hash", `{"id":"x1","email":"` + secretAddr + `","password_hash":"` + secretHash[:40] + `"}`, "not a bcrypt hash of 60 characters"},
			{"empty hash", `{"id":"x1","email":"` + secretAddr + `","password_hash":""}`, "password_hash is empty"},
			{"time without zone", `{"id":"x1","email":"` + secretAddr + `","password_changed_at":"2025-01-02 03:04:05"}`, "password_changed_at: not an RFC 3339 time"},
			{"time in the future", `{"id":"x1","email":"` + secretAddr + `","password_changed_at":"` + future + `"}`, "password_changed_at is in the future"},
			{"data after the object", `{"id":"x1","email":"` + secretAddr + `"} {}`, "data after the object"},
			{"invalid UTF-8", "{\"id\":\"x1\",\"email\":\"a\xff@example.org\"}", "not valid UTF-8"},
			{"two problems at once", `{"id":"","email":"nope"}`, "id: an account id is 1–128 characters of A–Z, a–z, 0–9 and . _ : @ -; email: not a valid address"},
			{"address of another id", `{"id":"x2","email":"Taken@Example.org"}`, "the address belongs to an account with another id"},
			{"too long", `{"id":"x1","email":"` + secretAddr + `","locale":"` + strings.Repeat("e", MaxImportLine) + `"}`, "line longer than 65536 bytes"},
		}
		file := []string{`{"id":"taker","email":"taken@example.org"}`}
		for _, r := range rows {
			file = append(file, r.line)
		}
		file = append(file, `{"id":"last","email":"`+secretAddr+`","password_hash":"`+secretHash+`"}`)
		sum, notes := e.runImport(t, lines(file...), ImportOptions{})
		if want := (models.ImportSummary{Imported: 2, Errors: len(rows)}); sum != want {
			t.Errorf("summary %+v, want %+v", sum, want)
		}
		if len(notes) != len(rows) {
			t.Fatalf("%d notes, want %d: %+v", len(notes), len(rows), notes)
		}
		for i, r := range rows {
			n := notes[i]
			if n.Line != i+2 || !n.Failed || !strings.Contains(n.Reason, r.reason) {
				t.Errorf("%s: note %+v, want line %d failed with %q", r.name, n, i+2, r.reason)
			}
			for _, leak := range []string{secretAddr, "hidden.person", secretHash[7:], "taken@"} {
				if strings.Contains(n.Reason, leak) {
					t.Errorf("%s: the reason %q quotes %q", r.name, n.Reason, leak)
				}
			}
		}
		if got := e.user(t, "last"); got.PasswordHash != secretHash || got.Email != secretAddr {
			t.Errorf("the last line did not go in: %+v", got)
		}
		if n := storetest.Count(t, db, "users"); n != 2 {
			t.Errorf("%d accounts, want 2", n)
		}
	})
}

// Windows line endings, a byte-order mark, blank lines and a last line
// without a newline are all read as a person would expect.
func TestImportReadsLinesLeniently(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	file := "\uFEFF{\"id\":\"a\",\"email\":\"a@example.org\"}\r\n\r\n   \n{\"id\":\"b\",\"email\":\"b@example.org\"}\r\n{\"id\":\"c\",\"email\":\"c@example.org\"}"
	sum, notes := e.runImport(t, file, ImportOptions{})
	if sum != (models.ImportSummary{Imported: 3}) || len(notes) != 0 {
		t.Fatalf("summary %+v, notes %+v; want 3 imported and nothing else", sum, notes)
	}
}

// The rules for an existing id: what is kept, what is replaced, and when a
// line's hash is not taken because the password set here is newer.
func TestImportUpdatesByID(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		start := e.clock.Now()
		t0 := start.Add(-72 * time.Hour).UTC()
		at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
		first := lines(
			`{"id":"42","email":"ann@example.org","password_hash":"`+legacyBcrypt+`","locale":"de","password_changed_at":"`+at(0)+`"}`,
			`{"id":"43","email":"bob@example.org"}`,
			`{"id":"44","email":"cy@example.org","password_hash":"`+legacyDjango+`"}`,
		)
		if sum, _ := e.runImport(t, first, ImportOptions{}); sum != (models.ImportSummary{Imported: 3}) {
			t.Fatalf("first run: %+v", sum)
		}
		ann := e.user(t, "42")
		if ann.Locale != "de" || !ann.PasswordChangedAt.Equal(t0) || ann.PasswordHash != legacyBcrypt {
			t.Fatalf("ann as imported: %+v", ann)
		}
		if bob := e.user(t, "43"); bob.PasswordHash != "" || !bob.PasswordChangedAt.Equal(start) {
			t.Fatalf("bob: %+v, want no password and password_changed_at = the time of the import", bob)
		}

		// The same file again changes nothing.
		if sum, notes := e.runImport(t, first, ImportOptions{}); sum != (models.ImportSummary{Unchanged: 3}) || len(notes) != 0 {
			t.Fatalf("second run: %+v %+v", sum, notes)
		}

		// Ann moves address (her live reset token ends), keeps her hash and
		// locale when the line has neither; bob's locale is cleared by "".
		tok := e.mustToken(t, "ann@example.org")
		e.clock.Advance(time.Minute)
		sum, _ := e.runImport(t, lines(
			`{"id":"42","email":"Ann@New.example"}`,
			`{"id":"43","email":"bob@example.org","locale":""}`,
		), ImportOptions{})
		if sum != (models.ImportSummary{Updated: 1, Unchanged: 1}) {
			t.Fatalf("move: %+v", sum)
		}
		ann = e.user(t, "42")
		if ann.Email != "Ann@New.example" || ann.PasswordHash != legacyBcrypt || ann.Locale != "de" || !ann.PasswordChangedAt.Equal(t0) {
			t.Fatalf("after the move: %+v", ann)
		}
		if err := e.p.Reset(ctx, client, tok, pwB); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("the token mailed to the old address: got %v, want ErrInvalidToken", err)
		}

		// The same hash with another time takes the time (it is the same
		// password); another hash with a later time than cy's (the time of
		// the first import) replaces it, with an earlier one it would not.
		cyAt := e.clock.Now().Add(-30 * time.Second)
		sum, _ = e.runImport(t, lines(
			`{"id":"42","email":"Ann@New.example","password_hash":"`+legacyBcrypt+`","password_changed_at":"`+at(-time.Hour)+`"}`,
			`{"id":"44","email":"cy@example.org","password_hash":"`+legacyBcrypt+`","password_changed_at":"`+cyAt.Format(time.RFC3339Nano)+`"}`,
		), ImportOptions{})
		if sum != (models.ImportSummary{Updated: 2}) {
			t.Fatalf("times: %+v", sum)
		}
		if ann := e.user(t, "42"); !ann.PasswordChangedAt.Equal(t0.Add(-time.Hour)) {
			t.Fatalf("ann's time: %v", ann.PasswordChangedAt)
		}
		if cy := e.user(t, "44"); cy.PasswordHash != legacyBcrypt || !cy.PasswordChangedAt.Equal(cyAt) {
			t.Fatalf("cy: %+v", cy)
		}

		// Ann resets her password here; an old file's line does not take
		// her back to the imported hash, but a line without a time (it
		// means "now") or with a later one does.
		if err := e.p.Reset(ctx, client, e.mustToken(t, "Ann@New.example"), pwB); err != nil {
			t.Fatal(err)
		}
		e.mail.next(t) // the notice
		// Cy's line has no time: it replaces the hash (see below).
		sum, notes := e.runImport(t, first, ImportOptions{})
		if sum != (models.ImportSummary{Updated: 2, Unchanged: 1}) || len(notes) != 1 || notes[0].Line != 1 || notes[0].Failed ||
			!strings.Contains(notes[0].Reason, "password_hash not taken") {
			t.Fatalf("old file after a reset: %+v %+v", sum, notes)
		}
		if !e.verifies(t, "42", pwB) {
			t.Fatal("the old file took ann back to her imported password")
		}
		e.clock.Advance(time.Minute)
		sum, _ = e.runImport(t, lines(`{"id":"42","email":"ann@example.org","password_hash":"`+legacyDjango+`"}`), ImportOptions{})
		if ann := e.user(t, "42"); sum != (models.ImportSummary{Updated: 1}) || ann.PasswordHash != legacyDjango || !ann.PasswordChangedAt.Equal(e.clock.Now()) {
			t.Fatalf("a line without a time: %+v %+v", sum, ann)
		}

		// An account without a password takes a hash whatever its time.
		sum, _ = e.runImport(t, lines(`{"id":"43","email":"bob@example.org","password_hash":"`+legacyBcrypt+`","password_changed_at":"`+at(-48*time.Hour)+`"}`), ImportOptions{})
		if bob := e.user(t, "43"); sum != (models.ImportSummary{Updated: 1}) || bob.PasswordHash != legacyBcrypt {
			t.Fatalf("bob's first password: %+v %+v", sum, bob)
		}
	})
}

// An account imported without a password has none: {"old","new"} is a
// plain wrong password (never a stored-hash fault), and a reset by email
// gives it one.
func TestImportedAccountWithoutPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		e.runImport(t, lines(`{"id":"np","email":"np@example.org"}`), ImportOptions{})
		s := models.Session{UserID: "np"}
		for _, old := range []string{"", "anything at all here", pwA} {
			if err := e.p.Change(ctx, client, s, old, pwB); !errors.Is(err, models.ErrWrongPassword) {
				t.Fatalf("old %q: got %v, want ErrWrongPassword", old, err)
			}
		}
		if err := e.p.Reset(ctx, client, e.mustToken(t, "np@example.org"), pwB); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if !e.verifies(t, "np", pwB) || hash.Format(e.user(t, "np").PasswordHash) != hash.FormatArgon2id {
			t.Fatal("after the reset the account must have an argon2id password")
		}
	})
}

// Imported hashes verify through {"old","new"}, which stores argon2id.
func TestImportedHashesChange(t *testing.T) {
	e := newEnv(t, storetest.Postgres(t))
	e.runImport(t, lines(
		`{"id":"b","email":"b@example.org","password_hash":"`+legacyBcrypt+`"}`,
		`{"id":"d","email":"d@example.org","password_hash":"`+legacyDjango+`"}`,
	), ImportOptions{})
	for _, id := range []string{"b", "d"} {
		if err := e.p.Change(context.Background(), client, models.Session{UserID: id}, legacyPassword, pwB); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !e.verifies(t, id, pwB) {
			t.Fatalf("%s: the new password does not verify", id)
		}
	}
}

// Addresses handed from one id to another within a file, and the same id
// twice, apply as if line by line: in one batch (statements in rounds) and
// across batches alike, and a dry run predicts the same.
func TestImportOrderWithinAndAcrossBatches(t *testing.T) {
	file := lines(
		`{"id":"a","email":"a@example.org"}`,
		`{"id":"b","email":"b@example.org"}`,
		`{"id":"a","email":"tmp@example.org"}`,             // a gives up a@
		`{"id":"b","email":"a@example.org"}`,               // b takes it, gives up b@
		`{"id":"a","email":"b@example.org"}`,               // a takes b@: a swap
		`{"id":"c","email":"tmp@example.org"}`,             // a gave up tmp@ too
		`{"id":"d","email":"a@example.org"}`,               // still b's: an error
		`{"id":"a","email":"b@example.org"}`,               // unchanged
		`{"id":"e","email":"e@example.org"}`,               // new
		`{"id":"e","email":"e@example.org","locale":"fr"}`, // and updated in the same batch
	)
	want := models.ImportSummary{Imported: 4, Updated: 4, Unchanged: 1, Errors: 1}
	for _, size := range []int{1, 3, 500} {
		t.Run(fmt.Sprintf("batches of %d", size), func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				dry, dryNotes := e.runImport(t, file, ImportOptions{BatchSize: size, DryRun: true})
				if n := storetest.Count(t, db, "users"); n != 0 {
					t.Fatalf("the dry run wrote %d accounts", n)
				}
				sum, notes := e.runImport(t, file, ImportOptions{BatchSize: size})
				if sum != want || dry != want {
					t.Fatalf("summary %+v, dry run %+v; want %+v", sum, dry, want)
				}
				if len(notes) != 1 || notes[0].Line != 7 || len(dryNotes) != 1 || dryNotes[0] != notes[0] {
					t.Fatalf("notes %+v, dry run %+v; want line 7 in both", notes, dryNotes)
				}
				for id, addr := range map[string]string{"a": "b@example.org", "b": "a@example.org", "c": "tmp@example.org", "e": "e@example.org"} {
					if u := e.user(t, id); u.Email != addr {
						t.Errorf("%s has %s, want %s", id, u.Email, addr)
					}
				}
				if e.user(t, "e").Locale != "fr" {
					t.Error("the second line of e was not applied")
				}
			})
		})
	}
}

// A dry run checks against the database (an address another id holds) and
// writes nothing: no account, no job.
func TestImportDryRunWritesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.mustUser(t, "held@example.org", pwA)
		file := lines(
			`{"id":"n1","email":"held@example.org"}`,
			`{"id":"n2","email":"n2@example.org","password_hash":"`+legacyBcrypt+`"}`,
		)
		sum, notes := e.runImport(t, file, ImportOptions{DryRun: true})
		if sum != (models.ImportSummary{Imported: 1, Errors: 1}) || len(notes) != 1 || !strings.Contains(notes[0].Reason, "another id") {
			t.Fatalf("dry run: %+v %+v", sum, notes)
		}
		if n := storetest.Count(t, db, "users") + storetest.Count(t, db, "river_job"); n != 1 {
			t.Fatalf("%d rows after a dry run, want only the account created before", n)
		}
	})
}

// A failure in the middle of a file (the database refuses one batch, or
// the import is cancelled) leaves the batches before it applied and
// nothing of the failed one; a second run completes the file and counts
// the lines already in as unchanged.
func TestImportInterruptedMidFile(t *testing.T) {
	var file []string
	for i := range 50 {
		file = append(file, fmt.Sprintf(`{"id":"u-%02d","email":"u%02d@example.org","password_hash":"%s"}`, i, i, legacyBcrypt))
	}
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		failOn, failOff := `CREATE TRIGGER fail_users BEFORE INSERT ON users WHEN NEW.id = 'u-25' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`DROP TRIGGER fail_users`
		if db.Postgres() {
			failOn = `CREATE FUNCTION fail_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
					IF NEW.id = 'u-25' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
				CREATE TRIGGER fail_users BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION fail_users()`
			failOff = `DROP TRIGGER fail_users ON users`
		}
		if _, err := db.SQL().Exec(failOn); err != nil {
			t.Fatal(err)
		}
		sum, err := e.p.Import(context.Background(), strings.NewReader(lines(file...)), ImportOptions{BatchSize: 10})
		if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "lines 21–30") {
			t.Fatalf("got %v, want the injected failure in lines 21–30", err)
		}
		if sum != (models.ImportSummary{Imported: 20}) || storetest.Count(t, db, "users") != 20 {
			t.Fatalf("summary %+v with %d accounts; want the two committed batches", sum, storetest.Count(t, db, "users"))
		}
		if _, err := db.UserByID(context.Background(), "u-20"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a line of the failed batch is in: %v", err)
		}
		if _, err := db.SQL().Exec(failOff); err != nil {
			t.Fatal(err)
		}

		// Cancelled after the third batch of the second run.
		ctx, cancel := context.WithCancel(context.Background())
		batches := 0
		sum, err = e.p.Import(ctx, strings.NewReader(lines(file...)), ImportOptions{BatchSize: 10, Progress: func(models.ImportSummary) {
			if batches++; batches == 3 {
				cancel()
			}
		}})
		if err == nil || sum != (models.ImportSummary{Imported: 10, Unchanged: 20}) || storetest.Count(t, db, "users") != 30 {
			t.Fatalf("cancelled: %v, %+v, %d accounts", err, sum, storetest.Count(t, db, "users"))
		}

		sum, notes := e.runImport(t, lines(file...), ImportOptions{BatchSize: 10})
		if sum != (models.ImportSummary{Imported: 20, Unchanged: 30}) || len(notes) != 0 || storetest.Count(t, db, "users") != 50 {
			t.Fatalf("the run again: %+v %+v", sum, notes)
		}
	})
}
