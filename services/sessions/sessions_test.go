package sessions

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

func mustSign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRaw signs payload, as it is (duplicate members, strings where numbers
// belong), with HS256 under key; header is the JSON header.
func signRaw(header, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	text := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(text))
	return text + "." + enc.EncodeToString(mac.Sum(nil))
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// mustAccount stores an account whose password last changed at changed.
func mustAccount(t *testing.T, db *store.DB, id string, changed time.Time) models.User {
	t.Helper()
	u := models.User{ID: id, Email: id + "@example.org", EmailKey: id + "@example.org", PasswordHash: "x",
		PasswordChangedAt: changed, CreatedAt: changed, UpdatedAt: changed}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

var (
	secret  = []byte("0123456789abcdef0123456789abcdef")
	discard = slog.New(slog.DiscardHandler)
)

// TestAuthenticateHS256 runs on both databases: a sub that cannot be an
// account id must be refused before any query, and PostgreSQL, unlike
// SQLite, fails on a NUL in a compared value instead of matching nothing.
func TestAuthenticateHS256(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		changed := time.Now().UTC().Truncate(time.Second)
		u := mustAccount(t, db, "sess", changed)
		now := changed.Add(time.Minute)
		s, err := New(context.Background(), db, config.Auth{}, secret, func() time.Time { return now }, discard)
		if err != nil {
			t.Fatal(err)
		}
		other := []byte("another-secret-0123456789abcdefghij")
		claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
			c := jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
			if mod != nil {
				mod(c)
			}
			return c
		}
		sign := func(mod func(jwt.MapClaims)) string {
			return mustSign(t, jwt.SigningMethodHS256, secret, claims(mod), "")
		}
		iat, exp := now.Unix(), now.Add(time.Hour).Unix()
		raw := func(format string, a ...any) string { return signRaw(hs256Header, fmt.Sprintf(format, a...), secret) }
		cases := []struct {
			name  string
			token string
			want  error
		}{
			{"valid", sign(nil), nil},
			{"valid with a not-before in the past", sign(func(c jwt.MapClaims) { c["nbf"] = now.Add(-time.Minute).Unix() }), nil},
			{"valid with fractional seconds", raw(`{"sub":%q,"iat":%d.25,"exp":%d.5}`, u.ID, iat, exp), nil},
			{"bad signature", mustSign(t, jwt.SigningMethodHS256, other, claims(nil), ""), models.ErrUnauthenticated},
			{"other HMAC algorithm", mustSign(t, jwt.SigningMethodHS512, secret, claims(nil), ""), models.ErrUnauthenticated},
			{"alg none", mustSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), ""), models.ErrUnauthenticated},
			{"expired", sign(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), models.ErrUnauthenticated},
			{"no exp", sign(func(c jwt.MapClaims) { delete(c, "exp") }), models.ErrUnauthenticated},
			{"no iat", sign(func(c jwt.MapClaims) { delete(c, "iat") }), models.ErrUnauthenticated},
			{"iat in the future", sign(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), models.ErrUnauthenticated},
			{"iat 20 s ahead, within exp's leeway", sign(func(c jwt.MapClaims) { c["iat"] = now.Add(20 * time.Second).Unix() }), models.ErrUnauthenticated},
			{"iat 2 s ahead", sign(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Second).Unix() }), models.ErrUnauthenticated},
			{"iat 1 s ahead", sign(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Second).Unix() }), nil},
			{"exp 20 s ago, within the leeway", sign(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() }), nil},
			{"not before in the future", sign(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), models.ErrUnauthenticated},
			{"iat as a string", raw(`{"sub":%q,"iat":"%d","exp":%d}`, u.ID, iat, exp), models.ErrUnauthenticated},
			{"exp as a string", raw(`{"sub":%q,"iat":%d,"exp":"%d"}`, u.ID, iat, exp), models.ErrUnauthenticated},
			{"nbf as a string", raw(`{"sub":%q,"iat":%d,"exp":%d,"nbf":"%d"}`, u.ID, iat, exp, iat), models.ErrUnauthenticated},
			{"iat null", raw(`{"sub":%q,"iat":null,"exp":%d}`, u.ID, exp), models.ErrUnauthenticated},
			{"iat negative", raw(`{"sub":%q,"iat":-1,"exp":%d}`, u.ID, exp), models.ErrUnauthenticated},
			{"exp beyond any date", raw(`{"sub":%q,"iat":%d,"exp":1e300}`, u.ID, iat), models.ErrUnauthenticated},
			{"sub twice", raw(`{"sub":"nobody","sub":%q,"iat":%d,"exp":%d}`, u.ID, iat, exp), models.ErrUnauthenticated},
			{"payload not an object", raw(`[%q,%d,%d]`, u.ID, iat, exp), models.ErrUnauthenticated},
			{"crit header", signRaw(`{"alg":"HS256","crit":["exp"]}`, fmt.Sprintf(`{"sub":%q,"iat":%d,"exp":%d}`, u.ID, iat, exp), secret), models.ErrUnauthenticated},
			{"empty crit header", signRaw(`{"alg":"HS256","crit":[]}`, fmt.Sprintf(`{"sub":%q,"iat":%d,"exp":%d}`, u.ID, iat, exp), secret), models.ErrUnauthenticated},
			{"no sub", sign(func(c jwt.MapClaims) { delete(c, "sub") }), models.ErrUnauthenticated},
			{"empty sub", sign(func(c jwt.MapClaims) { c["sub"] = "" }), models.ErrUnauthenticated},
			{"sub a number", raw(`{"sub":42,"iat":%d,"exp":%d}`, iat, exp), models.ErrUnauthenticated},
			{"NUL in sub", sign(func(c jwt.MapClaims) { c["sub"] = u.ID + "\x00" }), models.ErrUnauthenticated},
			{"only NUL as sub", raw(`{"sub":"\u0000","iat":%d,"exp":%d}`, iat, exp), models.ErrUnauthenticated},
			{"control character in sub", sign(func(c jwt.MapClaims) { c["sub"] = "se\x1bss" }), models.ErrUnauthenticated},
			{"C1 control character in sub", sign(func(c jwt.MapClaims) { c["sub"] = "se\u0085ss" }), models.ErrUnauthenticated},
			{"sub of 129 bytes", sign(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("a", 129) }), models.ErrUnauthenticated},
			{"unknown account", sign(func(c jwt.MapClaims) { c["sub"] = "nobody" }), models.ErrUnauthenticated},
			{"issued before the last change", sign(func(c jwt.MapClaims) { c["iat"] = now.Add(-2 * time.Minute).Unix() }), models.ErrStaleSession},
			{"a reset token as bearer", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", models.ErrUnauthenticated},
			{"garbage", "not.a.jwt", models.ErrUnauthenticated},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.Authenticate(context.Background(), c.token)
				if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
					t.Fatalf("got %v, want %v", err, c.want)
				}
				if err == nil && got.UserID != u.ID {
					t.Fatalf("got user %q, want %q", got.UserID, u.ID)
				}
			})
		}
	})
}

// TestAheadOfClockDoesNotOutliveChange: a bearer whose iat is ahead of the
// service's clock, by less than the leeway exp and nbf get, does not outlive
// a password change made before that iat. Such a token was issued by a
// clock running ahead, so its claimed issue says nothing about whether it
// came before the change; a sign-in after the change (iat not ahead) still
// works.
func TestAheadOfClockDoesNotOutliveChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		change := time.Now().UTC().Truncate(time.Second)
		u := mustAccount(t, db, "ahead", change)
		now := change.Add(2 * time.Second)
		s, err := New(context.Background(), db, config.Auth{}, secret, func() time.Time { return now }, discard)
		if err != nil {
			t.Fatal(err)
		}
		bearer := func(iat time.Time) string {
			return mustSign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": u.ID, "iat": iat.Unix(), "exp": now.Add(time.Hour).Unix()}, "")
		}
		if _, err := s.Authenticate(context.Background(), bearer(change.Add(20*time.Second))); !errors.Is(err, models.ErrUnauthenticated) {
			t.Errorf("iat 20 s after the change, 18 s ahead of the clock: got %v, want ErrUnauthenticated", err)
		}
		if _, err := s.Authenticate(context.Background(), bearer(change.Add(-time.Second))); !errors.Is(err, models.ErrStaleSession) {
			t.Errorf("iat a second before the change: got %v, want ErrStaleSession", err)
		}
		if got, err := s.Authenticate(context.Background(), bearer(now)); err != nil || got.UserID != u.ID {
			t.Errorf("sign-in after the change: got %+v %v, want the account's session", got, err)
		}
	})
}

// With auth.max_token_age set, a token issued longer ago is refused however
// far away its exp is; a negative age is refused by New.
func TestMaxTokenAge(t *testing.T) {
	db := storetest.SQLite(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := mustAccount(t, db, "aged", now.Add(-24*time.Hour))
	s, err := New(context.Background(), db, config.Auth{MaxTokenAge: 10 * time.Minute}, secret, func() time.Time { return now }, discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		age  time.Duration
		ok   bool
	}{{"issued 9 minutes ago", 9 * time.Minute, true}, {"issued 11 minutes ago", 11 * time.Minute, false}, {"issued a week ago", 7 * 24 * time.Hour, false}} {
		t.Run(c.name, func(t *testing.T) {
			tok := mustSign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": u.ID, "iat": now.Add(-c.age).Unix(), "exp": now.Add(time.Hour).Unix()}, "")
			_, err := s.Authenticate(context.Background(), tok)
			if (err == nil) != c.ok || (!c.ok && !errors.Is(err, models.ErrUnauthenticated)) {
				t.Fatalf("got %v, want accepted %v", err, c.ok)
			}
		})
	}
	if _, err := New(context.Background(), db, config.Auth{MaxTokenAge: -time.Second}, secret, time.Now, discard); err == nil {
		t.Fatal("a negative maximum age must be refused")
	}
}

// TestIssue: a token from Issue verifies, with the configured issuer and
// audience.
func TestIssue(t *testing.T) {
	db := storetest.SQLite(t)
	u := mustAccount(t, db, "issued", time.Now().Add(-time.Hour))
	cfg := config.Auth{Issuer: "https://issuer.example", Audience: "accountpw"}
	s, err := New(context.Background(), db, cfg, secret, time.Now, discard)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(secret, cfg, u.ID, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(context.Background(), tok); err != nil || got.UserID != u.ID {
		t.Fatalf("got %+v %v, want the account's session", got, err)
	}
	if _, err := New(context.Background(), db, config.Auth{}, []byte("short"), time.Now, discard); err == nil {
		t.Fatal("a short secret must be refused")
	}
}
