package bench

import (
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
