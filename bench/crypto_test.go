package bench

import "testing"

func TestCryptoRatios(t *testing.T) {
	rows := []CryptoRow{
		{System: SystemTEPSWTPM, Workload: "a", MedianNs: 600},
		{System: SystemRawTPM, Workload: "a", MedianNs: 200},
		{System: SystemSoftHSM, Workload: "a", MedianNs: 100},
		{System: SystemTPM2PKCS11, Workload: "a", MedianNs: 1200},
		{System: SystemP11Kit, Workload: "a", MedianNs: 300},
		{System: SystemP11KitTPM2, Workload: "a", MedianNs: 2400},
		{System: SystemTEPSWTPM, Workload: "b", MedianNs: 50}, // no raw TPM row for b
		{System: SystemSoftHSM, Workload: "b", MedianNs: 100},
		{System: SystemTPM2PKCS11Direct, Workload: "b", MedianNs: 25}, // the fallback counts as tpm2-pkcs11
		{System: SystemP11KitTPM2Direct, Workload: "b", MedianNs: 200},
		{System: SystemTEPSim, Workload: "b", MedianNs: 10},                    // only TEP on swtpm gets ratios
		{System: SystemTEPSWTPM, Workload: "c", Err: "failed"},                 // nor failed rows
		{System: SystemSoftHSM, Workload: "c", MedianNs: 100},                  //
		{System: SystemTEPSWTPM, Workload: "d", MedianNs: 100},                 //
		{System: SystemSoftHSM, Workload: "d", MedianNs: 100, Err: "x"},        // failed peers count for none
		{System: SystemRawTPM, Workload: "d", MedianNs: 0, Calls: 0, Err: "y"}, //
		{System: SystemTPM2PKCS11, Workload: "d", Calls: 2, Err: "z"},          //
		{System: SystemP11Kit, Workload: "d", MedianNs: 400},                   //
	}
	cryptoRatios(rows)
	type ratios struct{ raw, softHSM, tpm2, kit, kitTPM2 float64 }
	want := make([]ratios, len(rows))
	want[0] = ratios{3, 6, 0.5, 2, 0.25}
	want[6] = ratios{0, 0.5, 2, 0, 0.25}
	want[13] = ratios{kit: 0.25}
	for i, r := range rows {
		got := ratios{r.VsRaw, r.VsSoftHSM, r.VsTPM2PKCS11, r.VsP11Kit, r.VsP11KitTPM2}
		if got != want[i] {
			t.Errorf("row %d (%s %s): ratios = %+v, want %+v", i, r.System, r.Workload, got, want[i])
		}
	}
}

func TestCryptoWorkLoad(t *testing.T) {
	aes := cryptoWork{WorkAES, 12, 3, aesBulk}
	sign := cryptoWork{WorkRSASign, 200, 100, 0}
	verify := cryptoWork{WorkRSAVerify, 300, 0, 0}
	for _, tc := range []struct {
		w     cryptoWork
		scale float64
		tpm2  bool
		want  load
	}{
		{aes, 1, false, load{n: 12, round: 2, warmup: 1}},
		{aes, 1, true, load{n: 3, round: 1, warmup: 1}},
		{aes, 0.01, true, load{n: 1, round: 1, warmup: 1}}, // at least one call
		{sign, 1, true, load{n: 100, round: 20, warmup: 2}},
		{sign, 0.5, false, load{n: 100, round: 20, warmup: 2}},
		{verify, 1, true, load{n: 300, round: 60, warmup: 2}}, // no count of its own: the usual
		{cryptoWork{WorkRSAKeygen, 12, 6, 0}, 1, true, load{n: 6, round: 1, warmup: 1}},
	} {
		if got := tc.w.load(tc.scale, tc.tpm2); got != tc.want {
			t.Errorf("%q.load(%v, tpm2 %v) = %+v, want %+v", tc.w.name, tc.scale, tc.tpm2, got, tc.want)
		}
	}
}
