package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// readyTimeout bounds the readiness check a scrape makes, as /readyz bounds
// its own: a database that cannot answer within it is not ready.
const readyTimeout = 2 * time.Second

// WatchReady adds accountpw_ready: 1 when ready (what /readyz answers 200
// for) says the replica can serve, else 0, asked at every scrape. The
// public listener's /readyz is for load balancers; this is the same answer
// where Prometheus scrapes, so that an alert sees a replica that runs but
// cannot serve (database, schema, bearer keys).
func (m *Metrics) WatchReady(ready func(context.Context) error) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "ready",
		Help: "1 when this replica is ready to serve (what /readyz answers 200 for), else 0; asked at every scrape."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
			defer cancel()
			if ready(ctx) != nil {
				return 0
			}
			return 1
		}))
}
