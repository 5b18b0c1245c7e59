package main

import (
	"slices"
	"time"
)

// latencies collects request durations.
type latencies []time.Duration

func (l latencies) percentile(p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := min(int(p*float64(len(s))), len(s)-1)
	return ms(s[i])
}

func (l latencies) mean() float64 {
	if len(l) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return ms(sum / time.Duration(len(l)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func round(f float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}
