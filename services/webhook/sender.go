package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accountpw/accountpw/services/config"
)

const (
	// AttemptTimeout bounds one attempt, from connecting to the last byte
	// read: a receiver that needs longer should queue the event on its side
	// and answer at once.
	AttemptTimeout = 5 * time.Second
	// MaxRetryAfter caps the wait a 429's Retry-After may ask for, so an
	// absurd value cannot push an event past the queue's 24 hours in one
	// step.
	MaxRetryAfter = time.Hour
	// maxResponseRead is how much of an answer's body is read, and thrown
	// away, so the connection can be reused; nothing of it is kept.
	maxResponseRead = 4 << 10
	// maxIDLen bounds a message id, which travels in a header.
	maxIDLen = 256
)

// Outcome is what one attempt says to the queue. Exactly one of Delivered,
// Retry, Permanent and Gone is set.
type Outcome struct {
	// Delivered: the receiver answered 2xx; the event is done.
	Delivered bool
	// Retry: no answer in time, a network error, 408, 429 or 5xx; try again
	// after RetryAfter when it is positive, else after the queue's backoff.
	Retry      bool
	RetryAfter time.Duration
	// Permanent: another 4xx, a redirect (never followed) or an id that
	// cannot be sent; retrying cannot help, so the event is a dead letter.
	Permanent bool
	// Gone: the receiver answered 410 Gone, asking not to be sent events
	// any more. The event is dropped without retry; this is the receiver's
	// decision, not a fault to alert on, but worth a log line, and an
	// operator should unset webhook.url.
	Gone bool
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Reason says what happened, for logs: the status or the network error.
	// It never holds a body (the event's or the answer's), a secret, or the
	// URL, which may carry a token in its query.
	Reason string
}

// Sender makes delivery attempts to the configured URL. It is safe for
// concurrent use.
type Sender struct {
	cfg    config.Webhook
	keys   [][]byte
	client *http.Client
	now    func() time.Time
}

// Wants reports whether events of type typ are to be sent (webhook.events).
func (s *Sender) Wants(typ string) bool { return s.cfg.Wants(typ) }

// New returns a Sender for cfg, whose clock now stamps each attempt. Errors:
// a section without URL (no events are to be sent), or one whose secrets
// config.Webhook.Keys refuses; Validate refuses both.
func New(cfg config.Webhook, now func() time.Time) (*Sender, error) {
	if !cfg.Enabled() {
		return nil, errors.New("new webhook sender: webhook.url is not set")
	}
	keys, err := cfg.Keys()
	if err != nil {
		return nil, fmt.Errorf("new webhook sender: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("new webhook sender: no secret")
	}
	client := &http.Client{
		Timeout: AttemptTimeout,
		// A redirect is answered as it is: following it would send a signed
		// event to an address nobody configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{cfg: cfg, keys: keys, client: client, now: now}, nil
}

// Send makes one attempt to deliver body, the JSON of an Event, under the
// message id, which the caller keeps the same across attempts; the
// timestamp and signatures are those of this attempt. The answer is
// classified in the Outcome; Send itself never fails.
func (s *Sender) Send(ctx context.Context, id string, body []byte) Outcome {
	if !validID(id) {
		return Outcome{Permanent: true, Reason: "webhook: the message id must be 1–256 printable ASCII characters"}
	}
	ts := s.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Outcome{Permanent: true, Reason: "webhook: cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "accountpw-webhook")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(s.keys, id, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return transportOutcome(ctx, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	return statusOutcome(resp, s.now())
}

// transportOutcome classifies an attempt without an answer: always retried.
func transportOutcome(ctx context.Context, err error) Outcome {
	o := Outcome{Retry: true}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		o.Reason = "webhook: attempt cancelled"
	case errors.As(err, &ne) && ne.Timeout():
		o.Reason = fmt.Sprintf("webhook: no answer within %s", AttemptTimeout)
	default:
		// A *url.Error quotes the URL; its cause names only the host.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		o.Reason = "webhook: network error: " + err.Error()
	}
	return o
}

// statusOutcome classifies an answer by its status alone.
func statusOutcome(resp *http.Response, now time.Time) Outcome {
	code := resp.StatusCode
	o := Outcome{Status: code, Reason: "webhook: HTTP " + strconv.Itoa(code)}
	switch {
	case code >= 200 && code < 300:
		o.Delivered = true
	case code == http.StatusGone:
		o.Gone = true
		o.Reason += ": the receiver asks not to be sent events any more"
	case code == http.StatusTooManyRequests:
		o.Retry = true
		o.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	case code == http.StatusRequestTimeout, code >= 500:
		o.Retry = true
	case code >= 300 && code < 400:
		o.Permanent = true
		o.Reason += ": redirects are not followed; set webhook.url to the final address"
	default:
		o.Permanent = true
	}
	return o
}

// retryAfter reads a Retry-After value, delay-seconds or an HTTP date (RFC
// 9110 §10.2.3). Missing, malformed or past values give 0 (the queue's
// backoff applies); longer ones are capped at MaxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(secs, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), MaxRetryAfter)
	}
	return 0
}

// validID accepts what can travel in a header unchanged: 1–256 printable
// ASCII characters without spaces.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
