package appraise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/quote"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// ErrNotGolden: the golden host's evidence failed a check, so no flavor
// is made from it.
var ErrNotGolden = errors.New("the golden host's evidence does not verify")

// Import makes flavors from a golden host's fresh evidence (its whole
// IMA log) with the stored templates that apply to it
// (verifier.Importer). Every check but the flavors' must pass.
func (a *Appraiser) Import(ctx context.Context, in verifier.Appraisal) ([][]byte, error) {
	ev := in.Evidence
	qr, err := quote.Verify(ev, quote.Input{
		AKPublic: in.Host.AKPublic, ActivatedName: in.Host.AKName, Nonce: in.Nonce,
		Policy: quote.Policy{Banks: in.Banks, PCRs: in.PCRs, AllowSHA1Only: a.cfg.AllowSHA1Only},
	})
	if err != nil {
		return nil, err
	}
	if !qr.OK() || qr.PCRs == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotGolden, qr.Faults[0].Name)
	}
	host := &flavor.Host{ID: in.Host.ID, Facts: ev.Facts, PCRs: banks(qr.PCRs)}
	host.Facts.TPMFirmware = qr.Firmware
	if ev.IMAFrom != 0 {
		return nil, fmt.Errorf("%w: the IMA log does not start at entry 0", ErrNotGolden)
	}
	var names []string
	for _, b := range host.PCRs {
		names = append(names, b.Bank)
	}
	st, err := ima.NewState(names...)
	if err != nil {
		return nil, err
	}
	entries, err := ima.Parse(ev.IMALog, a.cfg.IMALimits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotGolden, err)
	}
	n, faults := st.Replay(entries, host.PCRs)
	if faults != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrNotGolden, faults[0].Name, faults[0].Description)
	}
	host.IMA = entries[:n]
	if len(ev.BootLog) > 0 {
		host.EventLog, host.EventLogFaults = bootlog.Verify(ev.BootLog, host.PCRs, bootlog.PCRs)
		if len(host.EventLogFaults) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotGolden, host.EventLogFaults[0].Name)
		}
	}
	tps, err := a.cfg.Store.Policies(ctx, store.KindTemplate)
	if err != nil {
		return nil, err
	}
	var templates []flavor.Template
	for _, p := range tps {
		if a.Verify(store.KindTemplate, p.Body, p.Signature) != nil {
			continue
		}
		var t flavor.Template
		if json.Unmarshal(p.Body, &t) == nil {
			templates = append(templates, t)
		}
	}
	flavors, err := flavor.Import(host, templates, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(flavors))
	for _, f := range flavors {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
