// Package mailtest gives tests a SendGrid v3 stand-in that the real
// SendGrid client can be pointed at. Only tests import it.
package mailtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
)

// SendGridKey is the API key the fake accepts.
const SendGridKey = "SG.test-key"

// Step scripts one answer of the fake: a status (0 means 202), an optional
// Retry-After header and body, a delay before answering (the provider's
// latency), or a hang until the client gives up.
type Step struct {
	Status     int
	RetryAfter string
	Body       string
	Delay      time.Duration
	Hang       bool
}

// Payload is the part of a /v3/mail/send body the tests look at.
type Payload struct {
	From             struct{ Email, Name string }
	Subject          string
	Personalizations []struct{ To []struct{ Email string } }
	Content          []struct{ Type, Value string }
	Headers          map[string]string
	CustomArgs       map[string]string `json:"custom_args"`
	TrackingSettings map[string]struct {
		Enable     *bool `json:"enable"`
		EnableText *bool `json:"enable_text"`
	} `json:"tracking_settings"`
}

// SendGrid is a SendGrid v3 stand-in: it checks the bearer key, records
// every payload, and answers with its script, then 202 once the script ends.
type SendGrid struct {
	URL      string
	mu       sync.Mutex
	script   []Step
	payloads []Payload
}

// NewSendGrid starts a fake for this test, closed when it ends.
func NewSendGrid(t testing.TB, script ...Step) *SendGrid {
	t.Helper()
	f := &SendGrid{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" || r.Header.Get("Authorization") != "Bearer "+SendGridKey {
			t.Errorf("fake sendgrid: unexpected %s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			http.Error(w, `{"errors":[{"message":"unauthorized"}]}`, http.StatusUnauthorized)
			return
		}
		var p Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("fake sendgrid: payload: %v", err)
		}
		f.mu.Lock()
		f.payloads = append(f.payloads, p)
		step := Step{Status: http.StatusAccepted}
		if len(f.script) > 0 {
			step, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		if step.Hang {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		time.Sleep(step.Delay)
		if step.RetryAfter != "" {
			w.Header().Set("Retry-After", step.RetryAfter)
		}
		w.WriteHeader(max(step.Status, http.StatusAccepted))
		fmt.Fprint(w, step.Body)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Payloads returns the bodies received so far.
func (f *SendGrid) Payloads() []Payload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Payload(nil), f.payloads...)
}

// SendGridConfig is a mail section that sends through the fake at url with
// its key, each call bounded by timeout, from no-reply@accountpw.test for the
// product "Acme".
func SendGridConfig(url string, timeout time.Duration) config.Mail {
	cfg := config.DefaultMail()
	cfg.Provider, cfg.From, cfg.ProductName = config.ProviderSendGrid, "no-reply@accountpw.test", "Acme"
	cfg.SendGrid = config.SendGrid{APIKey: SendGridKey, BaseURL: url, Timeout: timeout}
	return cfg
}
