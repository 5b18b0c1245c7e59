package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// notices is a Composer that renders every notice as a fixed message.
type notices struct{ nobody }

func (notices) ComposeNotice(_ context.Context, _ Notice, id string) (models.Message, error) {
	return models.Message{ID: id, Kind: models.MessageNotice, To: "a@example.org"}, nil
}

// mailerFunc adapts a function to mail.Mailer.
type mailerFunc func(models.Message) error

func (f mailerFunc) Send(_ context.Context, m models.Message) error { return f(m) }

// Every outcome reaches the observer with the job's kind and attempt, when
// it was requested and when the outcome happened by the queue's clock, so
// that a "sent" tells the delivery lag.
func TestDeliveryObserved(t *testing.T) {
	t.Parallel()
	requested := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	now := requested.Add(3 * time.Second)
	rows := []struct {
		name    string
		send    error
		outcome string
	}{
		{"accepted", nil, "sent"},
		{"refused for good", &mail.SendError{Permanent: true, Reason: "no such sender"}, "dead_letter"},
		{"throttled", &mail.SendError{Status: 429, RetryAfter: time.Second}, "throttled"},
		{"a temporary failure", errors.New("connection reset"), "retry"},
	}
	db := storetest.SQLite(t)
	for _, r := range rows {
		var got []Delivery
		q := mustQueue(t, db, Deps{
			Mailer:  mailerFunc(func(models.Message) error { return r.send }),
			Now:     func() time.Time { return now },
			Observe: func(d Delivery) { got = append(got, d) },
		})
		w := &mailWorker[Notice]{q: q, kind: models.MessageNotice, compose: notices{}.ComposeNotice}
		job := &river.Job[Notice]{JobRow: &rivertype.JobRow{ID: 7, Attempt: 2},
			Args: Notice{UserID: "u", At: requested, Deadline: now.Add(time.Hour)}}
		_ = w.Work(context.Background(), job) // the outcome is what the observer heard
		want := Delivery{Kind: models.MessageNotice, Outcome: r.outcome, Attempt: 2, RequestedAt: requested, At: now}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: heard %+v, want %+v", r.name, got, want)
		}
	}
}
