package luks

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"testing"
	"time"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/pcrpolicy"
)

// BenchmarkUnlock times unlock end to end on swtpm, split into the policy
// session, the unseal and cryptsetup (open --test-passphrase where
// device-mapper is missing), and the same unseal by tpm2-tools commands in
// the same run (each tool a process of its own, as a script runs them).
//
//	go test -run '^$' -bench Unlock -benchtime 10x ./provisioning/luks
func BenchmarkUnlock(b *testing.B) {
	r := newRig(b, elliptic.P384())
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	ctx := context.Background()
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); err != nil {
		b.Fatal(err)
	}
	var sum Timing
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, err := r.dev.Unlock(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		sum.Policy += res.Timing.Policy
		sum.Unseal += res.Timing.Unseal
		sum.Cryptsetup += res.Timing.Cryptsetup
	}
	b.StopTimer()
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(total), "unlock-ms")
	b.ReportMetric(ms(sum.Policy), "policy-ms")
	b.ReportMetric(ms(sum.Unseal), "unseal-ms")
	b.ReportMetric(ms(sum.Cryptsetup), "cryptsetup-ms")
	// The rest: reading and checking the YAML, the NV key, the counter and
	// the PCRs in software before the TPM is asked.
	b.ReportMetric(ms(total-sum.Policy-sum.Unseal-sum.Cryptsetup), "checks-ms")

	r.closeTPM()
	var tools, toolUnseal time.Duration
	for range b.N {
		start := time.Now()
		r.unsealWithTools(c)
		tools += time.Since(start)
		// tpm2_unseal alone, after the policy commands again.
		r.policyWithTools(c)
		start = time.Now()
		r.sh("tpm2_unseal", "-p", "session:session.ctx", "-c", fmt.Sprintf("0x%08x", uint32(provisioning.LUKSHandle)))
		toolUnseal += time.Since(start)
		r.sh("tpm2_flushcontext", "session.ctx")
	}
	b.ReportMetric(ms(tools), "tpm2tools-unseal-total-ms")
	b.ReportMetric(ms(toolUnseal), "tpm2tools-unseal-only-ms")
}
