package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

const fakeSendGridKey = "SG.test-key"

// sgStep scripts one answer of the fake: a status (0 means 202), an optional
// Retry-After header and body, a delay before answering, or a hang until the
// client gives up.
type sgStep struct {
	status     int
	retryAfter string
	body       string
	delay      time.Duration
	hang       bool
}

// sgPayload is the part of a /v3/mail/send body the tests look at.
type sgPayload struct {
	From             struct{ Email, Name string }
	Subject          string
	Personalizations []struct{ To []struct{ Email string } }
	Content          []struct{ Type, Value string }
	CustomArgs       map[string]string `json:"custom_args"`
	TrackingSettings map[string]struct {
		Enable     *bool `json:"enable"`
		EnableText *bool `json:"enable_text"`
	} `json:"tracking_settings"`
}

// fakeSendGrid is a SendGrid v3 stand-in: it checks the bearer key, records
// every payload, and answers with its script, then 202 once the script ends.
type fakeSendGrid struct {
	URL      string
	mu       sync.Mutex
	script   []sgStep
	payloads []sgPayload
}

func newFakeSendGrid(t *testing.T, script ...sgStep) *fakeSendGrid {
	t.Helper()
	f := &fakeSendGrid{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" || r.Header.Get("Authorization") != "Bearer "+fakeSendGridKey {
			t.Errorf("fake sendgrid: unexpected %s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			http.Error(w, `{"errors":[{"message":"unauthorized"}]}`, http.StatusUnauthorized)
			return
		}
		var p sgPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("fake sendgrid: payload: %v", err)
		}
		f.mu.Lock()
		f.payloads = append(f.payloads, p)
		step := sgStep{status: http.StatusAccepted}
		if len(f.script) > 0 {
			step, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		if step.hang {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		time.Sleep(step.delay)
		if step.retryAfter != "" {
			w.Header().Set("Retry-After", step.retryAfter)
		}
		w.WriteHeader(max(step.status, http.StatusAccepted))
		fmt.Fprint(w, step.body)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Payloads returns the bodies received so far.
func (f *fakeSendGrid) Payloads() []sgPayload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sgPayload(nil), f.payloads...)
}

func mustSendError(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *SendError", err)
	}
	return se
}

func newTestSendGrid(url string, timeout time.Duration) Mailer {
	return NewSendGrid(SendGridConfig{APIKey: fakeSendGridKey, BaseURL: url, From: "no-reply@accountpw.test", FromName: "accountpw", Timeout: timeout})
}

var sgMessage = models.Message{ID: "m-1", Kind: models.MessageReset, To: "ann@example.com", Subject: "Reset your password",
	Text: "open https://app.test/password-reset?token=secret123", HTML: `<a href="https://app.test/password-reset?token=secret123">go</a>`}

func TestSendGridAccepted(t *testing.T) {
	t.Parallel()
	fake := newFakeSendGrid(t)
	if err := newTestSendGrid(fake.URL, time.Second).Send(context.Background(), sgMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := fake.Payloads()
	if len(got) != 1 {
		t.Fatalf("got %d payloads, want 1", len(got))
	}
	p := got[0]
	if len(p.Personalizations) != 1 || len(p.Personalizations[0].To) != 1 || p.Personalizations[0].To[0].Email != sgMessage.To {
		t.Errorf("got personalizations %+v, want one to %s", p.Personalizations, sgMessage.To)
	}
	if p.From.Email != "no-reply@accountpw.test" || p.From.Name != "accountpw" || p.Subject != sgMessage.Subject {
		t.Errorf("got from %+v subject %q", p.From, p.Subject)
	}
	if len(p.Content) != 2 || p.Content[0].Type != "text/plain" || p.Content[0].Value != sgMessage.Text ||
		p.Content[1].Type != "text/html" || p.Content[1].Value != sgMessage.HTML {
		t.Errorf("got content %+v, want text/plain then text/html", p.Content)
	}
	if p.CustomArgs["message_id"] != "m-1" {
		t.Errorf("got custom_args %v", p.CustomArgs)
	}
	for _, name := range []string{"click_tracking", "open_tracking", "subscription_tracking", "ganalytics"} {
		if s, ok := p.TrackingSettings[name]; !ok || s.Enable == nil || *s.Enable {
			t.Errorf("%s: want enable=false, got %+v", name, s)
		}
	}
	if s := p.TrackingSettings["click_tracking"]; s.EnableText == nil || *s.EnableText {
		t.Errorf("click_tracking: want enable_text=false, got %+v", s)
	}
}

func TestSendGridFailures(t *testing.T) {
	t.Parallel()
	// A provider message that echoes the recipient and the link: the Reason
	// keeps the words and drops both.
	echo := `{"errors":[{"message":"Does not contain a valid address: ann@example.com","field":"to"},` +
		`{"message":"bad link https://app.test/password-reset?token=secret123"}]}`
	tests := []struct {
		name       string
		step       sgStep
		permanent  bool
		retryAfter time.Duration
	}{
		{name: "server error", step: sgStep{status: 500}},
		{name: "unavailable", step: sgStep{status: 503, body: `{"errors":[{"message":"try later"}]}`}},
		{name: "request timeout", step: sgStep{status: 408}},
		{name: "rate limited", step: sgStep{status: 429, retryAfter: "7"}, retryAfter: 7 * time.Second},
		{name: "rate limited without header", step: sgStep{status: 429}},
		{name: "bad request", step: sgStep{status: 400, body: echo}, permanent: true},
		{name: "bad key", step: sgStep{status: 401, body: echo}, permanent: true},
		{name: "unverified sender", step: sgStep{status: 403, body: echo}, permanent: true},
		{name: "payload too large", step: sgStep{status: 413, body: echo}, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeSendGrid(t, tt.step)
			se := mustSendError(t, newTestSendGrid(fake.URL, time.Second).Send(context.Background(), sgMessage))
			if se.Status != tt.step.status || se.Permanent != tt.permanent || se.RetryAfter != tt.retryAfter {
				t.Errorf("got status %d permanent %v retry after %v, want %d %v %v",
					se.Status, se.Permanent, se.RetryAfter, tt.step.status, tt.permanent, tt.retryAfter)
			}
			if tt.step.body == echo && !strings.Contains(se.Reason, "Does not contain a valid address") {
				t.Errorf("reason lacks the provider text: %q", se.Reason)
			}
			for _, secret := range []string{sgMessage.To, "secret123"} {
				if strings.Contains(se.Error(), secret) {
					t.Errorf("reason holds %q: %q", secret, se.Reason)
				}
			}
		})
	}
}

func TestSendGridRetryAfterDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2029, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"7", 7 * time.Second}, {"", 0}, {"soon", 0}, {"-3", 0}, {"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSendGridTimeout(t *testing.T) {
	t.Parallel()
	fake := newFakeSendGrid(t, sgStep{hang: true})
	start := time.Now()
	se := mustSendError(t, newTestSendGrid(fake.URL, 200*time.Millisecond).Send(context.Background(), sgMessage))
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send took %v, want about 200ms", elapsed)
	}
	if se.Permanent || se.Status != 0 || strings.Contains(se.Reason, sgMessage.To) {
		t.Errorf("got %+v, want a temporary error without status or recipient", se)
	}
}

func TestSendGridUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	se := mustSendError(t, newTestSendGrid(srv.URL, time.Second).Send(context.Background(), sgMessage))
	if se.Permanent || se.Status != 0 {
		t.Errorf("got %+v, want a temporary error", se)
	}
}

func TestSendGridConcurrentSends(t *testing.T) {
	t.Parallel()
	fake := newFakeSendGrid(t, sgStep{delay: 10 * time.Millisecond})
	mailer := newTestSendGrid(fake.URL, 5*time.Second)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			m := sgMessage
			m.ID = fmt.Sprintf("m-%d", i)
			if err := mailer.Send(context.Background(), m); err != nil {
				t.Errorf("Send %s: %v", m.ID, err)
			}
		})
	}
	wg.Wait()
	payloads := fake.Payloads()
	if len(payloads) != 20 {
		t.Fatalf("got %d payloads, want 20", len(payloads))
	}
	seen := map[string]bool{}
	for _, p := range payloads {
		seen[p.CustomArgs["message_id"]] = true
	}
	if len(seen) != 20 {
		t.Errorf("got %d distinct payloads, want 20", len(seen))
	}
}
