package store

import "context"

// JobCounts returns how many mail-queue jobs are in each of River's states
// (available, scheduled, running, retryable, pending, completed, cancelled,
// discarded), in one grouped count over river_job; a state without jobs is
// absent. It is what the metrics read at scrape time, so it is one statement
// and honours ctx's deadline. Errors: a classified database error.
func (q Queries) JobCounts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	// CAST: PostgreSQL's state is an enum, SQLite's is text.
	err := q.with(ctx).Raw("SELECT CAST(state AS TEXT) AS state, count(*) AS n FROM river_job GROUP BY state").
		Scan(&rows).Error
	if err != nil {
		return nil, classify("count queued jobs", err)
	}
	counts := make(map[string]int64, len(rows))
	for _, r := range rows {
		counts[r.State] = r.N
	}
	return counts, nil
}
