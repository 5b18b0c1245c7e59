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

// rawArgon2 hashes twice (64 MiB, t=3, p=4) in this process and returns the
// time the second took: the first warms the memory this process gave back
// to the system while it waited, so the reference is a hash in a loop.
func rawArgon2() time.Duration {
	salt := make([]byte, 16)
	argon2.IDKey([]byte("velvet orbit copper lantern"), salt, 3, 64*1024, 4, 32)
	t := time.Now()
	argon2.IDKey([]byte("velvet orbit copper lantern"), salt, 3, 64*1024, 4, 32)
	return time.Since(t)
}

// rounds runs n rounds; in each, c goroutines run raw at once, then c run
// served at once, so that the reference and the served request meet the same
// machine (a raw loop measured a minute apart from the requests differed by
// 20 %). It returns the mean of each.
func rounds(c, n int, raw func() time.Duration, served func(lane, round int) (time.Duration, error)) (float64, float64, error) {
	var mu sync.Mutex
	var raws, serveds latencies
	for r := range n {
		var wg sync.WaitGroup
		for range c {
			wg.Go(func() {
				d := raw()
				mu.Lock()
				raws = append(raws, d)
				mu.Unlock()
			})
		}
		wg.Wait()
		var firstErr error
		for lane := range c {
			wg.Go(func() {
				d, err := served(lane, r)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				serveds = append(serveds, d)
			})
		}
		wg.Wait()
		if firstErr != nil {
			return 0, 0, firstErr
		}
	}
	return raws.mean(), serveds.mean(), nil
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
	// One account per reset link (warm-up, then c=1 and c=2): links are
	// requested before they are used, and a newer link ends an older one.
	need := 3 + o.hashes + 2*o.hashes
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
	// link requests a reset link for a and returns its token.
	link := func(a *account) (string, error) {
		before := p.body(a.email)
		ipSeq++
		cl.from(sourceIP(ipSeq))
		if code, err := cl.put(ctx, s.base, `{"email":"`+a.email+`"}`, ""); err != nil || code != 202 {
			return "", fmt.Errorf("request reset: %d %v", code, err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; {
			if b := p.body(a.email); b != before {
				if m := tokenInLink.FindStringSubmatch(b); m != nil {
					return m[1], nil
				}
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("no reset email for %s", a.email)
			}
			time.Sleep(5 * time.Millisecond) // polling the provider for the email
		}
	}
	// redeem times {"token","new"} with a's token.
	redeem := func(cl *client, a *account, token string) (time.Duration, error) {
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
	reset := func(cl *client, a *account) (time.Duration, error) {
		token, err := link(a)
		if err != nil {
			return 0, err
		}
		return redeem(cl, a, token)
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
	// our own (serve has warmed its hashing memory at start). Only the
	// {"token","new"} is timed: the link's email is not part of it.
	token, err := link(accounts[0])
	if err != nil {
		return nil, err
	}
	first, err := redeem(cl, accounts[0], token)
	if err != nil {
		return nil, err
	}
	for i := 1; i < 3; i++ { // warm-up
		if _, err := reset(cl, accounts[i]); err != nil {
			return nil, err
		}
	}
	result := map[string]any{"first_token_request_ms": round(ms(first), 1)}
	next := 3
	for _, c := range []int{1, 2} {
		// Links first, so that the lanes' {"token","new"} run at once.
		type pending struct {
			a     *account
			token string
		}
		todo := make([][]pending, o.hashes)
		for r := range todo {
			for range c {
				a := accounts[next%len(accounts)]
				next++
				token, err := link(a)
				if err != nil {
					return nil, err
				}
				todo[r] = append(todo[r], pending{a, token})
			}
		}
		clients := []*client{newClient(), newClient()}
		rawTok, tok, err := rounds(c, o.hashes, rawArgon2, func(lane, r int) (time.Duration, error) {
			return redeem(clients[lane], todo[r][lane].a, todo[r][lane].token)
		})
		if err != nil {
			return nil, err
		}
		rawChg, chg, err := rounds(c, o.hashes, func() time.Duration { return rawArgon2() + rawArgon2() },
			func(lane, _ int) (time.Duration, error) { return change(clients[lane], accounts[lane]) })
		if err != nil {
			return nil, err
		}
		result[fmt.Sprintf("c%d", c)] = map[string]any{
			"raw_argon2id_ms": round(rawTok, 1), "token_new_ms": round(tok, 1),
			"raw_two_argon2id_ms": round(rawChg, 1), "old_new_ms": round(chg, 1),
			"token_new_pct_of_raw": round(100*rawTok/tok, 1), "old_new_pct_of_two_raw": round(100*rawChg/chg, 1),
		}
	}
	s.stop()
	result["log"] = logCounts(s.log)
	return result, nil
}
