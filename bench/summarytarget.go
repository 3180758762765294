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

// bound is the limit the rig sets in row r under TEP's figure, whatever
// the software: the least time or the highest rate a call over this pty
// to this TPM could reach, with what it is made of. A value of 0 is none.
type bound func(r SummaryRow) (value float64, what string)

// rawBound is the row's raw figure, made of what.
func rawBound(what string) bound {
	return func(r SummaryRow) (float64, string) { return r.Peers[PeerRaw].Value, what }
}

// signBound is the floor under a signature: two calls, C_SignInit and
// C_Sign, each at least one round trip on the pty, whose raw echo takes
// echo, and the TPM's own time, the row's raw figure.
func signBound(echo Figure) bound {
	return func(r SummaryRow) (float64, string) {
		raw := r.Peers[PeerRaw].Value
		if raw <= 0 || echo.Value <= 0 {
			return 0, ""
		}
		return raw + 2*echo.Value, "raw + two pty echoes"
	}
}

// timeAtMost is TEP's median time at most k times peer's, called label,
// above a floor b, or nil.
func timeAtMost(peer, label string, k float64, b bound) *targetSpec {
	return ratioTarget(peer, label, k, true, b)
}

// rateAtLeast is TEP's throughput at least k times peer's, called label,
// below a ceiling b, or nil.
func rateAtLeast(peer, label string, k float64, b bound) *targetSpec {
	return ratioTarget(peer, label, k, false, b)
}

// ratioTarget is TEP's figure at most (a time) or at least (a rate) k
// times peer's. Where the row has a bound b, the detail sets it beside
// the target as a ratio to peer too, and says when the target lies
// beyond it: a target no software could meet on this rig in this run.
func ratioTarget(peer, label string, k float64, isTime bool, b bound) *targetSpec {
	text, what, limit, beyond := fmt.Sprintf("MiB/s ≥ %v× %s", k, label), "MiB/s", "ceiling", "below"
	if isTime {
		text, what, limit, beyond = fmt.Sprintf("≤ %v× %s", k, label), "time", "floor", "above"
	}
	return &targetSpec{
		text: text,
		judge: func(r SummaryRow) (string, string) {
			if why, ok := needs(r, peer, label); !ok {
				return TargetNotEvaluated, why
			}
			of := r.Peers[peer].Value
			detail := fmt.Sprintf("%.2f× %s", r.TEP.Value/of, what)
			if b != nil {
				if v, made := b(r); v > 0 {
					detail += fmt.Sprintf("; the %s, %s, is %.2f×", limit, made, v/of)
					if isTime && v > k*of || !isTime && v < k*of {
						detail += ", " + beyond + " the target"
					}
				}
			}
			if isTime {
				return verdict(r.TEP.Value <= k*of), detail
			}
			return verdict(r.TEP.Value >= k*of), detail
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
