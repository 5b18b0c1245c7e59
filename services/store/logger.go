package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// slowStatement is the duration above which a statement is logged as slow.
const slowStatement = 200 * time.Millisecond

// startSetting is where beforeStatement leaves a statement's start time.
const startSetting = "accountpw:statement_start"

// Statement logging never shows a bound value, at any level. GORM's own slog
// logger, even with ParameterizedQueries, prints errors and slow statements
// of Raw(…).Scan(…) with every value inlined (Scan traces through a recorder
// whose parameter filter ignores that setting), and it prints a client's
// disconnect (context.Canceled) at ERROR. So GORM gets quietLogger, which
// traces nothing, and logStatement reports each statement from the callbacks
// instead, where the statement's text still holds placeholders: never
// values, never the inlined form.

// quietLogger is GORM's logger: statements are logged by logStatement; GORM's
// own rare messages are logged by their format alone, without the data
// (which may hold a value).
type quietLogger struct{ log *slog.Logger }

func (l quietLogger) LogMode(logger.LogLevel) logger.Interface { return l }

func (l quietLogger) Info(ctx context.Context, msg string, _ ...any) {
	l.log.DebugContext(ctx, "gorm: "+msg)
}

func (l quietLogger) Warn(ctx context.Context, msg string, _ ...any) {
	l.log.WarnContext(ctx, "gorm: "+msg)
}

func (l quietLogger) Error(ctx context.Context, msg string, _ ...any) {
	l.log.ErrorContext(ctx, "gorm: "+msg)
}

func (quietLogger) Trace(context.Context, time.Time, func() (string, int64), error) {}

// ParamsFilter drops the values of any statement GORM renders for a log.
func (quietLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

// logStatement reports one finished statement: a slow one at warn, a failed
// one at debug (whoever called the query reports the failure once, with its
// operation and class), a cancelled one at debug (the caller went away), a
// missing row not at all. The statement is its text with placeholders.
func (d *DB) logStatement(ctx context.Context, statement string, elapsed time.Duration, rows int64, err error) {
	ctx = context.WithoutCancel(ctx)
	attrs := []slog.Attr{slog.String("statement", statement),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000)}
	switch {
	case err == nil && elapsed >= slowStatement:
		d.log.LogAttrs(ctx, slog.LevelWarn, "slow sql", append(attrs, slog.Int64("rows", rows))...)
	case err == nil, errors.Is(err, gorm.ErrRecordNotFound):
	default:
		d.log.LogAttrs(ctx, slog.LevelDebug, "sql failed", append(attrs,
			slog.String("class", classOf(err).String()), slog.String("error", describe(err)))...)
	}
}

func (c class) String() string {
	switch c {
	case unavailable:
		return "unavailable"
	case canceled:
		return "canceled"
	case undefined:
		return "undefined"
	}
	return "fault"
}
