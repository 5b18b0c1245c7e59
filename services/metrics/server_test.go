package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The listener serves GET and HEAD /metrics in Prometheus's text format,
// nothing else, and stops on Shutdown.
func TestServer(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	m.ObserveRequest("request_reset", 202, time.Millisecond)
	s, err := m.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	base := "http://" + s.Addr()

	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do(http.MethodGet, "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, `accountpw_http_requests_total{operation="request_reset",status="202"} 1`) {
		t.Fatalf("GET /metrics: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, body := do(http.MethodHead, "/metrics"); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /metrics: %d with %d bytes, want 200 without a body", resp.StatusCode, len(body))
	}
	for _, r := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/", 404},
		{http.MethodGet, "/metrics/", 404},
		{http.MethodGet, "/api/v1/account/password", 404},
		{http.MethodPost, "/metrics", 405},
	} {
		if resp, _ := do(r.method, r.path); resp.StatusCode != r.status {
			t.Errorf("%s %s: %d, want %d", r.method, r.path, resp.StatusCode, r.status)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v, want nil", err)
	}
	if _, err := http.Get(base + "/metrics"); err == nil {
		t.Fatal("still serving after Shutdown")
	}
}

// A taken address is an error at Listen, before anything serves.
func TestListenOnATakenAddress(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	s, err := m.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background()) //nolint:errcheck // never served
	if _, err := m.Listen(s.Addr()); err == nil || !strings.Contains(err.Error(), "metrics:") {
		t.Fatalf("got %v, want a metrics: error", err)
	}
}
