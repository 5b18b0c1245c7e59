package account

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
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
// one process with the default mail.workers: resolve the account, issue a
// token, render, send. The provider answers at once or after 100 ms.
func BenchmarkWorkerThroughput(b *testing.B) {
	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("provider=%s", delay), func(b *testing.B) {
			db := storetest.Postgres(b)
			ctx := context.Background()
			now := time.Now().UTC()
			for i := range b.N {
				key := fmt.Sprintf("w%06d@example.org", i)
				if err := db.CreateUser(ctx, models.User{ID: key, Email: key, EmailKey: key, PasswordHash: "x",
					PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
					b.Fatal(err)
				}
			}
			m := &countingMailer{delay: delay, want: int64(b.N), done: make(chan struct{})}
			mailCfg := config.DefaultMail()
			q, err := queue.New(mailCfg, queue.Deps{DB: db, Mailer: m, Composer: mustMails(b, db, mailCfg, time.Now),
				Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now},
				queue.DefaultTuning(true))
			if err != nil {
				b.Fatal(err)
			}
			for i := range b.N {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					key := fmt.Sprintf("w%06d@example.org", i)
					return q.EnqueueResets(ctx, tx, []queue.Reset{{EmailKey: key, RequestedAt: now, Deadline: now.Add(time.Hour)}})
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
			_ = q.Stop(sctx) // the measurement is over
		})
	}
}
