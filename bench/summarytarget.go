package bench

import "fmt"

// The targets of the issue that Summarize judges, besides W7's and the
// memory bounds in w7.go.
const (
	TargetRSASignVsRaw   = 1.1  // TEP's time over the raw TPM's, at most
	TargetECDSASignVsRaw = 1.25 // likewise
	TargetAESVsRaw       = 0.85 // TEP's throughput over the raw TPM's, at least
	TargetW1VsP11Kit     = 0.5  // TEP's time over p11-kit→SoftHSMv2's, at most
	TargetDigestVsP11Kit = 1.2  // TEP's throughput over p11-kit→SoftHSMv2's, at least
	// TargetProviderKiB bounds what libtep_interface.so adds to a host.
	TargetProviderKiB = 12 << 10
)

// targetSpec is a target and how to judge a row by it.
type targetSpec struct {
	text  string
	judge func(SummaryRow) (verdict, detail string)
}

// needs says which figure, TEP's or peer's (called label), r lacks to be
// judged; ok when it has both.
func needs(r SummaryRow, peer, label string) (why string, ok bool) {
	switch {
	case r.TEP.Value <= 0:
		return "no TEP figure", false
	case r.Peers[peer].Value <= 0:
		return "no " + label + " figure", false
	}
	return "", true
}

func verdict(met bool) string {
	if met {
		return TargetMet
	}
	return TargetMissed
}

// timeAtMost is TEP's median time at most k times peer's, called label.
func timeAtMost(peer, label string, k float64) *targetSpec {
	return ratioTarget(peer, label, k, true)
}

// rateAtLeast is TEP's throughput at least k times peer's, called label.
func rateAtLeast(peer, label string, k float64) *targetSpec {
	return ratioTarget(peer, label, k, false)
}

// ratioTarget is TEP's figure at most (a time) or at least (a rate) k
// times peer's. Where the row has a raw figure besides, the limit under
// TEP, and the target asks for better than it, the detail says so.
func ratioTarget(peer, label string, k float64, isTime bool) *targetSpec {
	text, what := fmt.Sprintf("MiB/s ≥ %v× %s", k, label), "MiB/s"
	if isTime {
		text, what = fmt.Sprintf("≤ %v× %s", k, label), "time"
	}
	return &targetSpec{
		text: text,
		judge: func(r SummaryRow) (string, string) {
			if why, ok := needs(r, peer, label); !ok {
				return TargetNotEvaluated, why
			}
			want := k * r.Peers[peer].Value
			detail := fmt.Sprintf("%.2f× %s", r.TEP.Value/r.Peers[peer].Value, what)
			raw := r.Peers[PeerRaw].Value
			switch {
			case peer == PeerRaw || raw <= 0:
			case isTime && want < raw:
				detail += fmt.Sprintf("; the target, %.1f µs, is below raw's %.1f", want/1e3, raw/1e3)
			case !isTime && want > raw:
				detail += fmt.Sprintf("; the target, %.1f MiB/s, is above raw's %.1f", want, raw)
			}
			if isTime {
				return verdict(r.TEP.Value <= want), detail
			}
			return verdict(r.TEP.Value >= want), detail
		},
	}
}

// atMostKiB is TEP's memory at most limit KiB.
func atMostKiB(limit int64) *targetSpec {
	return &targetSpec{
		text: fmt.Sprintf("≤ %d MiB", limit>>10),
		judge: func(r SummaryRow) (string, string) {
			if r.TEP.Value <= 0 {
				return TargetNotEvaluated, "no TEP figure"
			}
			return verdict(r.TEP.Value <= float64(limit)), fmt.Sprintf("%.1f MiB", r.TEP.Value/1024)
		},
	}
}

// w7Target is W7's: the aggregate rate at least TargetVsRaw of the raw
// TPM's, no failed signature, and the slowest port at least
// TargetPortShare of the mean port.
func w7Target(w *W7Result) *targetSpec {
	return &targetSpec{
		text: fmt.Sprintf("≥ %v× raw, 0 errors, lowest port ≥ %v× mean", TargetVsRaw, TargetPortShare),
		judge: func(r SummaryRow) (string, string) {
			if w == nil {
				return TargetNotEvaluated, "w7 did not run"
			}
			raw := r.Peers[PeerRaw].Value
			detail := fmt.Sprintf("no raw figure, %d errors, lowest port %.2f×", w.Errors, w.LowestPortShare)
			if raw > 0 {
				detail = fmt.Sprintf("%.2f×, %d errors, lowest port %.2f×", w.OpsPerS/raw, w.Errors, w.LowestPortShare)
			}
			switch {
			case w.Errors > 0 || w.Calls == 0 || w.LowestPortShare < TargetPortShare:
				return TargetMissed, detail
			case raw <= 0:
				return TargetNotEvaluated, detail
			}
			return verdict(w.OpsPerS >= TargetVsRaw*raw), detail
		},
	}
}
