package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReplicaSoak is the fleet issue's fault run: replicas on one
// PostgreSQL, one of them SIGKILLed while it holds claims every
// TEP_SOAK_KILL_EVERY (default 30 s) for TEP_SOAK (say 5m) and a new
// one started in its place. No report lost or stored twice, none two
// within an interval, every host attested within two intervals
// throughout. Without TEP_SOAK it runs 30 s with a kill every 10 s, so
// that make test runs the same checks on every change.
func TestReplicaSoak(t *testing.T) {
	soak, every := 30*time.Second, 10*time.Second
	if v := os.Getenv("TEP_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("TEP_SOAK=%q: want a duration such as 5m", v)
		}
		soak, every = d, 30*time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("TEP_SOAK_KILL_EVERY")); err == nil {
		every = d
	}
	rg := newReplicaRig(t, 3)
	start := time.Now()
	live := []*replica{rg.reps[0], rg.reps[1], rg.reps[2]}
	kills := 0
	for time.Since(start)+every < soak {
		time.Sleep(every)
		victim := live[kills%len(live)]
		held := waitClaims(t, rg.pg.ConnString, victim.name)
		victim.cmd.Process.Signal(syscall.SIGKILL)
		victim.cmd.Wait()
		kills++
		name := fmt.Sprint("r", 2+kills)
		next := startReplica(t, rg.bin, rg.state, rg.pg.ConnString, name, filepath.Join(rg.dir, name+".log"))
		waitReplica(t, next, rg.state)
		rg.reps = append(rg.reps, next)
		live[(kills-1)%len(live)] = next
		t.Logf("%v: killed %s holding %v; started %s", time.Since(start).Round(time.Second), victim.name, held, name)
	}
	time.Sleep(2 * replicaInterval)
	for _, r := range live {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v", r.name, err)
		}
	}
	end := time.Now()
	t.Logf("%d replicas killed with SIGKILL", kills)
	checkReports(t, rg, nil, kills, start, end, end)
}
