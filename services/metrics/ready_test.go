package metrics

import (
	"context"
	"errors"
	"testing"
)

// accountpw_ready follows the readiness check at every scrape.
func TestReadyGauge(t *testing.T) {
	m := newMetrics()
	var err error
	m.WatchReady(func(context.Context) error { return err })
	for _, c := range []struct {
		err  error
		want float64
	}{{nil, 1}, {errors.New("database down"), 0}, {nil, 1}} {
		err = c.err
		s := sample(gather(t, m), "accountpw_ready")
		if s == nil || s.GetGauge().GetValue() != c.want {
			t.Errorf("ready with %v: got %v, want %v", c.err, s, c.want)
		}
	}
}
