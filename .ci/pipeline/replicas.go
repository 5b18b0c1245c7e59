package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// replica is one serve process behind the balancer.
type replica struct {
	name string
	port int
	env  []string
	srv  *server
}

// replicasMode runs the replica scenario the package comment describes and
// judges it.
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
