package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/riverqueue/river"
)

// housekeepingArgs is the hourly clean-up job. River's own cleaner deletes
// finished jobs after their retention periods; this one deletes expired
// reset tokens (used or not: once expired they prove nothing) and stale
// rate-limit counters.
type housekeepingArgs struct{}

func (housekeepingArgs) Kind() string { return "housekeeping" }

// InsertOpts makes the job unique per hour, so a leader change cannot run it twice.
func (housekeepingArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 55 * time.Minute}}
}

type housekeepingWorker struct {
	river.WorkerDefaults[housekeepingArgs]
	q *Queue
}

// Work deletes expired tokens, then runs the configured extra clean-up.
func (w *housekeepingWorker) Work(ctx context.Context, _ *river.Job[housekeepingArgs]) error {
	res := w.q.db.Gorm.WithContext(ctx).Where("expires_at < ?", w.q.cfg.Now()).Delete(&models.ResetToken{})
	if res.Error != nil {
		return fmt.Errorf("housekeeping: %w", res.Error)
	}
	if w.q.cfg.Housekeeping != nil {
		if err := w.q.cfg.Housekeeping(ctx); err != nil {
			return fmt.Errorf("housekeeping: %w", err)
		}
	}
	w.q.log.InfoContext(ctx, "housekeeping", slog.Int64("expired_tokens_deleted", res.RowsAffected))
	return nil
}
