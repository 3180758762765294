package link

import (
	"sync"
	"time"
)

// Budget bounds the bytes that the partial messages of several Conns hold
// together: every multi-frame message reserves its whole length when its
// first frame arrives. A message that does not fit waits, without reading
// further from its stream (so its sender waits too), until others return
// their room; one that still does not fit after DefaultBudgetWait is
// refused (its frames are dropped) rather than allocated. Single-frame
// messages need no reservation. A Budget is safe for concurrent use.
type Budget struct {
	mu    sync.Mutex
	max   int64
	used  int64
	freed chan struct{} // closed, and replaced, when room is returned
}

// DefaultBudgetWait is how long a message waits for room in a Budget:
// as long as a message may take (DefaultMessageTime), past which its
// sender has given up on the answer anyway. Partial messages that hold
// the room are given up within the message gap when their senders stop.
const DefaultBudgetWait = DefaultMessageTime

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max, freed: make(chan struct{})} }

// wait reserves n bytes, waiting for room until the deadline or until
// stop reports true (checked at least every pollStop); it reports whether
// it got them.
func (b *Budget) wait(n int64, deadline time.Time, stop func() bool) bool {
	for {
		b.mu.Lock()
		if b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return true
		}
		freed := b.freed
		b.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 || n > b.max || stop() {
			return false
		}
		t := time.NewTimer(min(left, pollStop))
		select {
		case <-freed:
		case <-t.C:
		}
		t.Stop()
	}
}

// pollStop is how often a wait for room checks whether it should stop.
const pollStop = 100 * time.Millisecond

// give returns n reserved bytes.
func (b *Budget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
}

// Used reports the bytes reserved now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
