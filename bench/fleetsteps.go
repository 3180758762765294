package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// stepOutcome is a tried fleet size and whether it was sustained.
type stepOutcome struct {
	fleet     int
	sustained bool
}

// nextFleet says which fleet size to try next, from the sizes tried so
// far: the ladder's sizes in turn until one is not sustained, then a
// bisection between the largest sustained and the smallest not
// sustained, until they are at most resolution apart (halves rounded
// down to a multiple of quantum, so that every step runs whole
// devices). It returns false when there is nothing left to try.
//
// The ladder alone measures to its gaps: a limit between 12,000 and
// 16,000 reads as 12,000 on one run and, with a little more spare CPU,
// as 16,000 on the next; a ratio of two such figures jumps between 1.0
// and 1.33 on noise. Bisection brings the gap down to resolution.
func nextFleet(ladder []int, tried []stepOutcome, resolution, quantum int) (int, bool) {
	lo, hi, top := largestSustained(tried)
	if hi == 0 {
		for _, n := range ladder {
			if n > top {
				return n, true
			}
		}
		return 0, false
	}
	quantum = max(quantum, 1)
	if hi-lo <= max(resolution, quantum) {
		return 0, false
	}
	mid := (lo + (hi-lo)/2) / quantum * quantum
	if mid <= lo || mid >= hi {
		return 0, false
	}
	return mid, true
}

// largestSustained returns the largest sustained fleet below the
// smallest one not sustained (lo, zero if none), that smallest one (hi,
// zero if every size was sustained) and the largest size tried.
func largestSustained(tried []stepOutcome) (lo, hi, top int) {
	for _, t := range tried {
		top = max(top, t.fleet)
		if !t.sustained && (hi == 0 || t.fleet < hi) {
			hi = t.fleet
		}
	}
	for _, t := range tried {
		if t.sustained && t.fleet > lo && (hi == 0 || t.fleet < hi) {
			lo = t.fleet
		}
	}
	return lo, hi, top
}

// machineCPU reads the busy and total time of all the machine's cores
// so far (/proc/stat's cpu line, proc(5): user, nice, system, idle,
// iowait, irq, softirq, steal, in USER_HZ ticks; guest time is already
// in user).
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var ticks [8]int64
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(f[1+i], 10, 64)
	}
	idle := ticks[3] + ticks[4]
	var all int64
	for _, t := range ticks {
		all += t
	}
	tick := 10 * time.Millisecond
	return time.Duration(all-idle) * tick, time.Duration(all) * tick
}

// climb steps s's fleet up by cfg.Steps, then bisects (nextFleet). A
// step not sustained is tried again, up to cfg.Retries times, with new
// devices: other work on the machine can only make a step fail, never
// pass, so a size fails only when every try did. A step whose reports
// were not all trusted ends the set-up with its error: its figures
// would not be a fleet's.
func (v *fleetVerifier) climb(s *FleetSetup, cfg FleetConfig) {
	var tried []stepOutcome
	for {
		n, ok := nextFleet(cfg.Steps, tried, cfg.Resolution, cfg.Scale)
		if !ok {
			break
		}
		var st FleetStep
		for try := 0; try <= cfg.Retries; try++ {
			if try > 0 {
				s.Steps[len(s.Steps)-1].Superseded = true
			}
			v.settle()
			st = v.step(n, cfg)
			s.Steps = append(s.Steps, st)
			cfg.Progress(progressLine(s.Name, &st) + natsProgress(st))
			if st.Sustained || st.Attested != st.Trusted {
				break
			}
		}
		if st.Attested != st.Trusted {
			s.Err = fmt.Sprintf("%d devices/min: %s", n, st.Err)
			break
		}
		tried = append(tried, stepOutcome{n, st.Sustained})
	}
	s.Largest, _, _ = largestSustained(tried)
}

// settle waits, up to 20 s, until the verifier and PostgreSQL are idle
// (under a tenth of a core over half a second), so that one step's
// backlog does not weigh on the next.
func (v *fleetVerifier) settle() {
	const window = 500 * time.Millisecond
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		c0 := v.cpu() + v.dbCPU()
		time.Sleep(window)
		if v.cpu()+v.dbCPU()-c0 < window/10 {
			return
		}
	}
}

// pgCounts are PostgreSQL's cumulative counts of sessions opened and
// transactions committed in every database (pg_stat_database; sessions
// since PostgreSQL 14).
type pgCounts struct{ sessions, commits int64 }

// dbCounts reads them; zero without PostgreSQL or when it cannot be
// read. The query's own session counts too: one a read.
func (v *fleetVerifier) dbCounts() pgCounts {
	var c pgCounts
	if v.pg == nil {
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, v.pg.ConnString)
	if err != nil {
		return c
	}
	defer conn.Close(ctx)
	conn.QueryRow(ctx, `SELECT COALESCE(SUM(sessions), 0)::bigint, COALESCE(SUM(xact_commit), 0)::bigint FROM pg_stat_database`).
		Scan(&c.sessions, &c.commits)
	return c
}

// progressLine is a step's line on the progress output: its counts,
// p99, CPU shares, PostgreSQL's sessions and commits, and its first
// error.
func progressLine(setup string, st *FleetStep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d devices/min (%d at %v): %d attested (%d trusted), %d failed, %d missed, p99 %v; "+
		"CPU: verifier %.0f%%, PostgreSQL %.0f%%, generator %.0f%%, machine %.0f%%",
		setup, st.Fleet, st.Devices, st.Interval, st.Attested, st.Trusted, st.Failed, st.Missed, st.P99.Round(time.Millisecond),
		100*st.VerifierShare, 100*st.DatabaseShare, 100*st.GeneratorShare, 100*st.MachineShare)
	if st.DBCommits > 0 {
		fmt.Fprintf(&b, "; PostgreSQL: %.2f sessions, %.1f commits an attestation", st.DBSessions, st.DBCommits)
	}
	fmt.Fprintf(&b, "; sustained %v", st.Sustained)
	switch {
	case st.Err != "":
		b.WriteString(": " + st.Err)
	case len(st.Errors) > 0:
		b.WriteString("; first error: " + st.Errors[0])
	}
	return b.String()
}
