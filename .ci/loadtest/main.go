// Command loadtest measures accountpw under bursts of hashing requests:
// waves of N concurrent {"old","new"} requests with 128-code-point
// passwords, each wave once the one before has its answers, against a real
// `accountpw serve` (production argon2id parameters, embedded default),
// while /healthz is polled. Several waves, because blocks placed in new
// memory, which the budget does not allow for, showed in about one single
// burst in four but in most runs of five waves before serve laid its heap
// out for them. It runs once per Go runtime setting the service meets: the
// runtime's default, and GODEBUG=madvdontneed=0, which the container image
// sets (freed memory stays resident until the kernel needs it, so it shows
// in VmHWM). For each it prints the answers by status, /healthz latencies,
// and the server's peak resident memory (VmHWM) idle after start and after
// the waves, against the memory budget serve logs at start
// (services.App.MemoryBudget).
//
//	go run ./.ci/loadtest [-n 200] [-waves 5] [-bin ./accountpw] [-modes default,madvdontneed=0] [-runs 1]
//
// It fails when a peak passes the budget, serve did not lay its heap out
// for hashing (it logs heap_laid_out), /healthz ever fails, or a request
// gets no answer or a 500. It talks only to 127.0.0.1, bounds its own run
// time, and stops every server it starts.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 200, "concurrent {old,new} requests in a wave")
	waves := flag.Int("waves", 5, "waves of n requests, one after the other, per server")
	bin := flag.String("bin", "", "accountpw binary (default: build one)")
	modes := flag.String("modes", "default,madvdontneed=0", "GODEBUG settings to run under, comma-separated; default is none")
	runs := flag.Int("runs", 1, "runs per setting")
	flag.Parse()
	if err := run(*n, *waves, *bin, strings.Split(*modes, ","), *runs); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(n, waves int, bin string, modes []string, runs int) error {
	if bin == "" {
		dir, err := os.MkdirTemp("", "accountpw-load-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "accountpw")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, out)
		}
	}
	var failed []string
	for _, mode := range modes {
		for i := range runs {
			fmt.Printf("GODEBUG=%s, run %d:\n", godebug(mode), i+1)
			if err := burst(n, waves, bin, mode); err != nil {
				fmt.Printf("  FAILED: %v\n", err)
				failed = append(failed, fmt.Sprintf("%s run %d: %v", mode, i+1, err))
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("the service left its bounds:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// godebug is the GODEBUG value of a mode: "default" is none.
func godebug(mode string) string {
	if mode == "default" {
		return ""
	}
	return mode
}

// burst starts a server under mode, fires waves of n concurrent {old,new}
// at it, each wave once the one before has its answers, and checks its
// bounds.
func burst(n, waves int, bin, mode string) error {
	srv, err := start(bin, godebug(mode))
	if err != nil {
		return err
	}
	defer srv.stop()
	idle := srv.statusKiB("VmHWM")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		health  []time.Duration
		healthy = true
	)
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { // poll /healthz
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := http.Get(srv.base + "/healthz")
			d := time.Since(start)
			mu.Lock()
			if err != nil || resp.StatusCode != 200 {
				healthy = false
			} else {
				health = append(health, d)
			}
			mu.Unlock()
			if err == nil {
				resp.Body.Close()
			}
		}
	})

	long := strings.Repeat("é", 64) + strings.Repeat("z", 64) // 128 code points after NFKC
	statuses := map[int]int{}
	retryAfter := 0
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n * waves {
		if i > 0 && i%n == 0 {
			wg.Wait()
		}
		wg.Go(func() {
			body := fmt.Sprintf(`{"old":"%s%03d","new":"%s"}`, long[:len(long)-3], i, long)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.base+"/api/v1/account/password", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+srv.token)
			resp, err := http.DefaultClient.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[0]++
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[resp.StatusCode]++
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" {
				retryAfter++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(stop)
	bg.Wait()
	after := srv.statusKiB("VmHWM")

	slices.Sort(health)
	pct := func(p float64) time.Duration {
		if len(health) == 0 {
			return 0
		}
		return health[min(len(health)-1, int(float64(len(health))*p))]
	}
	fmt.Printf("  requests: %d waves of %d concurrent {old,new}, 128 code points, argon2id m=64MiB t=3 p=4, %d hash slots, %.1fs\n", waves, n, srv.slots, elapsed.Seconds())
	keys := make([]int, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("    status %d: %d\n", k, statuses[k])
	}
	fmt.Printf("    503 with Retry-After: %d\n", retryAfter)
	budget := srv.budgetMiB << 10
	fmt.Printf("  VmHWM idle after start: %d MiB; after the burst: %d MiB; budget: %d MiB ((%d slots + 1) × 64 MiB + %d MiB); within: %v; heap laid out: %v\n",
		idle>>10, after>>10, budget>>10, srv.slots, srv.budgetMiB-int64(srv.slots+1)*64, idle <= budget && after <= budget, srv.laidOut)
	fmt.Printf("  /healthz: %d probes, all 200: %v, p50 %s, p99 %s, max %s\n", len(health), healthy, pct(0.5), pct(0.99), pct(1))
	var bad []string
	if after > budget { // VmHWM never falls, so this covers idle too
		bad = append(bad, fmt.Sprintf("VmHWM %d MiB over the %d MiB budget", after>>10, budget>>10))
	}
	if !srv.laidOut {
		bad = append(bad, "serve did not lay its heap out for hashing (heap_laid_out false)")
	}
	if !healthy {
		bad = append(bad, "/healthz failed")
	}
	if statuses[0] > 0 || statuses[500] > 0 {
		bad = append(bad, fmt.Sprintf("%d requests without an answer, %d × 500", statuses[0], statuses[500]))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}
