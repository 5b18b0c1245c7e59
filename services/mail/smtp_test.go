package mail

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	smtpmock "github.com/mocktools/go-smtp-mock/v2"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

var smtpMessage = models.Message{ID: "job-1", Kind: models.MessageReset, To: "ann@example.com", Language: "de",
	Subject: "Passwort für Acme zurücksetzen",
	Text:    "open https://app.test/password-reset?token=secret123", HTML: `<a href="https://app.test/password-reset?token=secret123">go</a>`}

// newSMTPMock starts an in-process SMTP server on a random local port.
// MultipleMessageReceiving is needed because go-mail sends NOOP after EHLO.
func newSMTPMock(t *testing.T, cfg smtpmock.ConfigurationAttr) *smtpmock.Server {
	t.Helper()
	cfg.HostAddress, cfg.MultipleMessageReceiving = "127.0.0.1", true
	srv := smtpmock.New(cfg)
	if err := srv.Start(); err != nil {
		t.Fatalf("start smtp mock: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func mustSMTP(t *testing.T, port int, edits ...func(*config.Mail)) Mailer {
	t.Helper()
	// The mock accepts only a dotted or "localhost" EHLO name, and this
	// machine's host name may be neither.
	m, err := NewSMTP(smtpConfig(append(edits, func(c *config.Mail) { c.SMTP.Port = port })...))
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return m
}

// mustParts decodes a multipart/alternative message into its parts by type.
func mustParts(t *testing.T, raw string) (netmail.Header, map[string]string) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || media != "multipart/alternative" {
		t.Fatalf("got content type %q (%v), want multipart/alternative", media, err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for p, err := mr.NextRawPart(); err == nil; p, err = mr.NextRawPart() {
		var body io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(p)
		}
		b, rerr := io.ReadAll(body)
		if rerr != nil {
			t.Fatalf("read part: %v", rerr)
		}
		media, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[media] = string(b)
	}
	return msg.Header, parts
}

func TestSMTPDelivers(t *testing.T) {
	t.Parallel()
	srv := newSMTPMock(t, smtpmock.ConfigurationAttr{})
	if err := mustSMTP(t, srv.PortNumber()).Send(context.Background(), smtpMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := srv.WaitForMessages(1, 2*time.Second)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	rcpt := msgs[0].RcpttoRequestResponse()
	if len(rcpt) != 1 || rcpt[0][0] != "RCPT TO:<ann@example.com>" {
		t.Errorf("got RCPT %v, want one to ann@example.com", rcpt)
	}
	header, parts := mustParts(t, msgs[0].MsgRequest())
	if got := header.Get("Message-ID"); !messageIDPattern.MatchString(got) {
		t.Errorf("got Message-ID %q, want 160 random bits at the sender's domain", got)
	}
	if got, err := new(mime.WordDecoder).DecodeHeader(header.Get("Subject")); err != nil || got != smtpMessage.Subject {
		t.Errorf("got Subject %q (%v)", got, err)
	}
	for name, want := range map[string]string{"Auto-Submitted": "auto-generated", "Content-Language": "de",
		"X-Mailer": "", "User-Agent": ""} {
		if got := header.Get(name); got != want {
			t.Errorf("got %s %q, want %q", name, got, want)
		}
	}
	if strings.TrimSpace(parts["text/plain"]) != smtpMessage.Text || strings.TrimSpace(parts["text/html"]) != smtpMessage.HTML {
		t.Errorf("got parts %q", parts)
	}
}

func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	to := []string{smtpMessage.To}
	tests := []struct {
		name      string
		cfg       smtpmock.ConfigurationAttr
		status    int
		permanent bool
		words     string // of the server's reply, kept in the Reason
	}{
		{"mailbox busy at RCPT", smtpmock.ConfigurationAttr{BlacklistedRcpttoEmails: to,
			MsgRcpttoBlacklistedEmail: "450 4.2.1 <ann@example.com> mailbox busy"}, 450, false, "mailbox busy"},
		{"unknown user at RCPT", smtpmock.ConfigurationAttr{NotRegisteredEmails: to,
			MsgRcpttoNotRegisteredEmail: "550 5.1.1 <ANN@example.com> user unknown"}, 550, true, "user unknown"},
		{"deferred after DATA", smtpmock.ConfigurationAttr{MsgMsgReceived: "451 4.3.0 try again later"}, 451, false, "try again later"},
		{"rejected after DATA", smtpmock.ConfigurationAttr{MsgMsgReceived: "554 5.7.1 rejected as spam"}, 554, true, "rejected as spam"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newSMTPMock(t, tt.cfg)
			se := mustSendError(t, mustSMTP(t, srv.PortNumber()).Send(context.Background(), smtpMessage))
			if se.Status != tt.status || se.Permanent != tt.permanent {
				t.Errorf("got status %d permanent %v, want %d %v (%s)", se.Status, se.Permanent, tt.status, tt.permanent, se.Reason)
			}
			if !strings.Contains(se.Reason, tt.words) {
				t.Errorf("reason lacks %q: %q", tt.words, se.Reason)
			}
			if strings.Contains(strings.ToLower(se.Error()), smtpMessage.To) || strings.Contains(se.Error(), "secret123") {
				t.Errorf("reason holds the recipient or the link: %q", se.Reason)
			}
		})
	}
}

func TestSMTPUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	se := mustSendError(t, mustSMTP(t, port).Send(context.Background(), smtpMessage))
	if se.Permanent || se.Status != 0 {
		t.Errorf("got %+v, want a temporary error", se)
	}
}

// messageIDPattern is a Message-ID of newMessageID at the test sender's
// domain: 32 base32 characters, 160 bits.
var messageIDPattern = regexp.MustCompile(`^<[a-z2-7]{32}@accountpw\.test>$`)

// smtpConfig is a mail section for the local mock, changed by edits.
func smtpConfig(edits ...func(*config.Mail)) config.Mail {
	cfg := config.DefaultMail()
	cfg.Provider, cfg.From, cfg.ProductName = config.ProviderSMTP, "no-reply@accountpw.test", "Acme"
	cfg.SMTP = config.SMTP{Host: "127.0.0.1", TLS: config.SMTPTLSNone, HELO: "localhost", Timeout: 5 * time.Second}
	for _, edit := range edits {
		edit(&cfg)
	}
	return cfg
}

// The From header carries a display name: mail.from_name, else a name
// written in mail.from, else the product name.
func TestSMTPFromDisplayName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*config.Mail)
		want string
	}{
		{"product name by default", func(*config.Mail) {}, "Acme"},
		{"explicit from_name wins", func(c *config.Mail) { c.FromName = "Acme Support" }, "Acme Support"},
		{"name written in from", func(c *config.Mail) { c.From = "Acme Accounts <no-reply@accountpw.test>" }, "Acme Accounts"},
		{"name that needs encoding", func(c *config.Mail) { c.ProductName = "Café Zoë" }, "Café Zoë"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newSMTPMock(t, smtpmock.ConfigurationAttr{})
			if err := mustSMTP(t, srv.PortNumber(), tt.edit).Send(context.Background(), smtpMessage); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs, err := srv.WaitForMessages(1, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			header, _ := mustParts(t, msgs[0].MsgRequest())
			from, err := (&netmail.AddressParser{WordDecoder: new(mime.WordDecoder)}).Parse(header.Get("From"))
			if err != nil || from.Name != tt.want || from.Address != "no-reply@accountpw.test" {
				t.Errorf("got From %q (%v), want %q <no-reply@accountpw.test>", header.Get("From"), err, tt.want)
			}
		})
	}
}

// TestSMTPConfig: NewSMTP refuses what config.Mail.Validate refuses.
func TestSMTPConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*config.Mail)
	}{
		{"no host", func(c *config.Mail) { c.SMTP.Host = "" }},
		{"bad from", func(c *config.Mail) { c.From = "not an address" }},
		{"unknown tls", func(c *config.Mail) { c.SMTP.TLS = "sometimes" }},
	}
	for _, tt := range tests {
		cfg := smtpConfig(tt.edit)
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("%s: got nil error", tt.name)
		}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: NewSMTP refuses it but config.Mail.Validate does not", tt.name)
		}
	}
}

func TestSMTPConcurrentSends(t *testing.T) {
	t.Parallel()
	srv := newSMTPMock(t, smtpmock.ConfigurationAttr{})
	mailer := mustSMTP(t, srv.PortNumber())
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			m := smtpMessage
			m.ID = fmt.Sprintf("job-%d", i%2) // two jobs, five attempts each
			if err := mailer.Send(context.Background(), m); err != nil {
				t.Errorf("Send %s: %v", m.ID, err)
			}
		})
	}
	wg.Wait()
	msgs, err := srv.WaitForMessages(10, 2*time.Second)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	// Every message has its own Message-ID, even two of one job.
	seen := map[string]bool{}
	for _, m := range msgs {
		header, _ := mustParts(t, m.MsgRequest())
		id := header.Get("Message-ID")
		if !messageIDPattern.MatchString(id) || seen[id] {
			t.Errorf("Message-ID %q: malformed or repeated", id)
		}
		seen[id] = true
	}
}
