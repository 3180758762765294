package bench

import (
	"slices"
	"time"
)

// Sample is a set of timings of one operation.
type Sample []time.Duration

// Median returns the middle timing.
func (s Sample) Median() time.Duration { return s.quantile(0.5) }

// P99 returns the 99th percentile timing.
func (s Sample) P99() time.Duration { return s.quantile(0.99) }

func (s Sample) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c[min(len(c)-1, int(q*float64(len(c))))]
}

// MiBps returns the throughput of moving size bytes in the median time.
func (s Sample) MiBps(size int) float64 {
	m := s.Median()
	if m <= 0 {
		return 0
	}
	return float64(size) / m.Seconds() / (1 << 20)
}
