package services

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/accountpw/accountpw/models"
)

// SMTPConfig configures the SMTP mailer for self-hosters.
type SMTPConfig struct {
	// Host is the submission server's name (also checked against its TLS
	// certificate).
	Host string
	// Port 0 picks the port from the TLS policy: 587, or 25 with "none".
	Port int
	// Username and Password enable SMTP AUTH (the strongest mechanism the
	// server offers); an empty Username means no AUTH.
	Username string
	Password string
	// TLS is "mandatory" (STARTTLS required; the default when empty),
	// "opportunistic" (STARTTLS when offered) or "none" (local sinks only).
	TLS string
	// From is the sender, "addr@domain" or "Name <addr@domain>"; its domain
	// also ends every Message-ID.
	From string
	// HELO is the name sent in EHLO; empty means this machine's host name.
	HELO string
	// Timeout bounds each network step; 0 means 10s.
	Timeout time.Duration
}

type smtpMailer struct {
	client *mail.Client
	from   string
	domain string // right-hand side of generated Message-IDs
	secret string
}

// NewSMTP returns a Mailer that sends each message as multipart/alternative
// (text, then HTML) over its own SMTP connection. It returns an error for a
// missing host, an unparsable From or an unknown TLS policy.
func NewSMTP(cfg SMTPConfig) (Mailer, error) {
	policy, ok := map[string]mail.TLSPolicy{
		"": mail.TLSMandatory, "mandatory": mail.TLSMandatory,
		"opportunistic": mail.TLSOpportunistic, "none": mail.NoTLS,
	}[cfg.TLS]
	if !ok {
		return nil, fmt.Errorf("smtp: unknown tls policy %q", cfg.TLS)
	}
	if cfg.Host == "" {
		return nil, errors.New("smtp: host is required")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	port := cfg.Port
	if port == 0 {
		port = map[bool]int{true: 25, false: 587}[policy == mail.NoTLS]
	}
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
	return &smtpMailer{client: client, from: cfg.From, domain: domain, secret: cfg.Password}, nil
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
