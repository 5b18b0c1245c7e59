package services

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"gorm.io/gorm"
)

// countingMailer accepts every message after delay and signals when n have
// been delivered.
type countingMailer struct {
	delay time.Duration
	n     atomic.Int64
	want  int64
	done  chan struct{}
}

func (m *countingMailer) Send(ctx context.Context, _ models.Message) error {
	if m.delay > 0 {
		select {
		case <-time.After(m.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if m.n.Add(1) == m.want {
		close(m.done)
	}
	return nil
}

// BenchmarkWorkerThroughput measures reset emails delivered per second by
// one process with the default 4 workers: resolve the account, issue a
// token, render, send. The provider answers at once or after 100 ms.
func BenchmarkWorkerThroughput(b *testing.B) {
	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("provider=%s", delay), func(b *testing.B) {
			db := mustPostgres(b)
			ctx := context.Background()
			now := time.Now().UTC()
			for i := range b.N {
				key := fmt.Sprintf("w%06d@example.org", i)
				if err := db.Gorm.Create(&models.User{ID: key, Email: key, EmailKey: key, PasswordHash: "x",
					PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}).Error; err != nil {
					b.Fatal(err)
				}
			}
			m := &countingMailer{delay: delay, want: int64(b.N), done: make(chan struct{})}
			q, err := NewQueue(db, QueueConfig{Mailer: m, ResetURL: "https://app.example.org/password-reset",
				TokenTTL: 30 * time.Minute, SupportContact: "help@example.org", PollInterval: 50 * time.Millisecond,
				Pseudonym: NewPseudonymizer([]byte("k")).Email}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			for i := range b.N {
				err := db.Gorm.Transaction(func(tx *gorm.DB) error {
					return q.enqueueResetTx(ctx, tx, fmt.Sprintf("w%06d@example.org", i), models.Client{})
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			if err := q.Start(ctx); err != nil {
				b.Fatal(err)
			}
			select {
			case <-m.done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("only %d of %d delivered", m.n.Load(), b.N)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "emails/s")
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			q.Stop(sctx)
		})
	}
}
