package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// testMail is the mail section the rendering tests use, changed by edits.
func testMail(edits ...func(*config.Mail)) config.Mail {
	cfg := config.DefaultMail()
	cfg.ProductName, cfg.ProductURL, cfg.SupportContact = "Acme", "https://acme.example", "support@acme.example"
	for _, e := range edits {
		e(&cfg)
	}
	return cfg
}

func mustRenderer(t *testing.T, edits ...func(*config.Mail)) *Renderer {
	t.Helper()
	r, err := NewRenderer(testMail(edits...))
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

func mustRenderReset(t *testing.T, r *Renderer, d ResetEmail) models.Message {
	t.Helper()
	m, err := r.RenderReset(d)
	if err != nil {
		t.Fatalf("RenderReset: %v", err)
	}
	return m
}

func TestRenderReset(t *testing.T) {
	t.Parallel()
	r := mustRenderer(t)
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
			m := mustRenderReset(t, r, ResetEmail{MessageID: "m-1", To: "ann@example.com", Link: tt.link, ValidFor: 30 * time.Minute})
			if m.ID != "m-1" || m.Kind != models.MessageReset || m.To != "ann@example.com" || m.Language != "en" {
				t.Errorf("got id %q kind %q to %q language %q", m.ID, m.Kind, m.To, m.Language)
			}
			if m.Subject != "Reset your password for Acme" {
				t.Errorf("got subject %q", m.Subject)
			}
			if got := strings.Count(m.Text, tt.link); got != 1 {
				t.Errorf("text holds the link %d times, want 1:\n%s", got, m.Text)
			}
			// The button and the visible link.
			if got := strings.Count(m.HTML, tt.wantHref); got != 2 {
				t.Errorf("html holds %s %d times, want 2:\n%s", tt.wantHref, got, m.HTML)
			}
			if strings.ContainsAny(tt.link, `<"`) && strings.Contains(m.HTML, tt.link) {
				t.Errorf("html holds the unescaped link:\n%s", m.HTML)
			}
			for _, part := range []string{m.Text, m.HTML} {
				for _, want := range []string{"The link is valid for 30 minutes and works only once.",
					"If you did not ask for this, ignore this email; your password stays the same.",
					"Someone asked to reset the password of your Acme account, ann@example.com."} {
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
	r := mustRenderer(t)
	at := time.Date(2029, 1, 2, 16, 4, 5, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		change models.PasswordMethod
		want   string
	}{
		{"reset", "was reset with an emailed link on 2 January 2029 at 15:04 UTC from the IP address 203.0.113.9."},
		{"change", "was changed on 2 January 2029 at 15:04 UTC from the IP address 203.0.113.9."},
	}
	for _, tt := range tests {
		t.Run(string(tt.change), func(t *testing.T) {
			t.Parallel()
			m, err := r.RenderNotice(NoticeEmail{MessageID: "n-1", To: "ann@example.com", Change: tt.change,
				At: at, IP: "203.0.113.9", RequestLink: "https://acme.example/password-reset/request"})
			if err != nil {
				t.Fatalf("RenderNotice: %v", err)
			}
			if m.ID != "n-1" || m.Kind != models.MessageNotice || m.To != "ann@example.com" || m.Subject != "Your password for Acme was changed" {
				t.Errorf("got id %q kind %q to %q subject %q", m.ID, m.Kind, m.To, m.Subject)
			}
			contact := "Reset your password now and contact support@acme.example."
			for _, part := range []string{m.Text, m.HTML} {
				for _, want := range []string{tt.want, contact, "https://acme.example/password-reset/request"} {
					if !strings.Contains(part, want) {
						t.Errorf("missing %q in:\n%s", want, part)
					}
				}
				for _, never := range []string{"token", "password:"} {
					if strings.Contains(strings.ToLower(part), never) {
						t.Errorf("notice holds %q:\n%s", never, part)
					}
				}
			}
		})
	}
}

// Without mail.support_contact the notice names the reader's administrator,
// in the reader's language.
func TestRenderNoticeWithoutSupportContact(t *testing.T) {
	t.Parallel()
	r := mustRenderer(t, func(c *config.Mail) { c.SupportContact = "" })
	for lang, want := range map[string]string{"en": "contact your administrator.", "de": "wenden Sie sich an Ihren Administrator."} {
		m, err := r.RenderNotice(NoticeEmail{To: "a@example.com", Language: lang, Change: models.MethodChange, RequestLink: sampleRequestLink})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("%s: missing %q in:\n%s", lang, want, m.Text)
		}
	}
}

func TestRenderRejectsIncompleteData(t *testing.T) {
	t.Parallel()
	r := mustRenderer(t)
	reset := ResetEmail{To: "a@example.com", Link: "https://x.test/?token=t", ValidFor: time.Hour}
	notice := NoticeEmail{To: "a@example.com", Change: models.MethodReset, RequestLink: sampleRequestLink}
	tests := []struct {
		name   string
		reset  func(*ResetEmail)
		notice func(*NoticeEmail)
	}{
		{name: "reset without recipient", reset: func(d *ResetEmail) { d.To = "" }},
		{name: "reset without link", reset: func(d *ResetEmail) { d.Link = "" }},
		{name: "reset without validity", reset: func(d *ResetEmail) { d.ValidFor = 0 }},
		{name: "reset valid for under a second", reset: func(d *ResetEmail) { d.ValidFor = 999 * time.Millisecond }},
		{name: "notice without request link", notice: func(d *NoticeEmail) { d.RequestLink = "" }},
		{name: "notice of unknown change", notice: func(d *NoticeEmail) { d.Change = "changed" }},
	}
	for _, tt := range tests {
		var err error
		if tt.reset != nil {
			d := reset
			tt.reset(&d)
			_, err = r.RenderReset(d)
		} else {
			d := notice
			tt.notice(&d)
			_, err = r.RenderNotice(d)
		}
		if err == nil {
			t.Errorf("%s: got nil error", tt.name)
		}
	}
}

// The HTML holds no <style> (many clients drop it) and nothing a client
// would fetch; it declares both colour schemes.
func TestRenderHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	r := mustRenderer(t)
	for _, lang := range Languages() {
		reset := mustRenderReset(t, r, ResetEmail{To: "a@example.com", Language: lang, Link: "https://x.test/?token=t", ValidFor: time.Hour})
		notice, err := r.RenderNotice(NoticeEmail{To: "a@example.com", Language: lang, Change: models.MethodChange, RequestLink: sampleRequestLink})
		if err != nil {
			t.Fatal(err)
		}
		for _, page := range []string{reset.HTML, notice.HTML} {
			for _, never := range []string{"<img", "<link", "<script", "<style", "src=", "url(", "@import", "<iframe", "<form"} {
				if strings.Contains(page, never) {
					t.Errorf("%s: html holds %q", lang, never)
				}
			}
			for _, want := range []string{`<html lang="` + lang + `"`, `<meta name="color-scheme" content="light dark">`,
				`<meta name="supported-color-schemes" content="light dark">`, `role="presentation"`} {
				if !strings.Contains(page, want) {
					t.Errorf("%s: html lacks %s", lang, want)
				}
			}
		}
	}
}

// Language picks the first preference of a supported language, else the
// configured default: the account's locale wins over the request's
// language, which wins over the default.
func TestRendererLanguage(t *testing.T) {
	t.Parallel()
	r := mustRenderer(t, func(c *config.Mail) { c.DefaultLocale = "es" })
	tests := []struct {
		name   string
		locale string // the account's
		asked  string // stored with the request
		want   string
	}{
		{"account locale wins", "de", "fr", "de"},
		{"account locale with a region", "fr-CA", "de", "fr"},
		{"request language without a locale", "", "fr", "fr"},
		{"unsupported locale falls through", "pt-BR", "fr", "fr"},
		{"neither gives the default", "", "", "es"},
		{"garbage gives the default", "not a tag!", "??", "es"},
	}
	for _, tt := range tests {
		if got := r.Language(tt.locale, tt.asked); got != tt.want {
			t.Errorf("%s: Language(%q, %q) = %q, want %q", tt.name, tt.locale, tt.asked, got, tt.want)
		}
	}
	m := mustRenderReset(t, r, ResetEmail{To: "a@example.com", Language: "ja", Link: "https://x.test/?token=t", ValidFor: time.Hour})
	if m.Language != "es" || m.Subject != "Restablezca su contraseña de Acme" {
		t.Errorf("unsupported language: got %s %q, want the default (es)", m.Language, m.Subject)
	}
}

// Negotiate stores nothing but a supported tag: garbage or a huge header
// gives "", never a piece of the header.
func TestNegotiate(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, header, want string }{
		{"browser value", "fr-FR,fr;q=0.9,en;q=0.8", "fr"},
		{"unsupported", "ja", ""},
		{"garbage", `"><script>`, ""},
		{"huge", strings.Repeat("x", 1<<20) + ",de", ""},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.header); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
