package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/argon2"
)

var tokenInLink = regexp.MustCompile(`password-reset\?token=([A-Za-z0-9_-]{43})`)

// passphrase is a fresh password the policy accepts.
func passphrase() string { return "orbit " + rand.Text() + " lantern" }

// rawArgon2 is the mean of n argon2id hashes (64 MiB, t=3, p=4), each of c
// goroutines hashing n times at once, after a warm-up of two each.
func rawArgon2(c, n int) float64 {
	var mu sync.Mutex
	var all latencies
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			salt := make([]byte, 16)
			var mine latencies
			for i := range n + 2 {
				t := time.Now()
				argon2.IDKey([]byte("velvet orbit copper lantern"), salt, 3, 64*1024, 4, 32)
				if i >= 2 {
					mine = append(mine, time.Since(t))
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all.mean()
}

// account is one account of the hashing mode.
type account struct {
	id, email, password string
}

func hashingMode(ctx context.Context, o options, _ int) (any, error) {
	db, err := newDatabase(ctx, o.admin)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	p, err := newProvider(0)
	if err != nil {
		return nil, err
	}
	p.keep = true
	defer p.close()
	env := baseEnv(db.url, p.url)
	// Enough accounts that no address exceeds its quota of 3 emails per
	// quarter hour: warm-up plus measured requests at c=1 and c=2.
	need := (3 + o.hashes + 2*o.hashes + 2) / 2
	accounts := make([]*account, need)
	for i := range accounts {
		a := &account{email: fmt.Sprintf("hash%03d@example.org", i), password: passphrase()}
		out, err := cli(ctx, o.bin, o.dir, env, a.password+"\n", "users", "create", "--email", a.email, "--password-stdin")
		if err != nil {
			return nil, err
		}
		var u struct{ ID string }
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			return nil, err
		}
		a.id = u.ID
		accounts[i] = a
	}
	s, err := startServe(ctx, o.bin, o.dir, env)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	cl := newClient()
	ipSeq := 0
	// reset requests a link for a, then times {"token","new"} with it.
	reset := func(cl *client, a *account) (time.Duration, error) {
		before := p.body(a.email)
		ipSeq++
		cl.from(sourceIP(ipSeq))
		if code, err := cl.put(ctx, s.base, `{"email":"`+a.email+`"}`, ""); err != nil || code != 202 {
			return 0, fmt.Errorf("request reset: %d %v", code, err)
		}
		var token string
		for deadline := time.Now().Add(20 * time.Second); ; {
			if b := p.body(a.email); b != before {
				if m := tokenInLink.FindStringSubmatch(b); m != nil {
					token = m[1]
					break
				}
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("no reset email for %s", a.email)
			}
			time.Sleep(5 * time.Millisecond) // polling the provider for the email
		}
		next := passphrase()
		t := time.Now()
		code, err := cl.put(ctx, s.base, `{"token":"`+token+`","new":"`+next+`"}`, "")
		el := time.Since(t)
		if err != nil || code != 204 {
			return 0, fmt.Errorf("reset: %d %v", code, err)
		}
		a.password = next
		return el, nil
	}
	change := func(cl *client, a *account) (time.Duration, error) {
		now := time.Now()
		bearer, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: a.id,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}).SignedString([]byte(jwtSecret))
		if err != nil {
			return 0, err
		}
		next := passphrase()
		t := time.Now()
		code, err := cl.put(ctx, s.base, `{"old":"`+a.password+`","new":"`+next+`"}`, bearer)
		el := time.Since(t)
		if err != nil || code != 204 {
			return 0, fmt.Errorf("change: %d %v", code, err)
		}
		a.password = next
		return el, nil
	}
	// The very first hashing request of the process, before any warm-up of
	// our own (serve has warmed its hashing memory at start).
	first, err := reset(cl, accounts[0])
	if err != nil {
		return nil, err
	}
	for i := 1; i < 3; i++ { // warm-up
		if _, err := reset(cl, accounts[i]); err != nil {
			return nil, err
		}
	}
	measure := func(c int, fn func(*client, *account) (time.Duration, error), pick func(lane, i int) *account) (float64, error) {
		var mu sync.Mutex
		var all latencies
		var firstErr error
		var wg sync.WaitGroup
		for lane := range c {
			wg.Go(func() {
				lc := newClient()
				for i := range o.hashes {
					d, err := fn(lc, pick(lane, i))
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					all = append(all, d)
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		return all.mean(), firstErr
	}
	result := map[string]any{"first_token_request_ms": round(ms(first), 1)}
	for _, c := range []int{1, 2} {
		raw := rawArgon2(c, o.hashes)
		next := 3
		var mu sync.Mutex
		tok, err := measure(c, reset, func(int, int) *account {
			mu.Lock()
			defer mu.Unlock()
			a := accounts[next%len(accounts)]
			next++
			return a
		})
		if err != nil {
			return nil, err
		}
		chg, err := measure(c, change, func(lane, _ int) *account { return accounts[lane] })
		if err != nil {
			return nil, err
		}
		result[fmt.Sprintf("c%d", c)] = map[string]any{
			"raw_argon2id_ms": round(raw, 1), "token_new_ms": round(tok, 1), "old_new_ms": round(chg, 1),
			"token_new_pct_of_raw": round(100*raw/tok, 1), "old_new_pct_of_two_raw": round(100*2*raw/chg, 1),
		}
	}
	s.stop()
	result["log"] = logCounts(s.log)
	return result, nil
}
