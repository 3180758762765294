package main

import (
	"bytes"
	"strings"
	"testing"

	"tep.dev/tep/bench"
)

// allWorks are the crypto workloads, and tpmWorks those a TPM does.
var (
	allWorks = []string{bench.WorkRSASign, bench.WorkRSAVerify, bench.WorkECDSASign, bench.WorkECDSAVerify,
		bench.WorkAES, bench.WorkAESParts, bench.WorkDigest, bench.WorkDigestQuery, bench.WorkRSAKeygen}
	tpmWorks = map[string]bool{bench.WorkRSASign: true, bench.WorkECDSASign: true,
		bench.WorkAES: true, bench.WorkAESParts: true, bench.WorkRSAKeygen: true}
)

// oneOf returns the first of names that has a row for w in rows.
func oneOf(rows map[string]bench.CryptoRow, w string, names ...string) (bench.CryptoRow, bool) {
	for _, n := range names {
		if r, ok := rows[n+" "+w]; ok {
			return r, true
		}
	}
	return bench.CryptoRow{}, false
}

// checkCrypto checks crypto's result: every workload on TEP and the
// references, and on each peer a figure with TEP's ratio or why not.
func checkCrypto(t *testing.T, res *bench.CryptoResult) {
	t.Helper()
	rows := map[string]bench.CryptoRow{}
	for _, r := range res.Rows {
		rows[r.System+" "+r.Workload] = r
	}
	for _, w := range allWorks {
		// TEP and the references do every workload.
		systems := []string{bench.SystemTEPSWTPM, bench.SystemTEPSim, bench.SystemSoftHSM}
		if tpmWorks[w] {
			systems = append(systems, bench.SystemRawTPM)
		}
		for _, sys := range systems {
			r, ok := rows[sys+" "+w]
			if !ok {
				t.Errorf("no row for %s %q", sys, w)
				continue
			}
			if r.Err != "" || r.Calls < 1 || r.MedianNs <= 0 || r.P99Ns < r.MedianNs || r.OpsPerS <= 0 {
				t.Errorf("%s %q: bad measurement %+v", sys, w, r)
			}
		}
		tep := rows[bench.SystemTEPSWTPM+" "+w]
		if tep.VsSoftHSM <= 0 || tpmWorks[w] != (tep.VsRaw > 0) {
			t.Errorf("%q: TEP-on-swtpm ratios %v ×SoftHSM, %v ×raw; want both where measured", w, tep.VsSoftHSM, tep.VsRaw)
		}

		// The peers have a row for every workload they run, with figures
		// or with why they could not, and TEP a ratio to those with figures.
		peers := []struct {
			names []string
			ratio float64
			noAES bool // not run: it would take seconds
		}{
			{[]string{bench.SystemTPM2PKCS11, bench.SystemTPM2PKCS11Direct}, tep.VsTPM2PKCS11, false},
			{[]string{bench.SystemP11Kit}, tep.VsP11Kit, false},
			{[]string{bench.SystemP11KitTPM2, bench.SystemP11KitTPM2Direct}, tep.VsP11KitTPM2, true},
		}
		for _, p := range peers {
			if p.noAES && (w == bench.WorkAES || w == bench.WorkAESParts) {
				continue
			}
			r, ok := oneOf(rows, w, p.names...)
			switch {
			case !ok:
				t.Errorf("no row for %s %q", p.names[0], w)
			case r.Err == "" && (r.Calls < 1 || r.MedianNs <= 0 || r.P99Ns < r.MedianNs):
				t.Errorf("%s %q: bad measurement %+v", r.System, w, r)
			case (r.Err == "") != (p.ratio > 0):
				t.Errorf("%q: TEP-on-swtpm ratio to %s = %v, want one exactly when it has figures (error %q)", w, r.System, p.ratio, r.Err)
			}
		}
	}
	for _, w := range []string{bench.WorkAES, bench.WorkDigest, bench.WorkDigestQuery} {
		if r := rows[bench.SystemSoftHSM+" "+w]; r.MiBps <= 0 {
			t.Errorf("%s %q: no MiB/s: %+v", bench.SystemSoftHSM, w, r)
		}
	}
	// The target is TEP's SHA-256 of 1 MiB against p11-kit's RPC
	// over a pty: that figure must be there.
	if r := rows[bench.SystemP11Kit+" "+bench.WorkDigest]; r.Err != "" || r.MiBps <= 0 {
		t.Errorf("%s %q: %+v, want a throughput", bench.SystemP11Kit, bench.WorkDigest, r)
	}
}

// checkCryptoTable checks crypto's table of res.
func checkCryptoTable(t *testing.T, res *bench.CryptoResult) {
	t.Helper()
	var b bytes.Buffer
	if err := cryptoTable(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"workload", "×raw TPM", "×SoftHSM", "×tpm2-pkcs11", "×p11kit", "×p11kit-tpm2",
		"MiB/s", bench.SystemTEPSWTPM, bench.SystemTEPSim, bench.SystemSoftHSM, bench.SystemRawTPM,
		bench.SystemTPM2PKCS11, bench.SystemP11Kit, bench.SystemP11KitTPM2, bench.WorkRSAKeygen, "below 1, TEP is faster"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
