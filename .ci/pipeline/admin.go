package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// adminKey is the admin API key of the admin mode.
const adminKey = "pipeline-admin-key-0123456789abcdefghijkl"

// importHash is a bcrypt hash (cost 4) every imported line carries: the
// import checks its form and computes nothing.
const importHash = "$2a$04$F/7tYD.C..5USMpXvOIftuyNryzZ8JoFsbRiNHd70.492qy2DaeE2"

// adminCall makes one admin API request and returns the status and body.
func adminCall(ctx context.Context, cl *http.Client, method, url, contentType, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// adminMode measures the admin API as the adopting application sees it: its
// sign-in check at c=1 and c=2 beside raw argon2id in the same rounds (the
// goal: at least 90 % of raw at c=2), the medians of checks of known
// accounts (wrong passwords) and of unknown addresses interleaved (the
// goal: within 5 %), and the import's lines/s over HTTP, 1,000 lines a
// call, beside pgbench's one-row-insert ceiling measured in the same run.
func adminMode(ctx context.Context, o options, run int) (any, error) {
	f, err := newFixture(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	defer f.close()
	env := append(f.env, "ACCOUNTPW_ADMIN_ADDR=127.0.0.1:0", "ACCOUNTPW_ADMIN_API_KEYS="+adminKey,
		// Wrong passwords are what is measured: no account may reach its back-off.
		"ACCOUNTPW_LIMITS_CHANGE_FAILURES=99")
	s, err := startServe(ctx, o.bin, o.dir, env)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	// Accounts created through the admin API, with production argon2id.
	const known = 24
	passwords := make([]string, known)
	for i := range known {
		passwords[i] = passphrase()
		code, b, err := adminCall(ctx, cl, "PUT", fmt.Sprintf("%s/admin/v1/accounts/bench-%d", s.admin, i), "application/json",
			fmt.Sprintf(`{"email":"bench%d@example.org","password":%q}`, i, passwords[i]))
		if err != nil || code != 201 {
			return nil, fmt.Errorf("create account: %d %s %v", code, b, err)
		}
	}
	check := func(body string, wantValid bool) (time.Duration, error) {
		t := time.Now()
		code, b, err := adminCall(ctx, cl, "POST", s.admin+"/admin/v1/password/verify", "application/json", body)
		el := time.Since(t)
		if err != nil || code != 200 || bytes.Contains(b, []byte(`"valid":true`)) != wantValid {
			return 0, fmt.Errorf("verify: %d %s %v", code, b, err)
		}
		return el, nil
	}
	right := func(i int) (time.Duration, error) {
		return check(fmt.Sprintf(`{"id":"bench-%d","password":%q}`, i%known, passwords[i%known]), true)
	}
	for i := range 4 { // warm-up
		if _, err := right(i); err != nil {
			return nil, err
		}
	}
	result := map[string]any{}
	for _, c := range []int{1, 2} {
		before := hashSeconds(ctx, cl, s.metrics)
		raw, served, err := rounds(c, o.hashes, rawArgon2, func(lane, r int) (time.Duration, error) { return right(r*c + lane) })
		if err != nil {
			return nil, err
		}
		after := hashSeconds(ctx, cl, s.metrics)
		inside := 0.0
		if n := after[1] - before[1]; n > 0 {
			inside = 1000 * (after[0] - before[0]) / n
		}
		result[fmt.Sprintf("verify_c%d", c)] = map[string]any{"raw_argon2id_ms": round(raw, 1), "verify_ms": round(served, 1),
			"verify_pct_of_raw": round(100*raw/served, 1), "hash_in_serve_ms": round(inside, 1)}
	}
	// Known (a wrong password) and unknown, two at once, each lane
	// alternating, so both meet the same machine.
	var mu sync.Mutex
	var knownLat, unknownLat latencies
	n := 4 * o.hashes
	var firstErr error
	var wg sync.WaitGroup
	for lane := range 2 {
		wg.Go(func() {
			for i := range n {
				var d time.Duration
				var err error
				if (i+lane)%2 == 0 {
					d, err = check(fmt.Sprintf(`{"email":"bench%d@example.org","password":%q}`, (i*2+lane)%known, passphrase()), false)
				} else {
					d, err = check(fmt.Sprintf(`{"email":"nobody-%s@example.org","password":%q}`, rand.Text(), passphrase()), false)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if (i+lane)%2 == 0 {
					knownLat = append(knownLat, d)
				} else {
					unknownLat = append(unknownLat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	k, u := knownLat.percentile(0.5), unknownLat.percentile(0.5)
	result["known_vs_unknown_c2"] = map[string]any{"known_p50_ms": round(k, 1), "unknown_p50_ms": round(u, 1),
		"difference_pct": round(100*(k-u)/u, 2), "requests_each": len(knownLat)}

	// The import: new accounts, 1,000 lines a call, one client and two.
	for _, c := range []int{1, 2} {
		const calls = 20
		bodies := make([]string, calls)
		for i := range bodies {
			var sb strings.Builder
			for j := range 1000 {
				fmt.Fprintf(&sb, `{"id":"imp-%d-%d-%d-%d","email":"imp%d.%d.%d.%d@example.org","password_hash":"%s","password_changed_at":"2025-01-02T03:04:05Z"}`+"\n",
					run, c, i, j, run, c, i, j, importHash)
			}
			bodies[i] = sb.String()
		}
		start := time.Now()
		next := make(chan string, calls)
		for _, b := range bodies {
			next <- b
		}
		close(next)
		var ierr error
		var iwg sync.WaitGroup
		for range c {
			iwg.Go(func() {
				for b := range next {
					code, out, err := adminCall(ctx, cl, "POST", s.admin+"/admin/v1/accounts/import", "application/x-ndjson", b)
					if err == nil && (code != 200 || !bytes.Contains(out, []byte(`"summary":{"imported":1000,`))) {
						err = fmt.Errorf("import: %d %.200s", code, out)
					}
					if err != nil {
						mu.Lock()
						ierr = err
						mu.Unlock()
					}
				}
			})
		}
		iwg.Wait()
		if ierr != nil {
			return nil, ierr
		}
		elapsed := time.Since(start)
		ref, err := pgbench(ctx, f.db.url, 16)
		if err != nil {
			return nil, err
		}
		rate := float64(calls*1000) / elapsed.Seconds()
		result[fmt.Sprintf("import_c%d", c)] = map[string]any{"lines_per_s": round(rate, 0), "pgbench_tps_c16": round(ref, 0),
			"lines_per_pgbench_commit": round(rate/ref, 2)}
	}
	s.stop()
	result["log"] = logCounts(s.log)
	return result, nil
}

// hashSeconds reads serve's accountpw_password_hash_duration_seconds sum and
// count: the time its hashes took inside their slots, apart from the rest
// of each request. Zeros when there are no metrics.
func hashSeconds(ctx context.Context, cl *http.Client, url string) [2]float64 {
	var out [2]float64
	if url == "" {
		return out
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return out
	}
	resp, err := cl.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		for i, name := range []string{"accountpw_password_hash_duration_seconds_sum ", "accountpw_password_hash_duration_seconds_count "} {
			if v, ok := strings.CutPrefix(line, name); ok {
				fmt.Sscan(v, &out[i])
			}
		}
	}
	return out
}
