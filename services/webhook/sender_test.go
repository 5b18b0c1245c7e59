package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
)

// secretBody is in every answer body; no Reason may contain it.
const secretBody = "receiver-internal-detail"

func TestSendClassifiesAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	answer := func(status int, header ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			w.Write([]byte(secretBody + strings.Repeat(".", 64<<10))) // a large body is read only in part
		}
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    Outcome // Reason is checked apart
	}{
		{"200", answer(200), Outcome{Delivered: true, Status: 200}},
		{"202", answer(202), Outcome{Delivered: true, Status: 202}},
		{"204", answer(204), Outcome{Delivered: true, Status: 204}},
		{"500", answer(500), Outcome{Retry: true, Status: 500}},
		{"502", answer(502), Outcome{Retry: true, Status: 502}},
		{"503 with Retry-After (only 429 is honoured)", answer(503, "Retry-After", "30"), Outcome{Retry: true, Status: 503}},
		{"408 is a timeout", answer(408), Outcome{Retry: true, Status: 408}},
		{"429 with seconds", answer(429, "Retry-After", "7"), Outcome{Retry: true, RetryAfter: 7 * time.Second, Status: 429}},
		{"429 with an HTTP date", answer(429, "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)),
			Outcome{Retry: true, RetryAfter: 90 * time.Second, Status: 429}},
		{"429 asking for a week", answer(429, "Retry-After", "604800"), Outcome{Retry: true, RetryAfter: MaxRetryAfter, Status: 429}},
		{"429 with a date in the past", answer(429, "Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), Outcome{Retry: true, Status: 429}},
		{"429 with a malformed value", answer(429, "Retry-After", "soon"), Outcome{Retry: true, Status: 429}},
		{"429 without Retry-After", answer(429), Outcome{Retry: true, Status: 429}},
		{"410 Gone", answer(410), Outcome{Gone: true, Status: 410}},
		{"400", answer(400), Outcome{Permanent: true, Status: 400}},
		{"401", answer(401), Outcome{Permanent: true, Status: 401}},
		{"403", answer(403), Outcome{Permanent: true, Status: 403}},
		{"404", answer(404), Outcome{Permanent: true, Status: 404}},
		{"413", answer(413), Outcome{Permanent: true, Status: 413}},
		{"422", answer(422), Outcome{Permanent: true, Status: 422}},
		{"redirect, not followed", answer(307, "Location", "/elsewhere"), Outcome{Permanent: true, Status: 307}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				paths = append(paths, r.URL.Path) // requests of one test are sequential
				tc.handler(w, r)
			}))
			t.Cleanup(srv.Close)
			s := mustSender(t, srv.URL+"/hooks", now)
			got := s.Send(context.Background(), "msg_1", []byte(`{"type":"password.changed"}`))
			checkReason(t, got)
			got.Reason = ""
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(paths) != 1 || paths[0] != "/hooks" {
				t.Errorf("the receiver saw %v, want one request to /hooks (no redirect followed)", paths)
			}
		})
	}
}

func TestSendWithoutAnswer(t *testing.T) {
	t.Parallel()
	// A receiver that never answers: the handler waits until the client
	// gives up and closes the connection (the server notices only once the
	// body is read), or until the test ends.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: cleanups run last-in first-out
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens at its address any more

	slow := mustSender(t, hang.URL, time.Now())
	slow.client.Timeout = 50 * time.Millisecond // AttemptTimeout, shortened for the test
	got := slow.Send(context.Background(), "msg_1", []byte(`{}`))
	checkReason(t, got)
	if !got.Retry || got.Status != 0 || !strings.Contains(got.Reason, "no answer within") {
		t.Errorf("timeout: got %+v, want a retry for no answer", got)
	}

	got = mustSender(t, closed.URL, time.Now()).Send(context.Background(), "msg_1", []byte(`{}`))
	checkReason(t, got)
	if !got.Retry || got.Status != 0 || !strings.Contains(got.Reason, "network error") {
		t.Errorf("connection refused: got %+v, want a retry for a network error", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got = mustSender(t, hang.URL, time.Now()).Send(ctx, "msg_1", []byte(`{}`))
	if !got.Retry || !strings.Contains(got.Reason, "cancelled") {
		t.Errorf("cancelled: got %+v, want a retry", got)
	}
}

func TestSendRefusesBadIDs(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	s := mustSender(t, srv.URL, time.Now())
	for _, id := range []string{"", "msg 1", "msg\r\nX-Injected: 1", "msg_é", strings.Repeat("m", 257)} {
		if got := s.Send(context.Background(), id, []byte(`{}`)); !got.Permanent || got.Status != 0 {
			t.Errorf("id %q: got %+v, want permanent without a request", id, got)
		}
	}
	if len(rec.got) != 0 {
		t.Errorf("the receiver got %d requests, want none", len(rec.got))
	}
}

func TestNewRefusesWhatValidateRefuses(t *testing.T) {
	t.Parallel()
	if _, err := New(config.Webhook{}, time.Now); err == nil {
		t.Error("without a URL there is nothing to send to: New must refuse")
	}
	for i, cfg := range []config.Webhook{
		{URL: "https://app.example.org/hooks"},
		{URL: "https://app.example.org/hooks", Secret: "whsec_short"},
		{URL: "https://app.example.org/hooks", Secret: secretCurrent, OldSecrets: "plain"},
	} {
		if _, err := New(cfg, time.Now); err == nil || cfg.Validate() == nil {
			t.Errorf("config %d: New got %v, want an error that Validate shares", i, err)
		}
	}
}

func mustSender(t *testing.T, url string, now time.Time) *Sender {
	t.Helper()
	s, err := New(config.Webhook{URL: url, Secret: secretCurrent, OldSecrets: secretOld}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkReason: every outcome says what happened, and never quotes an answer
// body, a secret or a URL.
func checkReason(t *testing.T, o Outcome) {
	t.Helper()
	if !strings.HasPrefix(o.Reason, "webhook: ") {
		t.Errorf("reason %q, want one starting with webhook:", o.Reason)
	}
	for _, leak := range []string{secretBody, secretCurrent[6:], secretOld[6:], "http://", "/hooks"} {
		if strings.Contains(o.Reason, leak) {
			t.Errorf("reason %q contains %q", o.Reason, leak)
		}
	}
}
