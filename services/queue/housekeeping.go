package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// housekeepingArgs is the hourly clean-up job. River's own cleaner deletes
// finished jobs after their retention periods; this one runs Deps.Housekeeping
// (expired reset tokens, stale rate-limit counters).
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

// Work runs the clean-up.
func (w *housekeepingWorker) Work(ctx context.Context, _ *river.Job[housekeepingArgs]) error {
	if w.q.deps.Housekeeping == nil {
		return nil
	}
	if err := w.q.deps.Housekeeping(ctx); err != nil {
		return fmt.Errorf("housekeeping: %w", err)
	}
	return nil
}
