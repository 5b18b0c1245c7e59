package mail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/mail/mailtest"
)

type sgStep = mailtest.Step

var newFakeSendGrid = mailtest.NewSendGrid

func mustSendError(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *SendError", err)
	}
	return se
}

func newTestSendGrid(url string, timeout time.Duration, edits ...func(*config.Mail)) Mailer {
	cfg := mailtest.SendGridConfig(url, timeout)
	for _, e := range edits {
		e(&cfg)
	}
	return NewSendGrid(cfg)
}

var sgMessage = models.Message{ID: "job-1", Kind: models.MessageReset, To: "ann@example.com", Language: "fr",
	Subject: "Réinitialisez votre mot de passe Acme",
	Text:    "open https://app.test/password-reset?token=secret123", HTML: `<a href="https://app.test/password-reset?token=secret123">go</a>`}

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
	if p.From.Email != "no-reply@accountpw.test" || p.From.Name != "Acme" || p.Subject != sgMessage.Subject {
		t.Errorf("got from %+v subject %q, want the product name as display name", p.From, p.Subject)
	}
	if len(p.Content) != 2 || p.Content[0].Type != "text/plain" || p.Content[0].Value != sgMessage.Text ||
		p.Content[1].Type != "text/html" || p.Content[1].Value != sgMessage.HTML {
		t.Errorf("got content %+v, want text/plain then text/html", p.Content)
	}
	if p.CustomArgs["message_id"] != "job-1" {
		t.Errorf("got custom_args %v", p.CustomArgs)
	}
	// SendGrid sets a unique Message-ID of its own and ties its events to
	// it; the payload must not replace it.
	want := map[string]string{"Auto-Submitted": "auto-generated", "Content-Language": "fr"}
	if len(p.Headers) != len(want) || p.Headers["Auto-Submitted"] != want["Auto-Submitted"] ||
		p.Headers["Content-Language"] != want["Content-Language"] {
		t.Errorf("got headers %v, want %v", p.Headers, want)
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

// An explicit mail.from_name wins over the product name; a name written in
// mail.from is used when from_name is not set.
func TestSendGridFromName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*config.Mail)
		want string
	}{
		{"from_name", func(c *config.Mail) { c.FromName = "Acme Support" }, "Acme Support"},
		{"name in from", func(c *config.Mail) { c.From = "Acme Team <no-reply@accountpw.test>" }, "Acme Team"},
	}
	for _, tt := range tests {
		fake := newFakeSendGrid(t)
		if err := newTestSendGrid(fake.URL, time.Second, tt.edit).Send(context.Background(), sgMessage); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if p := fake.Payloads(); len(p) != 1 || p[0].From.Name != tt.want || p[0].From.Email != "no-reply@accountpw.test" {
			t.Errorf("%s: got from %+v, want %q <no-reply@accountpw.test>", tt.name, p[0].From, tt.want)
		}
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
		{name: "server error", step: sgStep{Status: 500}},
		{name: "unavailable", step: sgStep{Status: 503, Body: `{"errors":[{"message":"try later"}]}`}},
		{name: "request timeout", step: sgStep{Status: 408}},
		{name: "rate limited", step: sgStep{Status: 429, RetryAfter: "7"}, retryAfter: 7 * time.Second},
		{name: "rate limited without header", step: sgStep{Status: 429}},
		{name: "bad request", step: sgStep{Status: 400, Body: echo}, permanent: true},
		{name: "bad key", step: sgStep{Status: 401, Body: echo}, permanent: true},
		{name: "unverified sender", step: sgStep{Status: 403, Body: echo}, permanent: true},
		{name: "payload too large", step: sgStep{Status: 413, Body: echo}, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeSendGrid(t, tt.step)
			se := mustSendError(t, newTestSendGrid(fake.URL, time.Second).Send(context.Background(), sgMessage))
			if se.Status != tt.step.Status || se.Permanent != tt.permanent || se.RetryAfter != tt.retryAfter {
				t.Errorf("got status %d permanent %v retry after %v, want %d %v %v",
					se.Status, se.Permanent, se.RetryAfter, tt.step.Status, tt.permanent, tt.retryAfter)
			}
			if tt.step.Body == echo && !strings.Contains(se.Reason, "Does not contain a valid address") {
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
	fake := newFakeSendGrid(t, sgStep{Hang: true})
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
	fake := newFakeSendGrid(t, sgStep{Delay: 10 * time.Millisecond})
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
