package bench

import (
	"os"
	"testing"
)

func TestTEPRatios(t *testing.T) {
	rows := []P11Row{
		{System: SystemTEP, Workload: "a", MedianNs: 300},
		{System: SystemSoftHSM, Workload: "a", MedianNs: 100},
		{System: SystemP11Kit, Workload: "a", MedianNs: 600},
		{System: SystemP11Kit, Workload: "b", MedianNs: 600},         // TEP has no row for b
		{System: SystemTEP, Workload: "c", Err: "failed"},            // nor a figure for c
		{System: SystemSoftHSM, Workload: "c", MedianNs: 100},        //
		{System: SystemSoftHSM, Workload: "a", Err: "x", Calls: 3},   // failed peers get none
		{System: SystemP11Kit, Workload: "c", MedianNs: 0, Calls: 0}, // nor empty ones
	}
	tepRatios(rows)
	want := []float64{0, 3, 0.5, 0, 0, 0, 0, 0}
	for i, r := range rows {
		if r.TEPRatio != want[i] {
			t.Errorf("row %d (%s %s): TEPRatio = %v, want %v", i, r.System, r.Workload, r.TEPRatio, want[i])
		}
	}
}

func TestVmRSS(t *testing.T) {
	kib, err := vmRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if kib < 1024 {
		t.Errorf("vmRSS(self) = %d KiB, want at least 1 MiB for a Go test binary", kib)
	}
	if _, err := vmRSS(-1); err == nil {
		t.Error("vmRSS(-1) succeeded, want an error")
	}
}
