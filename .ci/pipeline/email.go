package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sourceIP is the i-th client address in 127.1.0.0–127.255.255.255.
func sourceIP(i int) net.IP {
	i += 256 + 1 // skip 127.1.0.0
	return net.IPv4(127, byte(1+i/65536), byte(i/256%256), byte(i%256))
}

// warmIPs is where the warm-up's client addresses start, apart from the
// measured run's, so the warm-up spends none of their per-IP quotas.
const warmIPs = 1 << 20

// perAddress is how many requests go over one connection from one source
// address before the client moves to the next address.
const perAddress = 8

// client sends requests from one source address at a time, over keep-alive
// connections, moving on every perAddress requests.
type client struct {
	tr    *http.Transport
	http  *http.Client
	ip    atomic.Pointer[net.IP]
	count int
}

func newClient() *client {
	c := &client{}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c.tr = &http.Transport{MaxIdleConnsPerHost: 1, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dl := *d
		if ip := c.ip.Load(); ip != nil { // before any from(): the default source
			dl.LocalAddr = &net.TCPAddr{IP: *ip}
		}
		return dl.DialContext(ctx, network, addr)
	}}
	c.http = &http.Client{Transport: c.tr, Timeout: 15 * time.Second}
	return c
}

// from makes the next requests come from ip.
func (c *client) from(ip net.IP) {
	c.tr.CloseIdleConnections()
	c.ip.Store(&ip)
}

func (c *client) put(ctx context.Context, base, body, bearer string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/v1/account/password", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// emailLoad is the result of one {"email"} load.
type emailLoad struct {
	Requests      int            `json:"requests"`
	ReqPerSec     float64        `json:"req_per_s"`
	P50, P99      float64        `json:"-"`
	Statuses      map[string]int `json:"statuses"`
	Known         map[string]any `json:"known"`
	Unknown       map[string]any `json:"unknown"`
	Latency       map[string]any `json:"latency_ms"`
	DistinctIPs   int            `json:"distinct_client_addresses"`
	KnownVsUnkown map[string]any `json:"known_vs_unknown"`
}

// loadEmail fires {"email"} at base from c clients for d: requests
// alternate between the known and the unknown pool, so both see the same
// quota states.
func loadEmail(ctx context.Context, base string, c, ips, ipBase int, d time.Duration, known, unknown []string) emailLoad {
	var (
		mu            sync.Mutex
		all, kn, unkn latencies
		statuses      = map[string]int{}
		next          atomic.Int64
		nextIP        atomic.Int64
		wg            sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range c {
		wg.Go(func() {
			cl := newClient()
			defer cl.tr.CloseIdleConnections()
			var mine, myKnown, myUnknown latencies
			mystat := map[string]int{}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if cl.count%perAddress == 0 {
					cl.from(sourceIP(ipBase + int(nextIP.Add(1)-1)%ips))
				}
				cl.count++
				n := int(next.Add(1) - 1)
				isKnown := n%2 == 0
				pool := unknown
				if isKnown {
					pool = known
				}
				addr := pool[(n/2)%len(pool)]
				t := time.Now()
				code, err := cl.put(ctx, base, `{"email":"`+addr+`"}`, "")
				el := time.Since(t)
				key := fmt.Sprint(code)
				if err != nil {
					key = "error"
				}
				mystat[key]++
				mine = append(mine, el)
				if isKnown {
					myKnown = append(myKnown, el)
				} else {
					myUnknown = append(myUnknown, el)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			kn = append(kn, myKnown...)
			unkn = append(unkn, myUnknown...)
			for k, v := range mystat {
				statuses[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	group := func(l latencies) map[string]any {
		return map[string]any{"requests": len(l), "req_per_s": round(float64(len(l))/el, 0),
			"p50_ms": round(l.percentile(0.5), 2), "p99_ms": round(l.percentile(0.99), 2)}
	}
	kr, ur := float64(len(kn))/el, float64(len(unkn))/el
	return emailLoad{
		Requests: len(all), ReqPerSec: round(float64(len(all))/el, 0), Statuses: statuses,
		P50: all.percentile(0.5), P99: all.percentile(0.99),
		Latency: map[string]any{"p50": round(all.percentile(0.5), 2), "p90": round(all.percentile(0.9), 2),
			"p99": round(all.percentile(0.99), 2), "max": round(all.percentile(1), 2)},
		Known: group(kn), Unknown: group(unkn), DistinctIPs: min(int(nextIP.Load()), ips),
		KnownVsUnkown: map[string]any{
			"throughput_diff_pct": round(100*(kr-ur)/max(ur, 1), 2),
			"p50_diff_pct":        round(100*(kn.percentile(0.5)-unkn.percentile(0.5))/max(unkn.percentile(0.5), 0.001), 2),
		},
	}
}

// emailMode measures the {"email"} branch on PostgreSQL, with the pgbench
// ceiling of the same database in the same run.
func emailMode(ctx context.Context, o options, run int) (any, error) {
	f, err := newFixture(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	defer f.close()
	db, env := f.db, f.env
	pool := o.ips / 2
	known, unknown := addresses("known", pool), addresses("nobody", pool)
	if err := seed(ctx, db.url, known); err != nil {
		return nil, err
	}
	s, err := startServe(ctx, o.bin, o.dir, env)
	if err != nil {
		return nil, err
	}
	// Warm up connections and caches on addresses outside both pools.
	loadEmail(ctx, s.base, o.c, o.ips, warmIPs, time.Second, addresses("warm", 500), addresses("warmu", 500))
	before := sampleCPU(s.cmd.Process.Pid)
	res := loadEmail(ctx, s.base, o.c, o.ips, 0, o.duration, known, unknown)
	cpu := cpuPerRequest(before, sampleCPU(s.cmd.Process.Pid), res.Requests)
	s.stop()
	tps, err := pgbench(ctx, db.url, o.c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"email": res, "cpu_per_request": cpu, "pgbench_tps": round(tps, 0),
		"ratio_to_pgbench": round(res.ReqPerSec/tps, 3), "log": logCounts(s.log)}, nil
}

func addresses(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d@example.org", prefix, i)
	}
	return out
}
