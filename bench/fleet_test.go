package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFleetNoVerifier: a build directory without tep-verifier fails
// the set-up, and Fleet says which.
func TestFleetNoVerifier(t *testing.T) {
	res, err := Fleet(t.TempDir(), FleetConfig{Build: t.TempDir(), Setups: []string{"sqlite"}, Steps: []int{20}})
	if err == nil || !strings.Contains(err.Error(), "fleet sqlite") || !strings.Contains(err.Error(), "token create") {
		t.Fatalf("Fleet without tep-verifier = %v, want a sqlite set-up error from token create", err)
	}
	if len(res.Setups) != 1 || res.Setups[0].Largest != 0 || len(res.Setups[0].Steps) != 0 {
		t.Errorf("Fleet without tep-verifier = %+v, want one set-up with no steps", res.Setups)
	}
}

// TestFleetNATSNoVerifier: the NATS set-up starts its nats-server
// before serve; when serve cannot start, the set-up fails and stops the
// nats-server it started.
func TestFleetNATSNoVerifier(t *testing.T) {
	res, err := Fleet(t.TempDir(), FleetConfig{Build: t.TempDir(), Setups: []string{"nats"}, Steps: []int{20}})
	if err == nil || !strings.Contains(err.Error(), "fleet nats") || !strings.Contains(err.Error(), "token create") {
		t.Fatalf("Fleet without tep-verifier = %v, want a nats set-up error from token create", err)
	}
	if len(res.Setups) != 1 || len(res.Setups[0].Steps) != 0 {
		t.Errorf("Fleet without tep-verifier = %+v, want one set-up with no steps", res.Setups)
	}
	if kids := childrenNamed(t, "nats-server"); len(kids) != 0 {
		t.Errorf("nats-server still running (pids %v) after the set-up failed", kids)
	}
}

// childrenNamed returns this process' children whose command is name.
func childrenNamed(t *testing.T, name string) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // ended meanwhile
		}
		s := string(b)
		lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if lp < 0 || rp < lp {
			continue
		}
		f := strings.Fields(s[rp+1:])
		if len(f) < 2 || s[lp+1:rp] != name || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		pids = append(pids, pid)
	}
	return pids
}
