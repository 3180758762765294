package bench

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestW7Tally(t *testing.T) {
	ms := func(ns ...int64) []int64 {
		for i := range ns {
			ns[i] *= int64(time.Millisecond)
		}
		return ns
	}
	reps := []hostReply{
		{Ns: ms(1, 2, 3, 4), ElapsedNs: int64(2 * time.Second)},                        // port 0
		{Ns: ms(5, 6), ElapsedNs: int64(time.Second), Errors: 2, Err: "C_Sign: CKR_X"}, // port 1
		{Ns: ms(7, 8), ElapsedNs: int64(2 * time.Second)},                              // port 0
		{}, // port 1: its host died
	}
	errs := []error{nil, nil, nil, errors.New("host gone")}
	var res W7Result
	res.tally([]string{"/run/ttyS4", "/run/ttyS5"}, reps, errs, 2*time.Second)

	if res.Calls != 8 || res.OpsPerS != 4 || res.WallS != 2 {
		t.Errorf("calls %d, %v ops/s in %v s, want 8, 4 in 2", res.Calls, res.OpsPerS, res.WallS)
	}
	if res.Errors != 3 || res.FirstError != "C_Sign: CKR_X" {
		t.Errorf("errors %d, first %q, want 3, %q", res.Errors, res.FirstError, "C_Sign: CKR_X")
	}
	want := []W7Port{{"ttyS4", 2, 6, 3}, {"ttyS5", 2, 2, 1}}
	if len(res.PerPort) != 2 || res.PerPort[0] != want[0] || res.PerPort[1] != want[1] {
		t.Errorf("ports %+v, want %+v", res.PerPort, want)
	}
	// The mean port does 2 ops/s, the slowest 1.
	if res.LowestPortShare != 0.5 {
		t.Errorf("lowest port share %v, want 0.5", res.LowestPortShare)
	}
	if res.ProcMinOpsPerS != 0 || res.ProcMaxOpsPerS != 2 {
		t.Errorf("process ops/s %v to %v, want 0 to 2", res.ProcMinOpsPerS, res.ProcMaxOpsPerS)
	}
	if res.PerProc[3].Err != "host gone" || res.PerProc[3].Errors != 1 {
		t.Errorf("dead host's row %+v, want its error counted", res.PerProc[3])
	}
	if res.MedianNs != int64(5*time.Millisecond) || res.P99Ns != int64(8*time.Millisecond) {
		t.Errorf("median %v, p99 %v, want 5ms, 8ms", time.Duration(res.MedianNs), time.Duration(res.P99Ns))
	}
}

func TestKillPause(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		d      time.Duration
		lo, hi time.Duration
	}{
		{10 * time.Minute, 2 * time.Second, 5 * time.Second},
		{2 * time.Minute, 2 * time.Second, 5 * time.Second},
		{20 * time.Second, time.Second, 2500 * time.Millisecond},
	} {
		var least, most time.Duration
		for i := range 1000 {
			p := killPause(tc.d, rnd)
			if i == 0 || p < least {
				least = p
			}
			most = max(most, p)
		}
		if least < tc.lo || most > tc.hi || most-least < (tc.hi-tc.lo)/2 {
			t.Errorf("killPause(%v) ranges over [%v, %v], want spread over [%v, %v]", tc.d, least, most, tc.lo, tc.hi)
		}
	}
}

func TestMaxRSS(t *testing.T) {
	s := []rssSample{{0, 10}, {time.Second, 30}, {2 * time.Second, 20}, {3 * time.Second, 15}}
	for _, tc := range []struct {
		from, to time.Duration
		want     int64
	}{
		{0, time.Hour, 30},
		{0, time.Second, 10}, // to is not included
		{2 * time.Second, time.Hour, 20},
		{4 * time.Second, time.Hour, 0},
	} {
		if got := maxRSS(s, tc.from, tc.to); got != tc.want {
			t.Errorf("maxRSS(%v, %v) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}
