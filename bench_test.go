package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/handlers"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/config"
	"golang.org/x/crypto/argon2"
)

// benchApp wires the real service on a fresh PostgreSQL database with the
// production argon2id parameters, without starting the queue or a listener:
// the benchmarks measure server time through the router.
func benchApp(b *testing.B, limits bool) (*services.App, http.Handler, string) {
	b.Helper()
	dbURL := mustPostgresURL(b)
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.Auth.JWTSecret = "bench-secret-0123456789abcdefghijklmno"
	cfg.Limits.Disabled = !limits
	raiseClientLimits(&cfg) // one benchmark client; the per-address quota stays
	cfg.Password.HashWait = time.Minute
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := services.Open(context.Background(), cfg, log, services.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a, handlers.New(a.Passwords, handlers.Options{Logger: log}), dbURL
}

func serve1(b *testing.B, h http.Handler, bearer, body string, want int) {
	req := httptest.NewRequest(http.MethodPut, "/api/v1/account/password", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.10:1234"
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("got %d, want %d: %s", rec.Code, want, rec.Body)
	}
}

// BenchmarkEmailBranch: validate, count, enqueue. No hashing, no mail.
func BenchmarkEmailBranch(b *testing.B) {
	for _, limits := range []bool{false, true} {
		b.Run(fmt.Sprintf("limits=%v", limits), func(b *testing.B) {
			_, h, _ := benchApp(b, limits)
			i := 0
			for b.Loop() {
				serve1(b, h, "", fmt.Sprintf(`{"email":"bench%d@example.org"}`, i), http.StatusAccepted)
				i++
			}
		})
	}
}

const (
	benchPw1 = "velvet orbit copper lantern"
	benchPw2 = "quartz meadow tundra violin"
)

// BenchmarkTokenBranch: one argon2id hash per request at m=64 MiB, t=3, p=4.
func BenchmarkTokenBranch(b *testing.B) {
	a, h, dbURL := benchApp(b, true)
	u, err := a.Passwords.CreateUser(context.Background(), "bench@example.org", benchPw1)
	if err != nil {
		b.Fatal(err)
	}
	db, _ := sql.Open("pgx", dbURL)
	defer db.Close()
	pws := []string{benchPw2, benchPw1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A success deletes the account's other tokens, so each iteration
		// stores its own token first, outside the timer.
		b.StopTimer()
		raw := make([]byte, 32)
		rand.Read(raw)
		token := base64.RawURLEncoding.EncodeToString(raw)
		sum := sha256.Sum256([]byte(token))
		if _, err := db.Exec(`INSERT INTO reset_tokens (user_id, token_hash, expires_at, created_at)
			VALUES ($1, $2, now() + interval '30 minutes', now())`, u.ID, hex.EncodeToString(sum[:])); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		serve1(b, h, "", `{"token":"`+token+`","new":"`+pws[i%2]+`"}`, http.StatusNoContent)
	}
}

// BenchmarkChangeBranch: two argon2id computations per request (verify old,
// hash new) at m=64 MiB, t=3, p=4.
func BenchmarkChangeBranch(b *testing.B) {
	a, h, _ := benchApp(b, true)
	u, err := a.Passwords.CreateUser(context.Background(), "bench@example.org", benchPw1)
	if err != nil {
		b.Fatal(err)
	}
	pws := []string{benchPw1, benchPw2}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bearer, _ := a.IssueToken(u.ID, time.Minute)
		serve1(b, h, bearer, `{"old":"`+pws[i%2]+`","new":"`+pws[(i+1)%2]+`"}`, http.StatusNoContent)
	}
}

// BenchmarkRawArgon2id is the floor the hashing branches are compared with.
func BenchmarkRawArgon2id(b *testing.B) {
	salt := make([]byte, 16)
	for b.Loop() {
		argon2.IDKey([]byte(benchPw1), salt, 3, 64*1024, 4, 32)
	}
}
