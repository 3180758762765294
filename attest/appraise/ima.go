package appraise

import (
	"encoding/json"
	"fmt"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/quote"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/verifier"
)

// replayIMA continues the host's IMA replay with the evidence's new
// entries to the quoted PCR 10, and puts the entries it accepted into
// host for the runtime policy. It returns the rules and the new state.
func (a *Appraiser) replayIMA(in verifier.Appraisal, qr *quote.Result, host *flavor.Host) ([]report.Rule, imaState, error) {
	var st imaState
	if len(in.State.IMA) > 0 {
		if err := json.Unmarshal(in.State.IMA, &st); err != nil {
			return nil, st, fmt.Errorf("stored IMA state: %w", err)
		}
	}
	var prev quote.State
	if len(in.State.Quote) > 0 {
		if err := json.Unmarshal(in.State.Quote, &prev); err != nil {
			return nil, st, fmt.Errorf("stored quote state: %w", err)
		}
	}
	// A reset or restart starts a new IMA log.
	rebooted := len(in.State.Quote) > 0 && (qr.State.ResetCount != prev.ResetCount || qr.State.RestartCount != prev.RestartCount)
	if st.Replay == nil || rebooted {
		names := make([]string, 0, len(host.PCRs))
		for _, b := range host.PCRs {
			names = append(names, b.Bank)
		}
		fresh, err := ima.NewState(names...)
		if err != nil {
			return nil, st, err
		}
		st = imaState{Replay: fresh}
	}
	var rules []report.Rule
	if len(st.Faults) > 0 {
		rules = append(rules, report.Rule{Name: RuleRuntimeHistory, Faults: st.Faults})
	}
	entries, fault := a.newEntries(in.Evidence, st.Replay.Entries)
	if fault != nil {
		return append(rules, report.Rule{Name: RuleIMAReplay, Faults: []attest.Fault{*fault}}), st, nil
	}
	n, faults := st.Replay.Replay(entries, host.PCRs)
	if faults == nil {
		host.IMA = entries[:n]
	}
	return append(rules, report.Check(RuleIMAReplay, faults)), st, nil
}

// newEntries parses the entries of ev's IMA log from entry number held
// on: those the verifier has not replayed yet.
func (a *Appraiser) newEntries(ev attest.Evidence, held int) ([]ima.Entry, *attest.Fault) {
	skip := held - ev.IMAFrom
	if skip < 0 {
		return nil, &attest.Fault{Name: attest.FaultIMALogInvalid,
			Description: fmt.Sprintf("the log starts at entry %d; the verifier holds %d entries of this boot", ev.IMAFrom, held)}
	}
	log := ev.IMALog
	if skip > 0 {
		var err error
		if log, err = ima.Split(log, skip); err != nil {
			return nil, &attest.Fault{Name: attest.FaultIMALogInvalid, Description: err.Error()}
		}
	}
	entries, err := ima.Parse(log, a.cfg.IMALimits)
	if err != nil {
		f := ima.ParseFault(err)
		return nil, &f
	}
	return entries, nil
}
