package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The balancer in front of the replicas: its configuration, and waiting
// for it to see them ready.

// freePort returns a loopback port that was free when asked.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
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
