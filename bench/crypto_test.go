package bench

import "testing"

func TestCryptoRatios(t *testing.T) {
	rows := []CryptoRow{
		{System: SystemTEPSWTPM, Workload: "a", MedianNs: 600},
		{System: SystemRawTPM, Workload: "a", MedianNs: 200},
		{System: SystemSoftHSM, Workload: "a", MedianNs: 100},
		{System: SystemTEPSWTPM, Workload: "b", MedianNs: 50}, // no raw TPM row for b
		{System: SystemSoftHSM, Workload: "b", MedianNs: 100},
		{System: SystemTEPSim, Workload: "b", MedianNs: 10},                    // only TEP on swtpm gets ratios
		{System: SystemTEPSWTPM, Workload: "c", Err: "failed"},                 // nor failed rows
		{System: SystemSoftHSM, Workload: "c", MedianNs: 100},                  //
		{System: SystemTEPSWTPM, Workload: "d", MedianNs: 100},                 //
		{System: SystemSoftHSM, Workload: "d", MedianNs: 100, Err: "x"},        // failed peers count for none
		{System: SystemRawTPM, Workload: "d", MedianNs: 0, Calls: 0, Err: "y"}, //
	}
	cryptoRatios(rows)
	want := [][2]float64{{3, 6}, {}, {}, {0, 0.5}, {}, {}, {}, {}, {}, {}, {}}
	for i, r := range rows {
		if got := [2]float64{r.VsRaw, r.VsSoftHSM}; got != want[i] {
			t.Errorf("row %d (%s %s): VsRaw, VsSoftHSM = %v, want %v", i, r.System, r.Workload, got, want[i])
		}
	}
}
