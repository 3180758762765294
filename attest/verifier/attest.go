package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// State is what one appraisal of a host hands the next: how many IMA
// entries the verifier holds, and the Appraiser's own parts (quote
// counters, IMA replay), opaque here. A new AK starts from the zero
// State.
type State struct {
	IMAEntries int             `json:"ima_entries"`
	Quote      json.RawMessage `json:"quote,omitempty"`
	IMA        json.RawMessage `json:"ima,omitempty"`
}

// Appraisal is one host's evidence with what the verifier knows: the
// host (its AK, facts, flavor group), the nonce that was spent for it,
// the PCRs and banks it asked for, and the state of the last report.
type Appraisal struct {
	Host     store.Host
	Evidence attest.Evidence
	Nonce    []byte
	PCRs     []int
	Banks    []string
	State    State
}

// Outcome is an appraisal's result. Reject, when set, says the evidence
// does not come from this host's AK (bad signature, wrong signer or
// nonce): nothing is stored. Otherwise the report is stored with the new
// state.
type Outcome struct {
	Reject  *attest.Fault
	Trusted bool
	Faults  []attest.Fault
	// Report is the trust report's JSON; JWS its signed form.
	Report []byte
	JWS    string
	State  State
}

// An Appraiser runs every check on one host's evidence and signs the
// trust report. It must not panic on any evidence.
type Appraiser interface {
	Appraise(ctx context.Context, a Appraisal) (Outcome, error)
}

// Challenge issues a quote request with a fresh nonce for an activated
// host, asking for the IMA entries the verifier does not hold yet.
func (v *Verifier) Challenge(ctx context.Context, hostID string) (attest.QuoteRequest, error) {
	h, st, err := v.activeHost(ctx, hostID)
	if err != nil {
		return attest.QuoteRequest{}, err
	}
	now := v.cfg.Now()
	nonce, err := v.random(nonceSize)
	if err != nil {
		return attest.QuoteRequest{}, err
	}
	if err := v.cfg.Store.AddNonce(ctx, h.ID, nonce, now, now.Add(v.cfg.NonceTTL), v.cfg.PendingNonces); err != nil {
		return attest.QuoteRequest{}, err
	}
	return attest.QuoteRequest{
		Nonce: nonce, PCRs: v.cfg.PCRs, Banks: v.cfg.Banks,
		IMAFrom: st.IMAEntries, FullIMA: st.IMAEntries == 0,
	}, nil
}

func (v *Verifier) activeHost(ctx context.Context, hostID string) (store.Host, State, error) {
	var st State
	if !ValidHostID(hostID) {
		return store.Host{}, st, fmt.Errorf("%w: host id %q", ErrInvalid, hostID)
	}
	h, err := v.cfg.Store.Host(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) {
		return h, st, fmt.Errorf("%w: host %q", ErrNotFound, hostID)
	}
	if err != nil {
		return h, st, err
	}
	if len(h.AKName) == 0 {
		return h, st, ErrNotActivated
	}
	if len(h.State) > 0 {
		if err := json.Unmarshal(h.State, &st); err != nil {
			return h, st, fmt.Errorf("host %q: stored state: %w", hostID, err)
		}
	}
	return h, st, nil
}

// Attest spends the evidence's nonce, appraises the evidence and stores
// the trust report with the host's new state.
func (v *Verifier) Attest(ctx context.Context, ev attest.Evidence) (store.Report, error) {
	h, st, err := v.activeHost(ctx, ev.HostID)
	if err != nil {
		return store.Report{}, err
	}
	if ev.IMAFrom < 0 || ev.IMAFrom > st.IMAEntries {
		return store.Report{}, fmt.Errorf("%w: IMA log from entry %d, the verifier holds %d", ErrInvalid, ev.IMAFrom, st.IMAEntries)
	}
	if err := v.cfg.Store.UseNonce(ctx, h.ID, ev.Nonce, v.cfg.Now()); errors.Is(err, store.ErrUsed) {
		v.cfg.Log.Warn("evidence refused: nonce", "host", h.ID)
		return store.Report{}, fault(attest.FaultQuoteNonce, "the nonce is unknown, spent or expired")
	} else if err != nil {
		return store.Report{}, err
	}
	out, err := v.cfg.Appraiser.Appraise(ctx, Appraisal{Host: h, Evidence: ev, Nonce: ev.Nonce, PCRs: v.cfg.PCRs, Banks: v.cfg.Banks, State: st})
	if err != nil {
		return store.Report{}, fmt.Errorf("appraising host %q: %w", h.ID, err)
	}
	if out.Reject != nil {
		v.cfg.Log.Warn("evidence refused", "host", h.ID, "fault", out.Reject.Name, "why", out.Reject.Description)
		return store.Report{}, &FaultError{*out.Reject}
	}
	next, err := json.Marshal(out.State)
	if err != nil {
		return store.Report{}, err
	}
	id, err := v.newID()
	if err != nil {
		return store.Report{}, err
	}
	r := store.Report{ID: id, HostID: h.ID, Created: v.cfg.Now(), Trusted: out.Trusted, Body: out.Report, JWS: out.JWS}
	if err := v.cfg.Store.AddReport(ctx, r, h.State, next); errors.Is(err, store.ErrConflict) {
		return store.Report{}, fmt.Errorf("%w: %v", ErrConflict, err)
	} else if err != nil {
		return store.Report{}, err
	}
	v.cfg.Log.Info("report", "host", h.ID, "report", id, "trusted", out.Trusted, "faults", len(out.Faults))
	return r, nil
}

// Pull asks a pull-mode host's agent for evidence and appraises it.
func (v *Verifier) Pull(ctx context.Context, hostID string) (store.Report, error) {
	if v.cfg.Fetcher == nil {
		return store.Report{}, fmt.Errorf("%w: pull mode is not configured", ErrInvalid)
	}
	h, err := v.cfg.Store.Host(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Report{}, fmt.Errorf("%w: host %q", ErrNotFound, hostID)
	} else if err != nil {
		return store.Report{}, err
	}
	if h.PullURL == "" {
		return store.Report{}, fmt.Errorf("%w: host %q pushes its evidence", ErrInvalid, hostID)
	}
	r, err := v.pull(ctx, h)
	// A conflict means another replica stored a report from the same
	// state meanwhile: the host was attested, so it is not stale.
	if !errors.Is(err, ErrConflict) {
		v.contact(hostID, err)
	}
	return r, err
}

// pull challenges a host, fetches its evidence and appraises it.
func (v *Verifier) pull(ctx context.Context, h store.Host) (store.Report, error) {
	req, err := v.Challenge(ctx, h.ID)
	if err != nil {
		return store.Report{}, err
	}
	ev, err := v.cfg.Fetcher.Fetch(ctx, h, req)
	if err != nil {
		return store.Report{}, fmt.Errorf("fetching evidence from host %q: %w", h.ID, err)
	}
	if ev.HostID != h.ID {
		// Another host's evidence: appraised as neither, nothing stored.
		v.cfg.Log.Warn("evidence refused: another host's", "host", h.ID, "evidence_of", ev.HostID)
		return store.Report{}, fault(attest.FaultEvidenceHost, fmt.Sprintf("host %q answered with evidence of host %q", h.ID, ev.HostID))
	}
	return v.Attest(ctx, ev)
}

// PullLoop pulls every pull-mode host each interval, at most parallel
// at a time, each pull bounded by timeout, until ctx ends. One host's
// failure or silence is logged and holds up no other.
func (v *Verifier) PullLoop(ctx context.Context, interval, timeout time.Duration, parallel int) {
	if parallel <= 0 {
		parallel = 8
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		hosts, err := v.cfg.Store.Hosts(ctx)
		if err != nil {
			v.cfg.Log.Error("pull: listing hosts", "err", err)
		}
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for _, h := range hosts {
			if h.PullURL == "" || len(h.AKName) == 0 {
				continue
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				pctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				if _, err := v.Pull(pctx, h.ID); err != nil {
					v.cfg.Log.Warn("pull failed", "host", h.ID, "err", err)
				}
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
