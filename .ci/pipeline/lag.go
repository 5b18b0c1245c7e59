package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// lagMode sends o.rate {"email"}/s of distinct known addresses for o.lagFor,
// then 100 at random at 10/s, and reports the time from each 202 to the
// provider's acceptance of that email.
func lagMode(ctx context.Context, o options, _ int) (any, error) {
	f, err := newFixture(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	defer f.close()
	db, p, env := f.db, f.p, f.env
	n := o.rate * int(o.lagFor/time.Second)
	addrs := addresses("lag", n)
	if err := seed(ctx, db.url, addrs); err != nil {
		return nil, err
	}
	s, err := startServe(ctx, o.bin, o.dir, env)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	steady, err := sendAndWait(ctx, s.base, p, addrs, func(int) time.Duration { return time.Second / time.Duration(o.rate) })
	if err != nil {
		return nil, err
	}
	// Sparse traffic: 10 requests/s arriving at random (exponential gaps),
	// so that some follow another job by a few milliseconds, as a user's
	// request follows someone else's at a quiet hour.
	sparseAddrs := addresses("sparse", 100)
	if err := seed(ctx, db.url, sparseAddrs); err != nil {
		return nil, err
	}
	sparse, err := sendAndWait(ctx, s.base, p, sparseAddrs, func(int) time.Duration {
		return time.Duration(mrand.ExpFloat64() * float64(100*time.Millisecond))
	})
	if err != nil {
		return nil, err
	}
	s.stop()
	steady["rate_per_s"] = o.rate
	steady["sparse_10_per_s"] = sparse
	steady["log"] = logCounts(s.log)
	return steady, nil
}

// sendAndWait sends {"email"} for each of addrs, waiting gap(i) before the
// i-th, each from its own source address, then waits up to 30 s for each
// email at the provider and reports the lags from 202 to acceptance.
func sendAndWait(ctx context.Context, base string, p *provider, addrs []string, gap func(int) time.Duration) (map[string]any, error) {
	n := len(addrs)
	answered := make([]time.Time, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := map[string]int{}
	clients := make(chan *client, 64)
	for range 64 {
		clients <- newClient()
	}
	next := time.Now()
	for i := range n {
		next = next.Add(gap(i))
		time.Sleep(time.Until(next)) // pacing the requests
		cl := <-clients
		wg.Go(func() {
			defer func() { clients <- cl }()
			cl.from(sourceIP(i))
			code, err := cl.put(ctx, base, `{"email":"`+addrs[i]+`"}`, "")
			if err != nil || code != 202 {
				mu.Lock()
				failures[fmt.Sprint(code, err)]++
				mu.Unlock()
				return
			}
			answered[i] = time.Now()
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	var lags latencies
	missing := 0
	for i, a := range addrs {
		if answered[i].IsZero() {
			continue
		}
		for {
			if at, ok := p.acceptedAt(a); ok {
				lags = append(lags, at.Sub(answered[i]))
				break
			}
			if time.Now().After(deadline) {
				missing++
				break
			}
			time.Sleep(10 * time.Millisecond) // polling the provider for the email
		}
	}
	return map[string]any{"requests": n, "failures": failures, "emails": len(lags),
		"not_delivered_within_30s": missing,
		"lag_ms": map[string]any{"p50": round(lags.percentile(0.5), 1), "p90": round(lags.percentile(0.9), 1),
			"p99": round(lags.percentile(0.99), 1), "max": round(lags.percentile(1), 1)}}, nil
}
