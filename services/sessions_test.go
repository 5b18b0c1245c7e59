package services

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

func TestAuthenticateHS256(t *testing.T) {
	e := newEnv(t, mustSQLite(t))
	u := e.mustUser(t, "sess@example.org", pwA)
	now := e.clock.Now().Add(time.Minute)
	e.clock.Advance(time.Minute)
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
		{"valid", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(nil), ""), nil},
		{"bad signature", mustSign(t, jwt.SigningMethodHS256, other, claims(nil), ""), models.ErrUnauthenticated},
		{"other HMAC algorithm", mustSign(t, jwt.SigningMethodHS512, e.secret, claims(nil), ""), models.ErrUnauthenticated},
		{"alg none", mustSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), ""), models.ErrUnauthenticated},
		{"expired", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), ""), models.ErrUnauthenticated},
		{"no exp", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { delete(c, "exp") }), ""), models.ErrUnauthenticated},
		{"no iat", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { delete(c, "iat") }), ""), models.ErrUnauthenticated},
		{"iat in the future", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), ""), models.ErrUnauthenticated},
		{"no sub", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { delete(c, "sub") }), ""), models.ErrUnauthenticated},
		{"unknown account", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { c["sub"] = "nobody" }), ""), models.ErrUnauthenticated},
		{"issued before the last change", mustSign(t, jwt.SigningMethodHS256, e.secret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(-2 * time.Minute).Unix() }), ""), models.ErrStaleSession},
		{"a reset token as bearer", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", models.ErrUnauthenticated},
		{"garbage", "not.a.jwt", models.ErrUnauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := e.p.Authenticate(context.Background(), c.token)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if err == nil && s.UserID != u.ID {
				t.Fatalf("got user %q, want %q", s.UserID, u.ID)
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

	db := mustSQLite(t)
	e := newEnv(t, db)
	u := e.mustUser(t, "jwks@example.org", pwA)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := NewSessions(ctx, db.Gorm, SessionsConfig{JWKSURL: srv.URL, Issuer: "https://issuer.example", Audience: "accountpw"})
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
