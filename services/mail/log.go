package mail

import (
	"context"
	"log/slog"

	"github.com/accountpw/accountpw/models"
)

// logMailer is the development default: it "delivers" a message by writing
// it to the log, so a developer can follow a reset link without any mail
// server.
type logMailer struct {
	log  *slog.Logger
	from string
}

// NewLog returns a Mailer that writes each message as one INFO line,
// msg="email (log mailer)", with the attributes message_id, kind, language,
// from, to, subject and text. The text part holds the reset link, and so the token.
//
// By design this is the only place in accountpw where a reset token or a
// clear-text address may reach a log (everywhere else tokens never do and
// addresses appear only as keyed pseudonyms): it exists for development,
// where the log is the mailbox. Never configure it
// where the log is shipped anywhere real users' mail would not go. The HTML
// part is left out; it carries the same content.
//
// Send never fails. A nil log means slog.Default().
func NewLog(log *slog.Logger, from string) Mailer {
	if log == nil {
		log = slog.Default()
	}
	return &logMailer{log: log, from: from}
}

// Send writes m to the log and returns nil.
func (l *logMailer) Send(ctx context.Context, m models.Message) error {
	l.log.LogAttrs(ctx, slog.LevelInfo, "email (log mailer)",
		slog.String("message_id", m.ID),
		slog.String("kind", m.Kind),
		slog.String("language", m.Language),
		slog.String("from", l.from),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("text", m.Text),
	)
	return nil
}
