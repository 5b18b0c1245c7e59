package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"
)

// The replica mode's workload.
const (
	replicaEmails  = 3000 // {"email"} requests, half for known accounts
	replicaResets  = 50   // completed resets, each needing its notice
	replicaChanges = 50   // completed changes, each needing its notice
	replicaPass    = "velvet orbit copper lantern"
)

// cheapHash is an argon2id PHC string of replicaPass at the cost the
// replicas run with (the OWASP floor, to keep the test short).
func cheapHash() string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(replicaPass), salt, 2, 19456, 1, 32)
	b := base64.RawStdEncoding
	return "$argon2id$v=19$m=19456,t=2,p=1$" + b.EncodeToString(salt) + "$" + b.EncodeToString(key)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// replica is one serve process behind the balancer.
type replica struct {
	name string
	port int
	env  []string
	srv  *server
}

// haproxyConfig balances round-robin over the replicas, checks /readyz,
// tells them the client's address in X-Forwarded-For, retries a request only
// when it could not reach a replica at all, and answers 503 + Retry-After
// (never 502/504, never a closed connection) when a replica dies under a
// request.
func haproxyConfig(dir string, port int, replicas []*replica) (string, error) {
	errfile := filepath.Join(dir, "503.http")
	body := `{"type":"https://accountpw.dev/problems/unavailable","title":"Service unavailable","status":503,"code":"unavailable"}`
	resp := "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nCache-Control: no-store\r\n" +
		"Content-Type: application/problem+json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
	if err := os.WriteFile(errfile, []byte(resp), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`global
  maxconn 4096
  log stderr format raw local0 notice
defaults
  log global
  option httplog
  option dontlog-normal
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option forwardfor
  # One request per client connection: when a replica dies under a request
  # that came on a reused client connection, HAProxy closes that connection
  # without an answer (so that a client retries, as after an idle keep-alive
  # close); a client cannot know whether its PUT was processed, so here every
  # request gets an answer instead.
  option httpclose
  retries 2
  retry-on conn-failure
  option redispatch
  errorfile 502 %[1]s
  errorfile 503 %[1]s
  errorfile 504 %[1]s
frontend fe
  bind 127.0.0.1:%[2]d
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 1
`, errfile, port)
	for _, r := range replicas {
		cfg += fmt.Sprintf("  server %s 127.0.0.1:%d check\n", r.name, r.port)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// replicaCounts is what the replica mode observed.
type replicaCounts struct {
	mu       sync.Mutex
	Statuses map[string]int `json:"statuses"`
	known202 []string
	known503 []string
	unknown  []string
}

func (c *replicaCounts) add(status string) {
	c.mu.Lock()
	c.Statuses[status]++
	c.mu.Unlock()
}

func replicasMode(ctx context.Context, o options, _ int) (any, error) {
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
	pgProxy, err := newTCPProxy("127.0.0.1:5432")
	if err != nil {
		return nil, err
	}
	defer pgProxy.close()
	viaProxy := "postgres://postgres@" + pgProxy.addr() + "/" + db.name + "?sslmode=disable&connect_timeout=2"
	envFor := func(dbURL string, port int) []string {
		return append(baseEnv(dbURL, p.url),
			"ACCOUNTPW_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port),
			"ACCOUNTPW_HTTP_TRUSTED_PROXIES=127.0.0.1/32",
			"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB=19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME=2", "ACCOUNTPW_PASSWORD_ARGON2_THREADS=1")
	}
	if _, err := cli(ctx, o.bin, o.dir, envFor(db.url, 0), "", "migrate"); err != nil {
		return nil, err
	}
	known, unknown := addresses("rknown", replicaEmails/2), addresses("rnobody", replicaEmails/2)
	resets, changes := addresses("rreset", replicaResets), addresses("rchange", replicaChanges)
	if err := seed(ctx, db.url, known); err != nil {
		return nil, err
	}
	if err := seedWith(ctx, db.url, append(append([]string{}, resets...), changes...), cheapHash()); err != nil {
		return nil, err
	}
	var replicas []*replica
	for _, name := range []string{"a", "b", "c"} {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		url := db.url
		if name == "b" {
			url = viaProxy // b reaches the database through the proxy the test cuts
		}
		r := &replica{name: name, port: port, env: envFor(url, port)}
		if r.srv, err = startServe(ctx, o.bin, o.dir, r.env); err != nil {
			return nil, err
		}
		replicas = append(replicas, r)
	}
	defer func() {
		for _, r := range replicas {
			r.srv.stop()
		}
	}()
	lbPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := haproxyConfig(o.dir, lbPort, replicas)
	if err != nil {
		return nil, err
	}
	lb := exec.Command("haproxy", "-f", cfg, "-db")
	lb.Stdout, lb.Stderr = os.Stderr, os.Stderr
	if err := lb.Start(); err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	defer func() { _ = lb.Process.Kill(); _ = lb.Wait() }()
	base := "http://127.0.0.1:" + strconv.Itoa(lbPort)
	if err := waitReady(ctx, base, 3); err != nil {
		return nil, err
	}
	result := map[string]any{}

	// The per-client limit holds across replicas: ten {"email"} of one client
	// pass, the eleventh is refused, whichever replica each reaches.
	limitClient := newClient()
	limitClient.from(sourceIP(500000))
	var limitStatuses []int
	for i := range 11 {
		code, err := limitClient.put(ctx, base, fmt.Sprintf(`{"email":"limit%02d@example.org"}`, i), "")
		if err != nil {
			return nil, err
		}
		limitStatuses = append(limitStatuses, code)
	}
	result["per_ip_limit_statuses"] = limitStatuses

	counts := &replicaCounts{Statuses: map[string]int{}}
	var sent atomic.Int64
	chaos := make(chan map[string]any, 1)
	go func() { chaos <- runChaos(ctx, o, replicas, pgProxy, &sent) }()
	var wg sync.WaitGroup
	wg.Go(func() { replicaEmailLoad(ctx, base, known, unknown, counts, &sent) })
	var resetsDone, changesDone []string
	var flowErr error
	var flowMu sync.Mutex
	wg.Go(func() {
		done, err := replicaResetFlows(ctx, base, p, resets, counts)
		flowMu.Lock()
		resetsDone, flowErr = done, errors.Join(flowErr, err)
		flowMu.Unlock()
	})
	wg.Go(func() {
		done, err := replicaChangeFlows(ctx, base, changes, counts)
		flowMu.Lock()
		changesDone, flowErr = done, errors.Join(flowErr, err)
		flowMu.Unlock()
	})
	wg.Wait()
	result["chaos"] = <-chaos
	if flowErr != nil {
		return nil, flowErr
	}

	// Let the queue drain: a job whose replica was killed mid-send is
	// rescued after its stuck timeout by the leader.
	sdb, err := sql.Open("pgx", db.url)
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	drainStart := time.Now()
	var left map[string]int
	for deadline := time.Now().Add(3 * time.Minute); ; {
		if left, err = pendingJobs(ctx, sdb); err != nil {
			return nil, err
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling the queue's state
	}
	result["queue_drained_after_s"] = round(time.Since(drainStart).Seconds(), 1)
	result["queue_left"] = left
	return judge(result, counts, p, resetsDone, changesDone, limitStatuses, left)
}

// judge checks every promise and returns the counts, or an error naming
// what failed (the counts are printed either way).
func judge(result map[string]any, c *replicaCounts, p *provider, resets, changes []string, limit []int,
	left map[string]int) (map[string]any, error) {
	var problems []string
	for status, n := range c.Statuses {
		switch status {
		case "202", "204", "429", "503":
		default:
			problems = append(problems, fmt.Sprintf("%d answers %s", n, status))
		}
	}
	emails := map[string]int{"known_202_with_one_email": 0, "duplicates": 0, "lost": 0,
		"known_503_sent_anyway": 0, "unknown_with_email": 0}
	for _, a := range c.known202 {
		switch n := p.received(a); {
		case n == 1:
			emails["known_202_with_one_email"]++
		case n > 1:
			emails["duplicates"] += n - 1
		default:
			emails["lost"]++
		}
	}
	for _, a := range c.known503 {
		if p.received(a) > 0 {
			emails["known_503_sent_anyway"]++
		}
	}
	for _, a := range c.unknown {
		if p.received(a) > 0 {
			emails["unknown_with_email"]++
		}
	}
	notices := map[string]int{"resets_completed": len(resets), "changes_completed": len(changes), "missing": 0}
	for _, a := range resets {
		if p.received(a) < 2 { // the link and the notice
			notices["missing"]++
		}
	}
	for _, a := range changes {
		if p.received(a) < 1 {
			notices["missing"]++
		}
	}
	result["statuses"] = c.Statuses
	result["emails"] = emails
	result["notices"] = notices
	if emails["lost"] > 0 {
		problems = append(problems, fmt.Sprintf("%d emails lost", emails["lost"]))
	}
	// A duplicate is allowed only for a send in flight when a replica died:
	// at most one per mail worker of the killed replica.
	if emails["duplicates"] > 100 {
		problems = append(problems, fmt.Sprintf("%d duplicates", emails["duplicates"]))
	}
	if emails["unknown_with_email"] > 0 {
		problems = append(problems, "an unknown address got an email")
	}
	if notices["missing"] > 0 || len(resets) < replicaResets || len(changes) < replicaChanges {
		problems = append(problems, fmt.Sprintf("notices missing or flows incomplete: %v", notices))
	}
	if len(limit) != 11 || limit[10] != http.StatusTooManyRequests {
		problems = append(problems, fmt.Sprintf("per-IP limit across replicas: %v, want ten 202 then 429", limit))
	}
	for _, s := range limit[:min(10, len(limit))] {
		if s != http.StatusAccepted {
			problems = append(problems, fmt.Sprintf("per-IP limit across replicas: %v, want ten 202 then 429", limit))
			break
		}
	}
	if len(left) > 0 {
		problems = append(problems, fmt.Sprintf("queue not empty: %v", left))
	}
	sort.Strings(problems)
	result["problems"] = problems
	if len(problems) > 0 {
		return result, fmt.Errorf("replicas: %v", problems)
	}
	return result, nil
}

// pendingJobs counts jobs that are not finished.
func pendingJobs(ctx context.Context, db *sql.DB) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT state, count(*) FROM river_job
		WHERE state NOT IN ('completed', 'cancelled', 'discarded') AND kind <> 'housekeeping' GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// waitReady waits until n replicas answer /readyz through the balancer.
func waitReady(ctx context.Context, base string, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	ok := 0
	for ok < n*2 {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok++
				continue
			}
		}
		ok = 0
		if time.Now().After(deadline) {
			return fmt.Errorf("the balancer did not become ready: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling readiness
		}
	}
	return nil
}

// runChaos kills replica a once a third of the emails were sent and starts
// it again a second later, and cuts replica b's database for five seconds
// once two thirds were sent.
func runChaos(ctx context.Context, o options, replicas []*replica, pg *tcpProxy, sent *atomic.Int64) map[string]any {
	out := map[string]any{}
	wait := func(n int64) {
		for sent.Load() < n && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond) // polling the load's progress
		}
	}
	wait(replicaEmails / 3)
	a := replicas[0]
	_ = a.srv.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.srv.cmd.Wait()
	out["killed"] = "a (SIGKILL) after " + strconv.FormatInt(sent.Load(), 10) + " requests"
	time.Sleep(time.Second) // the replica stays down for a second
	if s, err := startServe(ctx, o.bin, o.dir, a.env); err == nil {
		a.srv = s
		out["restarted"] = "a"
	} else {
		out["restart_error"] = err.Error()
	}
	wait(2 * replicaEmails / 3)
	pg.setCut(true)
	out["cut"] = "b's database for 5 s after " + strconv.FormatInt(sent.Load(), 10) + " requests"
	time.Sleep(5 * time.Second) // the outage
	pg.setCut(false)
	return out
}
