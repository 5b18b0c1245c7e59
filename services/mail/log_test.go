package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

func TestLogMailer(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mailer := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)), "no-reply@accountpw.test")
	link := "https://app.test/password-reset?token=abc123"
	m := mustRenderReset(t, mustRenderer(t), ResetEmail{MessageID: "m-7", To: "ann@example.com", Language: "de", Link: link,
		ValidFor: 30 * time.Minute})

	if err := mailer.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("log line is not JSON: %v", err)
	}
	want := map[string]any{
		"level": "INFO", "msg": "email (log mailer)", "message_id": "m-7", "kind": models.MessageReset, "language": "de",
		"from": "no-reply@accountpw.test", "to": "ann@example.com", "subject": "Passwort für Acme zurücksetzen", "text": m.Text,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if !strings.Contains(got["text"].(string), link) {
		t.Errorf("text does not hold the link: %q", got["text"])
	}
}

func TestLogMailerNilLogger(t *testing.T) {
	t.Parallel()
	if err := NewLog(nil, "x@y.test").Send(context.Background(), models.Message{}); err != nil {
		t.Fatalf("Send: %v", err)
	}
}
