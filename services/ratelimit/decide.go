package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// step is one window an event is counted in: the limit's name, the subject
// (a client key or an address hash) and the rate.
type step struct {
	name, subject string
	rate          config.Rate
}

// verdict is the outcome of one request's steps: refused is the index of
// the step that refused it (-1: none), retry how long until that window ends.
type verdict struct {
	refused int
	retry   time.Duration
}

// decide counts many requests at once and decides each of them, in the
// order given, exactly as if they had been counted one after the other: a
// request is counted in its steps in order and stops at the first window it
// is over, so a request refused by a shorter window does not count in the
// longer ones.
//
// Every step of every request is counted in one statement (store.CountHits);
// the totals it returns, minus what this call added, are the counts before
// it, from which the verdicts follow. Counts of steps a refused request never
// reached are then given back (store.UncountHits). Both statements must run
// in one transaction when a plan has more than one step, so that nobody sees
// the counts in between.
func (l *Limits) decide(ctx context.Context, q store.Queries, plans [][]step) ([]verdict, error) {
	now := l.now()
	type counted struct {
		window store.Window
		end    time.Time
	}
	where := make([][]counted, len(plans))
	var hits []store.Hit
	added := map[store.Window]int64{}
	for i, plan := range plans {
		where[i] = make([]counted, len(plan))
		for j, s := range plan {
			bucket, start, end := window(s.name, s.subject, s.rate, now)
			w := store.Window{Bucket: bucket, Start: start}
			where[i][j] = counted{w, end}
			hits = append(hits, store.Hit{Bucket: bucket, Start: start, End: end.Unix(), N: 1})
			added[w]++
		}
	}
	totals, err := q.CountHits(ctx, hits)
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	running := make(map[store.Window]int64, len(added))
	for w, n := range added {
		running[w] = totals[w] - n
	}
	verdicts := make([]verdict, len(plans))
	reached := map[store.Window]int64{}
	for i, plan := range plans {
		verdicts[i].refused = -1
		for j, s := range plan {
			c := where[i][j]
			running[c.window]++
			reached[c.window]++
			if running[c.window] > int64(s.rate.Max) {
				verdicts[i] = verdict{refused: j, retry: c.end.Sub(now)}
				break
			}
		}
	}
	var back []store.Hit
	for w, n := range added {
		if over := n - reached[w]; over > 0 {
			back = append(back, store.Hit{Bucket: w.Bucket, Start: w.Start, N: over})
		}
	}
	if err := q.UncountHits(ctx, back); err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	return verdicts, nil
}
