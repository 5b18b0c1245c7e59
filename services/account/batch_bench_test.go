package account

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// BenchmarkRequestReset measures {"email"} through the group-commit batcher
// with the production limits, from many goroutines at once (-cpu sets how
// many per core), on PostgreSQL and on SQLite: counts, decisions and job
// inserts, without HTTP. Each request comes from its own client address.
func BenchmarkRequestReset(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"postgres", storetest.Postgres}, {"sqlite", storetest.SQLite}} {
		b.Run(c.name, func(b *testing.B) {
			e := newBenchEnv(b, c.open(b))
			var n atomic.Int64
			b.SetParallelism(8) // 8 × GOMAXPROCS goroutines: 16 on two cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					cl := models.Client{IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
					if err := e.p.RequestReset(context.Background(), cl, fmt.Sprintf("b%07d@example.org", i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCountHits measures one multi-row counter upsert of 64 requests'
// windows (five each, as {"email"} counts them), on PostgreSQL and SQLite.
func BenchmarkCountHits(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"postgres", storetest.Postgres}, {"sqlite", storetest.SQLite}} {
		b.Run(c.name, func(b *testing.B) {
			db := c.open(b)
			hits := make([]store.Hit, 0, 64*5)
			for i := range 64 {
				for w := range 5 {
					hits = append(hits, store.Hit{Bucket: fmt.Sprintf("w%d:%d", w, i), Start: 0, End: 60, N: 1})
				}
			}
			for b.Loop() {
				if _, err := db.CountHits(context.Background(), hits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

// newBenchEnv is newEnv for benchmarks: production limits, a mailer that
// accepts everything, and no queue workers (only the request path is
// measured).
func newBenchEnv(b *testing.B, db *store.DB) *testEnv {
	b.Helper()
	return newEnvTB(b, db, withLimits(config.DefaultLimits()), func(c *envConfig) { c.mailer = blackhole{}; c.noWorkers = true })
}
