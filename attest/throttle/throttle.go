package throttle

import (
	"container/list"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxRetryAfter bounds the wait a refused request is told: a client that
// is told more comes back sooner and is given a new appointment.
const MaxRetryAfter = 5 * time.Minute

// Global is one token bucket for every enrolment's costly work.
type Global struct {
	bucket *rate.Limiter
	// book hands out appointments to refused requests, one every
	// 1/rate; it never refuses.
	book *rate.Limiter
}

// NewGlobal returns a bucket of burst tokens that refills perSecond
// tokens a second; perSecond +Inf, or burst 0 or less with any rate,
// is no limit.
func NewGlobal(perSecond float64, burst int) *Global {
	if math.IsInf(perSecond, 1) || burst <= 0 || perSecond <= 0 {
		return &Global{bucket: rate.NewLimiter(rate.Inf, 0)}
	}
	return &Global{bucket: rate.NewLimiter(rate.Limit(perSecond), burst), book: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// Take takes a token at now and returns 0, or returns how long the
// caller should wait before it tries again: its appointment, at most
// MaxRetryAfter away.
func (g *Global) Take(now time.Time) time.Duration {
	r := g.bucket.ReserveN(now, 1)
	if r.OK() && r.DelayFrom(now) == 0 {
		return 0
	}
	r.CancelAt(now)
	a := g.book.ReserveN(now, 1)
	d := a.DelayFrom(now)
	if d > MaxRetryAfter {
		a.CancelAt(now)
		return MaxRetryAfter
	}
	// The first appointment is the next token.
	return max(d, time.Duration(float64(time.Second)/float64(g.bucket.Limit())))
}

// Sources is a token bucket per source address for refused requests.
type Sources struct {
	perSecond rate.Limit
	burst     int
	max       int

	mu  sync.Mutex
	lru list.List // of *source, most recently refused first
	by  map[netip.Prefix]*list.Element
}

type source struct {
	key netip.Prefix
	lim *rate.Limiter
}

// NewSources returns buckets of burst refusals, refilling perSecond a
// second, for at most maxSources addresses; perSecond +Inf, or burst or
// maxSources 0 or less, is no limit.
func NewSources(perSecond float64, burst, maxSources int) *Sources {
	s := &Sources{perSecond: rate.Limit(perSecond), burst: burst, max: maxSources, by: map[netip.Prefix]*list.Element{}}
	if math.IsInf(perSecond, 1) || perSecond <= 0 || burst <= 0 || maxSources <= 0 {
		s.perSecond = rate.Inf
	}
	return s
}

// Wait returns 0 if the source key may be served at now, or how long
// it should wait: until its bucket holds a refusal again.
func (s *Sources) Wait(key netip.Prefix, now time.Time) time.Duration {
	if s.perSecond == rate.Inf {
		return 0
	}
	s.mu.Lock()
	e, ok := s.by[key]
	s.mu.Unlock()
	if !ok {
		return 0
	}
	tokens := e.Value.(*source).lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return min(MaxRetryAfter, time.Duration((1-tokens)/float64(s.perSecond)*float64(time.Second)))
}

// Refused takes a refusal from key's bucket at now. Requests that were
// in flight at once can take it below zero: the source then waits until
// they are paid for.
func (s *Sources) Refused(key netip.Prefix, now time.Time) {
	if s.perSecond == rate.Inf {
		return
	}
	s.refused(key, now, true)
}

// RefusedIfKept is Refused for a source that is kept (was refused
// before), and nothing for another: a request turned away by the
// global bucket costs its source only if the source is known for
// refusals, so that devices behind one address that boot together are
// not punished for the crowd they make.
func (s *Sources) RefusedIfKept(key netip.Prefix, now time.Time) {
	if s.perSecond == rate.Inf {
		return
	}
	s.refused(key, now, false)
}

func (s *Sources) refused(key netip.Prefix, now time.Time, add bool) {
	s.mu.Lock()
	e, ok := s.by[key]
	switch {
	case ok:
		s.lru.MoveToFront(e)
	case !add:
		s.mu.Unlock()
		return
	default:
		if s.lru.Len() >= s.max {
			old := s.lru.Back()
			s.lru.Remove(old)
			delete(s.by, old.Value.(*source).key)
		}
		e = s.lru.PushFront(&source{key: key, lim: rate.NewLimiter(s.perSecond, s.burst)})
		s.by[key] = e
	}
	lim := e.Value.(*source).lim
	s.mu.Unlock()
	lim.ReserveN(now, 1)
}

// Len is how many sources are kept.
func (s *Sources) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// Key is the bucket of a request's remote address (host:port, as
// net/http's Request.RemoteAddr): the IPv4 address, or the IPv6
// address's /64; an IPv4 address mapped into IPv6 is the IPv4 one. An
// address that does not parse is the zero Prefix: every such request
// shares one bucket.
func Key(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// RetryAfter is a Retry-After header's value for a wait d: whole
// seconds, rounded up, at least one (RFC 9110, 10.2.3).
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(int64(max(1, (d+time.Second-1)/time.Second)), 10)
}
