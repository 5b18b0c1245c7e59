package mail

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

type sendGridMailer struct {
	cfg    config.Mail
	client *rest.Client
}

// NewSendGrid returns a Mailer that posts to SendGrid's /v3/mail/send at
// cfg.SendGrid.BaseURL with the API key as "Authorization: Bearer", from the
// verified sender cfg.Sender() (the From address and its display name), each
// call bounded by cfg.SendGrid.Timeout. Every kind of tracking is off, so the
// reset link is never rewritten through a third-party domain.
//
// It sets no Message-ID. The v3 API would take one (it is not among the
// headers SendGrid reserves), but SendGrid already gives every message its
// own, unique, and keys its event tracking on it: replacing it gains nothing
// and can only confuse that. The queue's stable id goes in custom_args as
// message_id, which SendGrid's events report back.
//
// It is safe for concurrent use: each Send builds its own request, because a
// shared *sendgrid.Client races on its Body field. It never retries by itself
// (sendgrid.MakeRequestRetry ignores the context and the reset header); the
// mail queue retries according to the *SendError.
func NewSendGrid(cfg config.Mail) Mailer {
	// rest.DefaultClient has no timeout at all; this one bounds every call.
	client := &rest.Client{HTTPClient: &http.Client{Timeout: cfg.SendGrid.Timeout}}
	return &sendGridMailer{cfg: cfg, client: client}
}

// Send delivers m. Only 202 Accepted is success. Every failure is a
// *SendError: transport errors, timeouts, 408, 429 and 5xx are temporary (429
// with RetryAfter from Retry-After); other 4xx are permanent.
func (s *sendGridMailer) Send(ctx context.Context, m models.Message) error {
	req := sendgrid.GetRequest(s.cfg.SendGrid.APIKey, "/v3/mail/send", s.cfg.SendGrid.BaseURL)
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(s.payload(m))

	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		// A *url.Error names the endpoint and the cause, never the body.
		return &SendError{Reason: cleanReason("sendgrid: "+err.Error(), m.To)}
	}
	if resp.StatusCode == http.StatusAccepted {
		return nil
	}
	return sendGridError(resp, m)
}

func (s *sendGridMailer) payload(m models.Message) *mail.SGMailV3 {
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail("", m.To))

	v3 := mail.NewV3Mail()
	from := s.cfg.Sender()
	v3.SetFrom(mail.NewEmail(from.Name, from.Address))
	v3.Subject = m.Subject
	v3.AddPersonalizations(p)
	// SendGrid wants text/plain before text/html.
	v3.AddContent(mail.NewContent("text/plain", m.Text))
	if m.HTML != "" {
		v3.AddContent(mail.NewContent("text/html", m.HTML))
	}
	// RFC 3834: asks vacation responders not to answer a robot.
	v3.SetHeader("Auto-Submitted", "auto-generated")
	if m.Language != "" {
		v3.SetHeader("Content-Language", m.Language)
	}
	v3.SetCustomArg("message_id", m.ID)
	v3.SetCustomArg("kind", m.Kind)
	v3.SetTrackingSettings(mail.NewTrackingSettings().
		SetClickTracking(mail.NewClickTrackingSetting().SetEnable(false).SetEnableText(false)).
		SetOpenTracking(mail.NewOpenTrackingSetting().SetEnable(false)).
		SetSubscriptionTracking(mail.NewSubscriptionTrackingSetting().SetEnable(false)).
		// Google Analytics tagging appends utm_* to links: it would edit the
		// reset link too.
		SetGoogleAnalytics(mail.NewGaSetting().SetEnable(false)))
	return v3
}

// sendGridError classifies a non-202 answer. The Reason holds the status and
// the provider's errors[].message, never the request, recipient or link.
func sendGridError(resp *rest.Response, m models.Message) *SendError {
	e := &SendError{Status: resp.StatusCode}
	var body struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	reason := "sendgrid: HTTP " + strconv.Itoa(resp.StatusCode)
	if json.Unmarshal([]byte(resp.Body), &body) == nil && len(body.Errors) > 0 {
		msgs := make([]string, 0, len(body.Errors))
		for _, pe := range body.Errors {
			msgs = append(msgs, pe.Message)
		}
		reason += ": " + strings.Join(msgs, "; ")
	}
	e.Reason = cleanReason(reason, m.To)

	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		e.RetryAfter = retryAfter(http.Header(resp.Headers).Get("Retry-After"), time.Now())
	case code == http.StatusRequestTimeout, code >= 500:
	case code >= 400:
		e.Permanent = true
	}
	return e
}

// retryAfter reads a Retry-After value, delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). Missing, malformed or past values give 0; absurd ones
// are capped at a day.
func retryAfter(v string, now time.Time) time.Duration {
	const ceiling = 24 * time.Hour
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(secs, 0), int64(ceiling/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), ceiling)
	}
	return 0
}
