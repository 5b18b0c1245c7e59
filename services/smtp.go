package services

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/accountpw/accountpw/models"
)

// SMTPConfig configures the SMTP mailer for self-hosters.
type SMTPConfig struct {
	Host string
	// Port 0 picks the port from the TLS policy: 587, or 25 with "none".
	Port     int
	Username string // empty means no SMTP AUTH
	Password string
	// TLS is "mandatory" (STARTTLS required; the default when empty),
	// "opportunistic" (STARTTLS when offered) or "none" (local sinks only).
	TLS  string
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
// is permanent. The Reason names the SMTP step and codes, never the recipient.
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

// classify maps a go-mail error to a *SendError. go-mail's own Error text
// lists the affected recipients, so the Reason is rebuilt from its parts.
// Failures before the envelope (dial, TLS, AUTH) are this server's or our
// configuration's, not this message's, and stay temporary so mail waits for
// the operator instead of being dead-lettered.
func (s *smtpMailer) classify(err error, m models.Message) *SendError {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return &SendError{Reason: cleanReason("smtp: "+err.Error(), m.To, s.secret)}
	}
	e := &SendError{Status: se.ErrorCode()}
	reason := "smtp: " + se.Reason.String()
	if e.Status != 0 {
		reason += " (" + strconv.Itoa(e.Status)
		if esc := se.EnhancedStatusCode(); esc != "" {
			reason += " " + esc
		}
		reason += ")"
	}
	e.Reason = cleanReason(reason, m.To, s.secret)
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
