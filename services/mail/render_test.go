package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

const (
	validSentence  = "This link is valid for 30 minutes and works only once."
	ignoreSentence = "If you did not ask for this, ignore this email — your password has not changed."
)

func mustRenderReset(t *testing.T, d ResetEmail) models.Message {
	t.Helper()
	m, err := RenderReset(d)
	if err != nil {
		t.Fatalf("RenderReset: %v", err)
	}
	return m
}

func TestRenderReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		link     string
		wantHref string // how the link must appear in the HTML part
	}{
		{"plain link", "https://app.test/password-reset?token=abc_DEF-123", `href="https://app.test/password-reset?token=abc_DEF-123"`},
		{"link with a quote", `https://app.test/password-reset?token=a" onclick="x`, `href="https://app.test/password-reset?token=a%22%20onclick=%22x"`},
		{"link with a tag", "https://app.test/password-reset?token=a<b>", `href="https://app.test/password-reset?token=a%3cb%3e"`},
		{"unsafe scheme", "javascript:alert(1)", `href="#ZgotmplZ"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustRenderReset(t, ResetEmail{MessageID: "m-1", To: "ann@example.com", Link: tt.link, ValidFor: 30 * time.Minute})
			if m.ID != "m-1" || m.Kind != models.MessageReset || m.To != "ann@example.com" {
				t.Errorf("got id %q kind %q to %q", m.ID, m.Kind, m.To)
			}
			if m.Subject != "Reset your password" {
				t.Errorf("got subject %q", m.Subject)
			}
			if got := strings.Count(m.Text, tt.link); got != 1 {
				t.Errorf("text holds the link %d times, want 1:\n%s", got, m.Text)
			}
			if got := strings.Count(m.HTML, tt.wantHref); got != 1 {
				t.Errorf("html holds %s %d times, want 1:\n%s", tt.wantHref, got, m.HTML)
			}
			if strings.ContainsAny(tt.link, `<"`) && strings.Contains(m.HTML, tt.link) {
				t.Errorf("html holds the unescaped link:\n%s", m.HTML)
			}
			for _, part := range []string{m.Text, m.HTML} {
				for _, want := range []string{validSentence, ignoreSentence} {
					if !strings.Contains(part, want) {
						t.Errorf("missing %q in:\n%s", want, part)
					}
				}
			}
		})
	}
}

func TestRenderNotice(t *testing.T) {
	t.Parallel()
	at := time.Date(2029, 1, 2, 16, 4, 5, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		change models.PasswordMethod
		want   string
	}{
		{"reset", "Your password was reset on Tue, 02 Jan 2029 15:04:05 UTC from IP address 203.0.113.9."},
		{"change", "Your password was changed on Tue, 02 Jan 2029 15:04:05 UTC from IP address 203.0.113.9."},
	}
	for _, tt := range tests {
		t.Run(string(tt.change), func(t *testing.T) {
			t.Parallel()
			m, err := RenderNotice(NoticeEmail{MessageID: "n-1", To: "ann@example.com", Change: tt.change,
				At: at, IP: "203.0.113.9", SupportContact: "support@accountpw.test"})
			if err != nil {
				t.Fatalf("RenderNotice: %v", err)
			}
			if m.ID != "n-1" || m.Kind != models.MessageNotice || m.To != "ann@example.com" || m.Subject != "Your password was changed" {
				t.Errorf("got id %q kind %q to %q subject %q", m.ID, m.Kind, m.To, m.Subject)
			}
			contact := "If this was not you, reset your password now and contact support@accountpw.test."
			for _, part := range []string{m.Text, m.HTML} {
				for _, want := range []string{tt.want, contact} {
					if !strings.Contains(part, want) {
						t.Errorf("missing %q in:\n%s", want, part)
					}
				}
				for _, never := range []string{"token", "http", "href", "password:"} {
					if strings.Contains(strings.ToLower(part), never) {
						t.Errorf("notice holds %q:\n%s", never, part)
					}
				}
			}
		})
	}
}

func TestRenderRejectsIncompleteData(t *testing.T) {
	t.Parallel()
	reset := ResetEmail{To: "a@example.com", Link: "https://x.test/?token=t", ValidFor: time.Hour}
	notice := NoticeEmail{To: "a@example.com", Change: models.MethodReset, SupportContact: "help"}
	tests := []struct {
		name   string
		reset  func(*ResetEmail)
		notice func(*NoticeEmail)
	}{
		{name: "reset without recipient", reset: func(d *ResetEmail) { d.To = "" }},
		{name: "reset without link", reset: func(d *ResetEmail) { d.Link = "" }},
		{name: "reset without validity", reset: func(d *ResetEmail) { d.ValidFor = 0 }},
		{name: "notice without contact", notice: func(d *NoticeEmail) { d.SupportContact = "" }},
		{name: "notice of unknown change", notice: func(d *NoticeEmail) { d.Change = "changed" }},
	}
	for _, tt := range tests {
		var err error
		if tt.reset != nil {
			d := reset
			tt.reset(&d)
			_, err = RenderReset(d)
		} else {
			d := notice
			tt.notice(&d)
			_, err = RenderNotice(d)
		}
		if err == nil {
			t.Errorf("%s: got nil error", tt.name)
		}
	}
}

func TestRenderHTMLFetchesNothing(t *testing.T) {
	t.Parallel()
	reset := mustRenderReset(t, ResetEmail{To: "a@example.com", Link: "https://x.test/?token=t", ValidFor: time.Hour})
	notice, err := RenderNotice(NoticeEmail{To: "a@example.com", Change: models.MethodChange, SupportContact: "help"})
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{reset.HTML, notice.HTML} {
		for _, never := range []string{"<img", "<link", "<script", "<style", "src=", "url(", "@import"} {
			if strings.Contains(page, never) {
				t.Errorf("html holds %q:\n%s", never, page)
			}
		}
	}
}

func TestMailHumanDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{30 * time.Minute, "30 minutes"}, {time.Hour, "1 hour"}, {2 * time.Hour, "2 hours"},
		{90 * time.Minute, "90 minutes"}, {time.Minute, "1 minute"}, {30 * time.Second, "1 minute"},
		{61 * time.Second, "2 minutes"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.in); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMailCleanReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"recipient", "550 <ann@example.com> unknown", "550 <[redacted]> unknown"},
		{"recipient in other case", "550 <Ann@Example.COM> unknown", "550 <[redacted]> unknown"},
		{"token", "bad link https://x.test/?token=abc123 here", "bad link https://x.test/?token=[redacted] here"},
		{"control characters", "a\r\nlevel=INFO msg=forged", "a  level=INFO msg=forged"},
		{"long", strings.Repeat("é", 400), strings.Repeat("é", maxReason/2) + "…"},
	}
	for _, tt := range tests {
		if got := cleanReason(tt.in, "ann@example.com"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
