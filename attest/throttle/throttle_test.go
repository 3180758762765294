package throttle

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)

// TestGlobal: a burst is served at once, the next request is told to
// come back when a token is due, and a crowd refused at one instant is
// given appointments one token apart, bounded by MaxRetryAfter.
func TestGlobal(t *testing.T) {
	g := NewGlobal(10, 3)
	for i := range 3 {
		if d := g.Take(t0); d != 0 {
			t.Fatalf("take %d of the burst = %v, want 0", i, d)
		}
	}
	var waits []time.Duration
	for range 5 {
		waits = append(waits, g.Take(t0))
	}
	want := []time.Duration{100, 100, 200, 300, 400}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond {
			t.Errorf("waits after the burst = %v, want %v ms", waits, want)
			break
		}
	}
	// The refusals took no token: one is due 100 ms later.
	if d := g.Take(t0.Add(100 * time.Millisecond)); d != 0 {
		t.Errorf("take when a token is due = %v, want 0", d)
	}
	if d := g.Take(t0.Add(100 * time.Millisecond)); d == 0 {
		t.Error("a second take in the same instant was served")
	}

	crowd := NewGlobal(50, 200)
	var last time.Duration
	for range 200 + 3000 {
		last = crowd.Take(t0)
	}
	if got := RetryAfter(last); got != "60" {
		t.Errorf("the 3,000th refused of a crowd at 50/s is told %s s, want 60", got)
	}
	slow := NewGlobal(1, 1)
	for range 1000 {
		last = slow.Take(t0)
	}
	if last != MaxRetryAfter {
		t.Errorf("the 1,000th refused at 1/s is told %v, want the bound %v", last, MaxRetryAfter)
	}
	for _, off := range []*Global{NewGlobal(math.Inf(1), 0), NewGlobal(0, 10), NewGlobal(10, 0)} {
		for i := range 10000 {
			if d := off.Take(t0); d != 0 {
				t.Fatalf("take %d with no limit = %v", i, d)
			}
		}
	}
}

// TestSources: a source is served until it has spent its refusals,
// then told to wait until one is due; other sources are not touched;
// refusals taken at once put the source in debt.
func TestSources(t *testing.T) {
	s := NewSources(1, 2, 10)
	a, b := Key("192.0.2.1:1000"), Key("192.0.2.2:1000")
	if d := s.Wait(a, t0); d != 0 || s.Len() != 0 {
		t.Fatalf("a source never refused waits %v (%d kept)", d, s.Len())
	}
	s.Refused(a, t0)
	if d := s.Wait(a, t0); d != 0 {
		t.Errorf("after one refusal of a burst of two, wait %v", d)
	}
	s.Refused(a, t0)
	if d := s.Wait(a, t0); d != time.Second {
		t.Errorf("after the burst, wait %v, want 1s", d)
	}
	if d := s.Wait(b, t0); d != 0 {
		t.Errorf("another source waits %v", d)
	}
	if d := s.Wait(a, t0.Add(time.Second)); d != 0 {
		t.Errorf("a second later, wait %v, want 0", d)
	}
	for range 3 {
		s.Refused(a, t0.Add(time.Second))
	}
	if d := s.Wait(a, t0.Add(time.Second)); d != 3*time.Second {
		t.Errorf("three refusals in flight at once: wait %v, want 3s", d)
	}
	// Turned away by the global bucket: a source never refused is not
	// charged, nor kept; one kept is charged.
	for range 5 {
		s.RefusedIfKept(b, t0)
	}
	if d := s.Wait(b, t0); d != 0 || s.Len() != 1 {
		t.Errorf("a source never refused, turned away 5 times: wait %v, %d kept; want 0, 1", d, s.Len())
	}
	s.RefusedIfKept(a, t0.Add(4*time.Second))
	if d := s.Wait(a, t0.Add(4*time.Second)); d != time.Second {
		t.Errorf("a kept source turned away once more: wait %v, want 1s", d)
	}
	off := NewSources(math.Inf(1), 0, 0)
	for range 100 {
		off.Refused(a, t0)
	}
	if d := off.Wait(a, t0); d != 0 || off.Len() != 0 {
		t.Errorf("no limit: wait %v, %d kept", d, off.Len())
	}
}

// TestSourcesBound: however many addresses are refused, at most max
// are kept, the least recently refused forgotten first.
func TestSourcesBound(t *testing.T) {
	s := NewSources(0.001, 1, 100)
	key := func(i int) netip.Prefix { return Key(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)) }
	for i := range 20_000 {
		s.Refused(key(i), t0)
		if i%50 == 0 {
			// The oldest is refused again now and then: it stays.
			s.Refused(key(0), t0)
		}
		if s.Len() > 100 {
			t.Fatalf("%d sources kept after %d, want at most 100", s.Len(), i+1)
		}
	}
	if s.Wait(key(19_999), t0) == 0 {
		t.Error("the last source refused was forgotten")
	}
	if s.Wait(key(0), t0) == 0 {
		t.Error("a source refused again recently was forgotten")
	}
	if s.Wait(key(1), t0) != 0 {
		t.Error("the least recently refused source is still kept")
	}
}

// TestKey: IPv4 addresses are their own bucket, IPv6 ones share their
// /64, a mapped IPv4 address is the IPv4 one.
func TestKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:443", "192.0.2.1/32"},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:1", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"[::1]:8443", "::/64"},
	} {
		if got := Key(tc.addr); got.String() != tc.want {
			t.Errorf("Key(%q) = %s, want %s", tc.addr, got, tc.want)
		}
	}
	for _, bad := range []string{"", "garbage", "192.0.2.1", "@"} {
		if got := Key(bad); got.IsValid() {
			t.Errorf("Key(%q) = %s, want the zero prefix", bad, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Nanosecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {20 * time.Second, "20"}, {MaxRetryAfter, "300"}} {
		if got := RetryAfter(tc.d); got != tc.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
