package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// lagMode sends o.rate {"email"}/s of distinct known addresses for o.lagFor
// and reports the time from each 202 to the provider's acceptance of that
// email.
func lagMode(ctx context.Context, o options, _ int) (any, error) {
	db, err := newDatabase(ctx, o.admin)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	p, err := newProvider(0)
	if err != nil {
		return nil, err
	}
	defer p.close()
	env := baseEnv(db.url, p.url)
	if _, err := cli(ctx, o.bin, o.dir, env, "", "migrate"); err != nil {
		return nil, err
	}
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
	answered := make([]time.Time, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := map[string]int{}
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	clients := make(chan *client, 64)
	for range 64 {
		clients <- newClient()
	}
	for i := range n {
		<-tick.C
		cl := <-clients
		wg.Go(func() {
			defer func() { clients <- cl }()
			cl.from(sourceIP(i))
			code, err := cl.put(ctx, s.base, `{"email":"`+addrs[i]+`"}`, "")
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
	s.stop()
	return map[string]any{"requests": n, "rate_per_s": o.rate, "failures": failures, "emails": len(lags),
		"not_delivered_within_30s": missing,
		"lag_ms": map[string]any{"p50": round(lags.percentile(0.5), 1), "p90": round(lags.percentile(0.9), 1),
			"p99": round(lags.percentile(0.99), 1), "max": round(lags.percentile(1), 1)},
		"log": logCounts(s.log)}, nil
}
