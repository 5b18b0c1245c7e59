package sessions

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
	"github.com/golang-jwt/jwt/v5"
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

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestAuthenticateHS256(t *testing.T) {
	db := storetest.SQLite(t)
	changed := time.Now().UTC().Truncate(time.Second)
	u := mustAccount(t, db, "sess", changed)
	now := changed.Add(time.Minute)
	s, err := New(context.Background(), db, config.Auth{}, secret, func() time.Time { return now })
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
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", mustSign(t, jwt.SigningMethodHS256, secret, claims(nil), ""), nil},
		{"bad signature", mustSign(t, jwt.SigningMethodHS256, other, claims(nil), ""), models.ErrUnauthenticated},
		{"other HMAC algorithm", mustSign(t, jwt.SigningMethodHS512, secret, claims(nil), ""), models.ErrUnauthenticated},
		{"alg none", mustSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), ""), models.ErrUnauthenticated},
		{"expired", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), ""), models.ErrUnauthenticated},
		{"no exp", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") }), ""), models.ErrUnauthenticated},
		{"no iat", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "iat") }), ""), models.ErrUnauthenticated},
		{"iat in the future", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), ""), models.ErrUnauthenticated},
		{"no sub", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "sub") }), ""), models.ErrUnauthenticated},
		{"unknown account", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["sub"] = "nobody" }), ""), models.ErrUnauthenticated},
		{"issued before the last change", mustSign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(-2 * time.Minute).Unix() }), ""), models.ErrStaleSession},
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
}

// With a JWKS URL, RS256 tokens from the key set verify, and an HS256 token
// signed with the public key's bytes (algorithm confusion) does not.
func TestAuthenticateJWKS(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	defer srv.Close()

	db := storetest.SQLite(t)
	u := mustAccount(t, db, "jwks", time.Now().Add(-time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, db, config.Auth{JWKSURL: srv.URL, Issuer: "https://issuer.example", Audience: "accountpw"}, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "https://issuer.example", "aud": "accountpw"}
	if _, err := s.Authenticate(ctx, mustSign(t, jwt.SigningMethodRS256, key, good, "k1")); err != nil {
		t.Fatalf("RS256 from the key set: %v", err)
	}
	wrongAud := jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "https://issuer.example", "aud": "other"}
	if _, err := s.Authenticate(ctx, mustSign(t, jwt.SigningMethodRS256, key, wrongAud, "k1")); !errors.Is(err, models.ErrUnauthenticated) {
		t.Fatalf("wrong audience: got %v", err)
	}
	confused := mustSign(t, jwt.SigningMethodHS256, key.PublicKey.N.Bytes(), good, "k1")
	if _, err := s.Authenticate(ctx, confused); !errors.Is(err, models.ErrUnauthenticated) {
		t.Fatalf("HS256 with the public key: got %v", err)
	}
}

// TestIssue: a token from Issue verifies, with the configured issuer and
// audience.
func TestIssue(t *testing.T) {
	db := storetest.SQLite(t)
	u := mustAccount(t, db, "issued", time.Now().Add(-time.Hour))
	cfg := config.Auth{Issuer: "https://issuer.example", Audience: "accountpw"}
	s, err := New(context.Background(), db, cfg, secret, time.Now)
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
	if _, err := New(context.Background(), db, config.Auth{}, []byte("short"), time.Now); err == nil {
		t.Fatal("a short secret must be refused")
	}
}
