package sessions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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

// jwksServer serves the RSA keys' set; fail makes it answer 503 instead.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys map[string]*rsa.PrivateKey
	fail atomic.Int32 // answer 503 to this many more requests
	hits atomic.Int32
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PrivateKey) *jwksServer {
	j := &jwksServer{keys: keys}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.hits.Add(1)
		if j.fail.Load() > 0 {
			j.fail.Add(-1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		var set []map[string]string
		for kid, key := range j.keys {
			set = append(set, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
				"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set}) // a failed write fails the fetch under test
	}))
	t.Cleanup(j.Close)
	return j
}

func (j *jwksServer) setKeys(keys map[string]*rsa.PrivateKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = keys
}

func mustRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// With a JWKS URL, RS256 tokens from the key set verify; an HS256 token
// signed with the public key's bytes (algorithm confusion), a token without
// a kid, and a token with a crit header do not.
func TestAuthenticateJWKS(t *testing.T) {
	key := mustRSAKey(t)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"k1": key})
	db := storetest.SQLite(t)
	u := mustAccount(t, db, "jwks", time.Now().Add(-time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, db, config.Auth{JWKSURL: srv.URL, Issuer: "https://issuer.example", Audience: "accountpw"}, nil, time.Now, discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("the key set was fetched at start: %v", err)
	}
	now := time.Now()
	good := jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "https://issuer.example", "aud": "accountpw"}
	if _, err := s.Authenticate(ctx, mustSign(t, jwt.SigningMethodRS256, key, good, "k1")); err != nil {
		t.Fatalf("RS256 from the key set: %v", err)
	}
	wrongAud := jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "https://issuer.example", "aud": "other"}
	crit := jwt.NewWithClaims(jwt.SigningMethodRS256, good)
	crit.Header["kid"], crit.Header["crit"] = "k1", []string{"exp"}
	critTok, err := crit.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"wrong audience":            mustSign(t, jwt.SigningMethodRS256, key, wrongAud, "k1"),
		"HS256 with the public key": mustSign(t, jwt.SigningMethodHS256, key.PublicKey.N.Bytes(), good, "k1"),
		"no kid":                    mustSign(t, jwt.SigningMethodRS256, key, good, ""),
		"a kid not in the set":      mustSign(t, jwt.SigningMethodRS256, key, good, "k9"),
		"a crit header":             critTok,
	} {
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, models.ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated", name, err)
		}
	}
}

// A token signed with a key the issuer has just added is accepted: an
// unknown kid fetches the set again at once.
func TestJWKSRotation(t *testing.T) {
	k1, k2 := mustRSAKey(t), mustRSAKey(t)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"k1": k1})
	db := storetest.SQLite(t)
	u := mustAccount(t, db, "rot", time.Now().Add(-time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, db, config.Auth{JWKSURL: srv.URL}, nil, time.Now, discard)
	if err != nil {
		t.Fatal(err)
	}
	s.jwks.unknownKIDGap = 0
	srv.setKeys(map[string]*rsa.PrivateKey{"k1": k1, "k2": k2})
	now := time.Now()
	tok := mustSign(t, jwt.SigningMethodRS256, k2, jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, "k2")
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Fatalf("a newly published key: %v", err)
	}
}

// The service is not ready until the key set has been fetched once: a
// failed fetch at start is retried in the background, bearers meanwhile get
// 503 (not 401: nothing is wrong with them), and the failures are logged as
// JSON through the service's logger, never through slog.Default in text.
func TestJWKSReadiness(t *testing.T) {
	var defaultLog bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&defaultLog, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	key := mustRSAKey(t)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"k1": key})
	srv.fail.Store(2)
	db := storetest.SQLite(t)
	u := mustAccount(t, db, "ready", time.Now().Add(-time.Hour))
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, db, config.Auth{JWKSURL: srv.URL}, nil, time.Now,
		slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("an unreachable key set must not stop the start: %v", err)
	}
	if err := s.Ready(); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("ready before any key loaded: got %v, want ErrUnavailable", err)
	}
	now := time.Now()
	tok := mustSign(t, jwt.SigningMethodRS256, key, jwt.MapClaims{"sub": u.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, "k1")
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("a bearer before any key loaded: got %v, want ErrUnavailable", err)
	}
	// Poll: the retries come after 1 s and 2 s more.
	deadline := time.Now().Add(10 * time.Second)
	for s.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still not ready after %d fetches", srv.hits.Load())
		}
		time.Sleep(50 * time.Millisecond) // polling the background fetch, with a deadline
	}
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Fatalf("after the set loaded: %v", err)
	}
	if defaultLog.Len() != 0 {
		t.Errorf("something logged through slog.Default: %s", defaultLog.String())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("want a line per failed fetch, got %q", logs.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] != "WARN" {
			t.Errorf("not a JSON warning: %q", l)
		}
	}
}

// A JWKS URL over plain http to another host is refused, as configuration
// refuses it.
func TestJWKSURLMustBeHTTPS(t *testing.T) {
	db := storetest.SQLite(t)
	for _, u := range []string{"http://keys.example/jwks", "ftp://keys.example/jwks", "https://user@keys.example/jwks"} {
		if _, err := New(context.Background(), db, config.Auth{JWKSURL: u}, nil, time.Now, discard); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
