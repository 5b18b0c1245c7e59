// Command loadtest measures accountpw under a burst of hashing requests:
// N concurrent {"old","new"} requests with 128-code-point passwords against
// a real `accountpw serve` (production argon2id parameters, embedded
// default), while /healthz is polled and the server's resident memory is
// sampled. It prints the answers by status, the peak RSS against the budget
// (hash slots × argon2 memory + 64 MiB) and /healthz latencies.
//
//	go run ./.ci/loadtest [-n 200] [-bin ./accountpw]
//
// It talks only to 127.0.0.1, bounds its own run time, and stops the server.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 200, "concurrent {old,new} requests")
	bin := flag.String("bin", "", "accountpw binary (default: build one)")
	flag.Parse()
	if err := run(*n, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(n int, bin string) error {
	dir, err := os.MkdirTemp("", "accountpw-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "accountpw")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, out)
		}
	}
	slots := runtime.GOMAXPROCS(0)
	env := append(os.Environ(),
		"ACCOUNTPW_HTTP_ADDR=127.0.0.1:0",
		"ACCOUNTPW_METRICS_ADDR=127.0.0.1:0",
		"ACCOUNTPW_PASSWORD_HASH_SLOTS="+strconv.Itoa(slots),
		// Per-account back-off would turn most of the burst into cheap 429s;
		// this measures the hashing bound, so the limits are off.
		"ACCOUNTPW_LIMITS_DISABLED=true",
		"ACCOUNTPW_LOG_LEVEL=warn",
	)
	cmdIn := func(stdin string, args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Dir, c.Env, c.Stdin = dir, env, strings.NewReader(stdin)
		out, err := c.Output()
		return string(out), err
	}
	const pw = "velvet orbit copper lantern"
	out, err := cmdIn(pw+"\n", "users", "create", "--email", "load@example.org", "--password-stdin")
	if err != nil {
		return fmt.Errorf("users create: %v", err)
	}
	var u struct{ ID string }
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		return err
	}
	tok, err := cmdIn("", "token", "--user-id", u.ID, "--ttl", "10m")
	if err != nil {
		return fmt.Errorf("token: %v", err)
	}
	tok = strings.TrimSpace(tok)

	srv := exec.Command(bin, "serve")
	srv.Dir, srv.Env = dir, append(env, "ACCOUNTPW_LOG_LEVEL=info")
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	base, err := waitListening(stdout)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		rss     []int64
		health  []time.Duration
		healthy = true
	)
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // sample resident memory
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if v := statusKiB(srv.Process.Pid, "VmRSS"); v > 0 {
				mu.Lock()
				rss = append(rss, v)
				mu.Unlock()
			}
		}
	}()
	go func() { // poll /healthz
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := http.Get(base + "/healthz")
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
	}()

	long := strings.Repeat("é", 64) + strings.Repeat("z", 64) // 128 code points after NFKC
	statuses := map[int]int{}
	retryAfter := 0
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"old":"%s%03d","new":"%s"}`, long[:len(long)-3], i, long)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/v1/account/password", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
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
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(stop)
	bg.Wait()

	peak := statusKiB(srv.Process.Pid, "VmHWM")
	budget := int64(slots)*64*1024 + 64*1024
	slices.Sort(health)
	pct := func(p float64) time.Duration {
		if len(health) == 0 {
			return 0
		}
		return health[min(len(health)-1, int(float64(len(health))*p))]
	}
	fmt.Printf("requests: %d concurrent {old,new}, 128 code points, argon2id m=64MiB t=3 p=4, %d hash slots, %.1fs\n", n, slots, elapsed.Seconds())
	keys := make([]int, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("  status %d: %d\n", k, statuses[k])
	}
	fmt.Printf("  503 with Retry-After: %d\n", retryAfter)
	fmt.Printf("peak RSS (VmHWM): %d MiB; budget (slots × 64 MiB + 64 MiB): %d MiB; within: %v\n", peak/1024, budget/1024, peak <= budget)
	fmt.Printf("/healthz: %d probes, all 200: %v, p50 %s, p99 %s, max %s\n", len(health), healthy, pct(0.5), pct(0.99), pct(1))
	if peak > budget || !healthy || statuses[0] > 0 || statuses[500] > 0 {
		return fmt.Errorf("the service left its bounds")
	}
	return nil
}

var listening = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

func waitListening(r io.Reader) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := listening.FindSubmatch(sc.Bytes()); m != nil {
				found <- "http://" + string(m[1])
			}
		}
	}()
	select {
	case b := <-found:
		return b, nil
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("serve did not listen within 30 s")
	}
}

// statusKiB reads a "Vm…: N kB" line of /proc/PID/status.
func statusKiB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == key+":" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
