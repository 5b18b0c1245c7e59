package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"

	"github.com/wneessen/go-mail"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

type smtpMailer struct {
	client *mail.Client
	from   netmail.Address
	domain string // right-hand side of generated Message-IDs
	secret string
}

// NewSMTP returns a Mailer that sends each message as multipart/alternative
// (text, then HTML) over its own SMTP connection to cfg.SMTP: TLS
// "mandatory" (STARTTLS required), "opportunistic" (when offered) or "none"
// (local sinks only); SMTP AUTH with the strongest mechanism the server
// offers when a username is set; cfg.SMTP.HELO in EHLO, or this machine's
// name. The sender is cfg.Sender(): the From address with its display name.
// Every message gets a random Message-ID at the sender's domain, and no
// X-Mailer or User-Agent header (they would only advertise the library to
// whoever probes for its flaws). It returns an error for what
// config.SMTP.Validate refuses: a missing host, an unparsable From or an
// unknown TLS policy.
func NewSMTP(m config.Mail) (Mailer, error) {
	cfg := m.SMTP
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	policy := map[string]mail.TLSPolicy{
		config.SMTPTLSMandatory: mail.TLSMandatory, config.SMTPTLSOpportunistic: mail.TLSOpportunistic,
		config.SMTPTLSNone: mail.NoTLS,
	}[cfg.TLS]
	if _, err := netmail.ParseAddress(m.From); err != nil {
		return nil, fmt.Errorf("smtp: from: %w", err)
	}
	from := m.Sender()
	port := cfg.SubmissionPort()
	// Not WithTLSPortPolicy: with "opportunistic" it silently falls back to
	// port 25, even after WithPort, when 587 does not answer.
	opts := []mail.Option{mail.WithTimeout(cfg.Timeout), mail.WithPort(port), mail.WithTLSPolicy(policy)}
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	// A go-mail Client dials a fresh connection per DialAndSend and guards its
	// settings with a lock, so one is shared by all Sends.
	client, err := mail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return &smtpMailer{client: client, from: from, domain: messageIDDomain(from.Address), secret: cfg.Password}, nil
}

// Send delivers m. A 4xx reply, or a failure to connect, authenticate or talk
// to the server, is a temporary *SendError; a 5xx reply or an unusable address
// is permanent. The Reason holds the SMTP step and the server's reply, with
// the recipient redacted.
func (s *smtpMailer) Send(ctx context.Context, m models.Message) error {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	from := s.from // a copy: the message keeps the pointer
	msg.FromMailAddress(&from)
	if err := msg.To(m.To); err != nil {
		return &SendError{Permanent: true, Reason: "smtp: invalid recipient address"}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// A fresh id per attempt: a reset email is composed anew (with a new
	// token) for every attempt, so each attempt is a different message. The
	// queue's stable id (m.ID) stays in its logs, not in the header.
	msg.SetMessageIDWithValue(newMessageID(s.domain))
	// RFC 3834: asks vacation responders not to answer a robot.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	if m.Language != "" {
		msg.SetGenHeader(mail.Header("Content-Language"), m.Language)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return s.classify(err, m)
	}
	return nil
}

// classify maps a go-mail error to a *SendError. Failures before the
// envelope (dial, TLS, AUTH) are this server's or our configuration's, not
// this message's, and stay temporary so mail waits for the operator instead
// of being dead-lettered.
func (s *smtpMailer) classify(err error, m models.Message) *SendError {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return &SendError{Reason: cleanReason("smtp: "+err.Error(), m.To, s.secret)}
	}
	// go-mail's text is "<step>: <server reply>, affected recipient(s): …":
	// the list goes, and cleanReason catches a reply that echoes the address.
	text, _, _ := strings.Cut(se.Error(), ", affected recipient(s): ")
	text, _, _ = strings.Cut(text, ", affected message ID: ")
	e := &SendError{Status: se.ErrorCode(), Reason: cleanReason("smtp: "+text, m.To, s.secret)}
	switch {
	case se.IsTemp():
	case e.Status >= 500, se.Reason == mail.ErrGetSender, se.Reason == mail.ErrGetRcpts:
		e.Permanent = true
	}
	return e
}
