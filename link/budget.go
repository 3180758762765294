package link

import "sync"

// Budget bounds the bytes that the partial messages of several Conns hold
// together: every multi-frame message reserves its whole length when its
// first frame arrives, and a message that does not fit is refused (its
// frames are dropped) rather than allocated. Single-frame messages need
// no reservation, so small calls go through while the budget is spent.
// A Budget is safe for concurrent use.
type Budget struct {
	mu   sync.Mutex
	max  int64
	used int64
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// take reserves n bytes and reports whether they fitted.
func (b *Budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// give returns n reserved bytes.
func (b *Budget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// Used reports the bytes reserved now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
