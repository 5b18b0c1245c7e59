package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// DeadLetter is a message the queue gave up on: a permanent provider
// refusal, or its deadline passed.
type DeadLetter struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Recipient string    `json:"recipient"` // keyed pseudonym, never the address
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	At        time.Time `json:"at"`
}

// ErrNotDeadLetter is returned by Retry for an id that is not a dead letter.
var ErrNotDeadLetter = errors.New("no dead letter with that id")

// ErrExpired is returned by Retry for a message past its deadline: for a
// reset email, the token lifetime after the request, so a new link must be
// requested instead.
var ErrExpired = errors.New("this message is past its delivery deadline (for a reset email: the token lifetime); the person must request a new link")

// DeadLetters lists failed messages, newest first, at most limit of them.
func (q *Queue) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	params := river.NewJobListParams().States(rivertype.JobStateCancelled, rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		d := DeadLetter{ID: j.ID, Attempts: j.Attempt, At: j.CreatedAt}
		var a struct {
			Recipient string `json:"recipient"`
		}
		_ = json.Unmarshal(j.EncodedArgs, &a)
		d.Recipient = a.Recipient
		switch j.Kind {
		case Reset{}.Kind():
			d.Kind = models.MessageReset
		case Notice{}.Kind():
			d.Kind = models.MessageNotice
		default:
			d.Kind = j.Kind
		}
		if n := len(j.Errors); n > 0 {
			d.LastError = j.Errors[n-1].Error
			d.At = j.Errors[n-1].At
		}
		if j.FinalizedAt != nil {
			d.At = *j.FinalizedAt
		}
		out = append(out, d)
	}
	return out, nil
}

// Retry puts dead letter id back in the queue. Errors: ErrNotDeadLetter,
// ErrExpired, a wrapped database error.
func (q *Queue) Retry(ctx context.Context, id int64) error {
	j, err := q.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return ErrNotDeadLetter
	}
	if err != nil {
		return fmt.Errorf("retry message: %w", err)
	}
	if j.State != rivertype.JobStateCancelled && j.State != rivertype.JobStateDiscarded {
		return ErrNotDeadLetter
	}
	var a struct {
		Deadline time.Time `json:"deadline"`
	}
	if err := json.Unmarshal(j.EncodedArgs, &a); err == nil && !a.Deadline.IsZero() && q.deps.Now().After(a.Deadline) {
		return ErrExpired
	}
	if _, err := q.client.JobRetry(ctx, id); err != nil {
		return fmt.Errorf("retry message: %w", err)
	}
	return nil
}

// Drop deletes dead letter id for good: one that cannot be sent any more (a
// reset email past its link's lifetime) or need not be, once someone has
// dealt with it. Dead letters are kept 30 days otherwise, and the
// dead-letter alert fires while any is kept. Errors: ErrNotDeadLetter, a
// wrapped database error.
func (q *Queue) Drop(ctx context.Context, id int64) error {
	j, err := q.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return ErrNotDeadLetter
	}
	if err != nil {
		return fmt.Errorf("drop message: %w", err)
	}
	if j.State != rivertype.JobStateCancelled && j.State != rivertype.JobStateDiscarded {
		return ErrNotDeadLetter
	}
	if _, err := q.client.JobDelete(ctx, id); err != nil {
		return fmt.Errorf("drop message: %w", err)
	}
	return nil
}
