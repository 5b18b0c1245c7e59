package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// replicaEmailLoad sends the {"email"} requests through the balancer from
// 16 clients, each moving to a new source address every perAddress
// requests, alternating known and unknown addresses.
func replicaEmailLoad(ctx context.Context, base string, known, unknown []string, c *replicaCounts, sent *atomic.Int64) {
	var next, nextIP atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			cl := newClient()
			defer cl.tr.CloseIdleConnections()
			for n := 0; ; n++ {
				i := int(next.Add(1) - 1)
				if i >= len(known)+len(unknown) || ctx.Err() != nil {
					return
				}
				if n%perAddress == 0 {
					cl.from(sourceIP(600000 + int(nextIP.Add(1))))
				}
				isKnown := i%2 == 0
				addr := unknown[i/2]
				if isKnown {
					addr = known[i/2]
				}
				code, err := cl.put(ctx, base, `{"email":"`+addr+`"}`, "")
				status := fmt.Sprint(code)
				if err != nil {
					status = "transport error"
					progress("email %s: %v", addr, err)
				}
				c.add(status)
				c.mu.Lock()
				switch {
				case isKnown && code == http.StatusAccepted:
					c.known202 = append(c.known202, addr)
				case isKnown && code == http.StatusServiceUnavailable:
					c.known503 = append(c.known503, addr)
				case !isKnown:
					c.unknown = append(c.unknown, addr)
				}
				c.mu.Unlock()
				sent.Add(1)
			}
		})
	}
	wg.Wait()
}

// retrying calls put until it answers something other than 503 (an
// outage a client should wait out), at most 20 times a quarter second apart.
func retrying(c *replicaCounts, put func() (int, error)) (int, error) {
	for attempt := 0; ; attempt++ {
		code, err := put()
		if err != nil {
			c.add("transport error")
			return 0, err
		}
		c.add(fmt.Sprint(code))
		if code != http.StatusServiceUnavailable || attempt == 19 {
			return code, nil
		}
		time.Sleep(250 * time.Millisecond) // a client backing off after a 503
	}
}

// eachAddress runs flow for every address, four at a time, each from its
// own source address (firstIP + its index), and returns the addresses whose
// flow succeeded, or with them an error counting the failures of what and
// naming the first.
func eachAddress(addrs []string, firstIP int, what string, flow func(cl *client, a string) error) ([]string, error) {
	var (
		mu   sync.Mutex
		done []string
		errs []error
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			cl := newClient()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(addrs) {
					return
				}
				cl.from(sourceIP(firstIP + i))
				err := flow(cl, addrs[i])
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", addrs[i], err))
				} else {
					done = append(done, addrs[i])
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return done, fmt.Errorf("%d %s failed, first: %w", len(errs), what, errs[0])
	}
	return done, nil
}

// replicaResetFlows completes a reset for each address: request the link,
// read it from the provider, set a new password with it.
func replicaResetFlows(ctx context.Context, base string, p *provider, addrs []string, c *replicaCounts) ([]string, error) {
	return eachAddress(addrs, 700000, "resets", func(cl *client, a string) error {
		return resetFlow(ctx, base, p, cl, a, c)
	})
}

func resetFlow(ctx context.Context, base string, p *provider, cl *client, a string, c *replicaCounts) error {
	code, err := retrying(c, func() (int, error) { return cl.put(ctx, base, `{"email":"`+a+`"}`, "") })
	if err != nil || code != http.StatusAccepted {
		return fmt.Errorf("request reset: %d %v", code, err)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		m := tokenInLink.FindStringSubmatch(p.body(a))
		if m == nil {
			time.Sleep(20 * time.Millisecond) // polling the provider for the email
			continue
		}
		var tried []string // the new passwords of attempts answered 503
		code, err := retrying(c, func() (int, error) {
			next := passphrase()
			code, err := cl.put(ctx, base, `{"token":"`+m[1]+`","new":"`+next+`"}`, "")
			if code == http.StatusServiceUnavailable {
				tried = append(tried, next)
			}
			return code, err
		})
		if err == nil && code == http.StatusForbidden && len(tried) > 0 {
			code, err = committedBehind503(ctx, cl, base, a, tried, c)
		}
		switch {
		case err != nil:
			return err
		case code == http.StatusNoContent:
			return nil
		case code == http.StatusForbidden && p.received(a) > 1:
			// A resend of the link (its first send was in flight on a
			// killed replica) superseded this token: take the newer one.
			c.add("403 superseded link")
			c.mu.Lock()
			c.Statuses["403"]--
			c.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		default:
			return fmt.Errorf("reset: %d", code)
		}
	}
	return fmt.Errorf("no usable reset link within 2 minutes")
}

// replicaChangeFlows changes each account's password with a fresh bearer.
func replicaChangeFlows(ctx context.Context, base string, addrs []string, c *replicaCounts) ([]string, error) {
	return eachAddress(addrs, 800000, "changes", func(cl *client, a string) error {
		var tried []string // the new passwords of attempts answered 503
		code, err := retrying(c, func() (int, error) {
			next := passphrase()
			code, err := changeAs(ctx, cl, base, a, replicaPass, next)
			if code == http.StatusServiceUnavailable {
				tried = append(tried, next)
			}
			return code, err
		})
		if err == nil && code == http.StatusForbidden {
			code, err = committedBehind503(ctx, cl, base, a, tried, c)
		}
		if err != nil || code != http.StatusNoContent {
			return fmt.Errorf("change: %d %v", code, err)
		}
		return nil
	})
}

// changeAs sends {"old","new"} for account address a with a fresh bearer.
func changeAs(ctx context.Context, cl *client, base, a, old, next string) (int, error) {
	now := time.Now()
	bearer, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "u-" + a,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}).SignedString([]byte(jwtSecret))
	if err != nil {
		return 0, err
	}
	return cl.put(ctx, base, `{"old":"`+old+`","new":"`+next+`"}`, bearer)
}

// committedBehind503 is what a client does when a retry after a 503 got 403:
// a 503 can hide a reset or change that committed (the connection broke
// during COMMIT), and the retry then meets that success as a used token or
// a wrong old password. It tries the new password of each attempt answered
// 503; a 204 means one had committed (counted), and is the flow's answer.
// Otherwise the answer stays 403.
func committedBehind503(ctx context.Context, cl *client, base, a string, tried []string, c *replicaCounts) (int, error) {
	for _, old := range tried {
		code, err := changeAs(ctx, cl, base, a, old, passphrase())
		if err == nil && code == http.StatusForbidden {
			continue // that attempt did not commit
		}
		if err != nil {
			return 0, err
		}
		c.add(fmt.Sprint(code))
		if code == http.StatusNoContent {
			c.mu.Lock()
			c.committedBehind503++
			c.mu.Unlock()
		}
		return code, nil
	}
	return http.StatusForbidden, nil
}
