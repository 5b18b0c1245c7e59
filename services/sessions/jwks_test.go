package sessions

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store/storetest"
	"github.com/golang-jwt/jwt/v5"
)

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
	// A credential in the URL's query never reaches the log.
	s, err := New(ctx, db, config.Auth{JWKSURL: srv.URL + "/jwks?key=canary-credential"}, nil, time.Now,
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
	if strings.Contains(logs.String(), "canary-credential") {
		t.Errorf("the key set's URL reached the log: %s", logs.String())
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
