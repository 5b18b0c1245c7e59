package account

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// The language of an email: the account's locale, else the language the
// request asked for (Accept-Language, negotiated when it is queued), else
// mail.default_locale; an unsupported, garbled or huge header counts as
// none.
func TestEmailLanguage(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withMail(func(c *config.Mail) { c.DefaultLocale, c.ProductName = "es", "Acme" }))
		ctx := context.Background()
		if _, err := e.p.CreateUserWith(ctx, NewUser{Email: "de@example.org", Password: pwA, Locale: "de-AT"}); err != nil {
			t.Fatal(err)
		}
		e.mustUser(t, "none@example.org", pwA)
		tests := []struct {
			name, email, acceptLanguage string
			want, subject               string
		}{
			{"account locale wins", "de@example.org", "fr-FR,fr;q=0.9", "de", "Passwort für Acme zurücksetzen"},
			{"request language without a locale", "none@example.org", "fr-CA,fr;q=0.9,en;q=0.5", "fr", "Réinitialisez votre mot de passe Acme"},
			{"second choice when the first is unsupported", "none@example.org", "ja, en-GB;q=0.8", "en", "Reset your password for Acme"},
			{"no header gives the default", "none@example.org", "", "es", "Restablezca su contraseña de Acme"},
			{"unsupported language gives the default", "none@example.org", "pt-BR", "es", "Restablezca su contraseña de Acme"},
			{"garbage gives the default", "none@example.org", "\x00;q=;;,<de>", "es", "Restablezca su contraseña de Acme"},
			{"huge header gives the default", "none@example.org", strings.Repeat("ja,", 200) + "fr", "es", "Restablezca su contraseña de Acme"},
		}
		for _, tt := range tests {
			c := client
			c.Languages = tt.acceptLanguage
			if err := e.p.RequestReset(ctx, c, tt.email); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			m := e.mail.next(t)
			if m.Language != tt.want || m.Subject != tt.subject {
				t.Errorf("%s: got %s %q, want %s %q", tt.name, m.Language, m.Subject, tt.want, tt.subject)
			}
		}
	})
}

// The notice follows the same rule, with the language of the request that
// changed the password; it links to the request page on reset.url's origin.
func TestNoticeLanguage(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	u := e.mustUser(t, "ann@example.org", pwA)
	tok := e.mustToken(t, "ann@example.org")
	c := client
	c.Languages = "de-CH, de;q=0.9"
	if err := e.p.Reset(context.Background(), c, tok, pwB); err != nil {
		t.Fatal(err)
	}
	n := e.mail.next(t)
	if n.Kind != models.MessageNotice || n.To != u.Email || n.Language != "de" || n.Subject != "Ihr Passwort für accountpw wurde geändert" {
		t.Fatalf("got %s to %s in %s: %q", n.Kind, n.To, n.Language, n.Subject)
	}
	if !strings.Contains(n.Text, "https://app.example.org/password-reset/request") {
		t.Errorf("the notice does not link to the request page:\n%s", n.Text)
	}
}

func TestCreateUserLocale(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	u, err := e.p.CreateUserWith(ctx, NewUser{Email: "fr@example.org", Password: pwA, Locale: "fr-ca"})
	if err != nil || u.Locale != "fr-CA" {
		t.Fatalf("got %q %v, want the canonical fr-CA", u.Locale, err)
	}
	if got, err := e.db.UserByID(ctx, u.ID); err != nil || got.Locale != "fr-CA" {
		t.Fatalf("stored locale %q %v, want fr-CA", got.Locale, err)
	}
	for _, bad := range []string{"pt", "french", "de;q=0.5"} {
		if _, err := e.p.CreateUserWith(ctx, NewUser{Email: "x@example.org", Password: pwA, Locale: bad}); !errors.Is(err, models.ErrUnsupportedLocale) {
			t.Errorf("locale %q: got %v, want ErrUnsupportedLocale", bad, err)
		}
	}
	if u, err := e.p.CreateUser(ctx, "none@example.org", pwA); err != nil || u.Locale != "" {
		t.Errorf("CreateUser: got locale %q %v, want none", u.Locale, err)
	}
}

// A reset email sent again after a crash cut its first send short (the
// provider may have taken it) carries the first email's link, which keeps
// working; once that link is used, a further attempt sends nothing and does
// not bring it back. The database holds the seed and the token's hash,
// never a usable token.
func TestCrashResendKeepsTheLink(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		u := e.mustUser(t, "ann@example.org", pwA)
		m := mustMails(t, db, config.DefaultMail(), e.clock.Now)
		ctx := context.Background()
		now := e.clock.Now()
		job := queue.Reset{EmailKey: models.EmailKey("ann@example.org"), RequestedAt: now,
			Deadline: now.Add(testReset.TokenTTL), TokenSeed: newTokenSeed()}
		compose := func() (string, error) {
			t.Helper()
			msg, err := m.ComposeReset(ctx, job, "job-1")
			if err != nil {
				return "", err
			}
			return tokenFrom(t, msg), nil
		}
		first, err := compose()
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute) // the rescued attempt comes later
		again, err := compose()
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatal("the re-sent email carries another link: the first email's link is dead")
		}
		if plain, _ := tokenFromSeed(testTokenKey, job.TokenSeed); plain != first {
			t.Fatal("the link is not the keyed derivation of the seed")
		}
		other := job
		other.TokenSeed = newTokenSeed()
		if o, _ := tokenFromSeed(testTokenKey, other.TokenSeed); o == first {
			t.Fatal("two seeds gave one token")
		}
		if err := e.p.Reset(ctx, client, first, pwB); err != nil {
			t.Fatalf("the first email's link after the re-send: %v", err)
		}
		if !e.verifies(t, u.ID, pwB) {
			t.Fatal("the reset did not set the password")
		}
		if _, err := compose(); !errors.Is(err, queue.ErrLinkUsed) {
			t.Fatalf("an attempt after the link was used: got %v, want ErrLinkUsed", err)
		}
		if err := e.p.Reset(ctx, client, first, pwA); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("the used link after another attempt: got %v, want ErrInvalidToken", err)
		}
	})
}

// Of two requests for one account, the later one's link wins, in whichever
// order their emails are sent: the earlier request's email attempted again
// after the later one was sent (a crash, a 5xx, `mail retry`) sends
// nothing, the later link keeps working, and no link lives longer than one
// lifetime after it was first issued.
func TestLaterRequestWinsWhateverTheSendOrder(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.mustUser(t, "ann@example.org", pwA)
		m := mustMails(t, db, config.DefaultMail(), e.clock.Now)
		ctx := context.Background()
		request := func() queue.Reset {
			now := e.clock.Now()
			return queue.Reset{EmailKey: models.EmailKey("ann@example.org"), RequestedAt: now,
				Deadline: now.Add(testReset.TokenTTL), TokenSeed: newTokenSeed()}
		}
		compose := func(job queue.Reset) (string, error) {
			msg, err := m.ComposeReset(ctx, job, "job")
			if err != nil {
				return "", err
			}
			return tokenFrom(t, msg), nil
		}
		earlier := request()
		first, err := compose(earlier) // delivered, but the worker crashed before it said so
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(20 * time.Minute)
		second, err := compose(request()) // the person asks again
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(9 * time.Minute) // the earlier job is attempted again, within its deadline
		if _, err := compose(earlier); !errors.Is(err, queue.ErrSuperseded) {
			t.Fatalf("the earlier request's email after the later one's: got %v, want ErrSuperseded", err)
		}
		if err := e.p.Reset(ctx, client, first, pwB); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("the superseded link: got %v, want ErrInvalidToken", err)
		}
		e.clock.Advance(20 * time.Minute) // 49 minutes after the first link, 29 after the second
		if err := e.p.Reset(ctx, client, second, pwB); err != nil {
			t.Fatalf("the later request's link: %v", err)
		}
	})
}

// Without a token key (JWKS mode without ACCOUNTPW_RESET_TOKEN_KEY), or for
// a job queued without a seed, each attempt issues a token of its own and
// the latest link is the live one.
func TestResendWithoutKeyIssuesAFreshLink(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db)
	e.mustUser(t, "ann@example.org", pwA)
	r, err := mail.NewRenderer(config.DefaultMail())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, tc := range map[string]struct {
		key  []byte
		seed string
	}{"no key": {nil, newTokenSeed()}, "no seed": {testTokenKey, ""}} {
		m := NewMails(db, config.Config{Reset: testReset, Mail: config.DefaultMail(), HTTP: config.DefaultHTTP()}, r, tc.key, e.clock.Now)
		job := queue.Reset{EmailKey: models.EmailKey("ann@example.org"), TokenSeed: tc.seed}
		var links []string
		for range 2 {
			msg, err := m.ComposeReset(ctx, job, "job-1")
			if err != nil {
				t.Fatal(err)
			}
			links = append(links, tokenFrom(t, msg))
		}
		if links[0] == links[1] {
			t.Errorf("%s: two attempts carried one link", name)
		}
	}
}
