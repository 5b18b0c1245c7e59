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
	from   string
	domain string // right-hand side of generated Message-IDs
	secret string
}

// NewSMTP returns a Mailer that sends each message as multipart/alternative
// (text, then HTML) over its own SMTP connection to cfg.SMTP: TLS
// "mandatory" (STARTTLS required), "opportunistic" (when offered) or "none"
// (local sinks only); SMTP AUTH with the strongest mechanism the server
// offers when a username is set; cfg.SMTP.HELO in EHLO, or this machine's
// name. cfg.From ("addr@domain" or "Name <addr@domain>") is the sender and
// its domain ends every Message-ID. It returns an error for what
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
	from, err := netmail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from: %w", err)
	}
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
	domain := from.Address[strings.LastIndex(from.Address, "@")+1:]
	return &smtpMailer{client: client, from: m.From, domain: domain, secret: cfg.Password}, nil
}

// Send delivers m. A 4xx reply, or a failure to connect, authenticate or talk
// to the server, is a temporary *SendError; a 5xx reply or an unusable address
// is permanent. The Reason holds the SMTP step and the server's reply, with
// the recipient redacted.
func (s *smtpMailer) Send(ctx context.Context, m models.Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return &SendError{Permanent: true, Reason: "smtp: invalid from address"}
	}
	if err := msg.To(m.To); err != nil {
		return &SendError{Permanent: true, Reason: "smtp: invalid recipient address"}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.ID != "" {
		msg.SetMessageIDWithValue(messageIDLocal(m.ID) + "@" + s.domain)
	} else {
		msg.SetMessageID()
	}
	// RFC 3834: asks vacation responders not to answer a robot.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
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

// messageIDLocal keeps the characters RFC 5322 allows in a Message-ID's left
// side without quoting, so an odd internal id cannot break the header.
func messageIDLocal(id string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_+=", r)) {
			return r
		}
		return '-'
	}, id)
}
