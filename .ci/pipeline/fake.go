package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

const fakeKey = "SG.pipeline"

// provider is a SendGrid v3 stand-in that accepts every message after delay
// and records when each recipient's email was accepted.
type provider struct {
	srv      *http.Server
	url      string
	delay    time.Duration
	mu       sync.Mutex
	keep     bool // keep each recipient's latest body
	bodies   map[string]string
	accepted map[string]time.Time // recipient → first acceptance
	counts   map[string]int       // recipient → messages accepted
	count    int
	first    time.Time
	last     time.Time
}

func newProvider(delay time.Duration) (*provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &provider{delay: delay, accepted: map[string]time.Time{}, counts: map[string]int{}, bodies: map[string]string{},
		url: "http://" + ln.Addr().String()}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v3/mail/send" || r.Header.Get("Authorization") != "Bearer "+fakeKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body struct {
		Personalizations []struct {
			To []struct{ Email string }
		}
	}
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &body) != nil || len(body.Personalizations) == 0 || len(body.Personalizations[0].To) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if p.delay > 0 {
		time.Sleep(p.delay) // the provider's own latency
	}
	now := time.Now()
	p.mu.Lock()
	to := body.Personalizations[0].To[0].Email
	if _, seen := p.accepted[to]; !seen {
		p.accepted[to] = now
	}
	p.counts[to]++
	if p.keep {
		p.bodies[to] = string(b)
	}
	if p.count == 0 {
		p.first = now
	}
	p.count++
	p.last = now
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// snapshot returns the number accepted, the first and the last acceptance.
func (p *provider) snapshot() (int, time.Time, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count, p.first, p.last
}

func (p *provider) acceptedAt(to string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.accepted[to]
	return t, ok
}

// body is the latest email to a recipient, when bodies are kept.
func (p *provider) body(to string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bodies[to]
}

// received is how many messages were accepted for a recipient.
func (p *provider) received(to string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[to]
}

func (p *provider) close() { _ = p.srv.Close() }
