package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	return v.attest(ctx, ev, nil)
}

// attest is Attest; a non-nil from is the state the host must still
// have (the scheduler's claim), else ErrConflict.
func (v *Verifier) attest(ctx context.Context, ev attest.Evidence, from *[]byte) (store.Report, error) {
	h, st, err := v.activeHost(ctx, ev.HostID)
	if err != nil {
		return store.Report{}, err
	}
	if from != nil && !bytes.Equal(*from, h.State) {
		return store.Report{}, fmt.Errorf("%w: host %q was attested since this pull began", ErrConflict, h.ID)
	}
	if ev.IMAFrom < 0 || ev.IMAFrom > st.IMAEntries {
		return store.Report{}, fmt.Errorf("%w: IMA log from entry %d, the verifier holds %d", ErrInvalid, ev.IMAFrom, st.IMAEntries)
	}
	if err := v.cfg.Store.UseNonce(ctx, h.ID, ev.Nonce, v.cfg.Now()); errors.Is(err, store.ErrUsed) {
		// A report stored since h was read spends the host's nonces: the
		// evidence lost a race with another attestation (a conflict, and
		// the host is not stale), not a nonce of its own.
		if now, err := v.cfg.Store.Host(ctx, h.ID); err == nil && !bytes.Equal(now.State, h.State) {
			return store.Report{}, fmt.Errorf("%w: host %q was attested while this evidence was checked", ErrConflict, h.ID)
		}
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
	return v.pull(ctx, h)
}

// pull challenges h's agent and appraises its evidence (see fetchAttest),
// and records the outcome as the host's contact. A conflict means
// another replica (or an operator) stored a report from the same state
// meanwhile, and a cancelled pull means the verifier is stopping: the
// host is not stale for either.
func (v *Verifier) pull(ctx context.Context, h store.Host) (store.Report, error) {
	r, err := v.fetchAttest(ctx, h)
	if !errors.Is(err, ErrConflict) && !errors.Is(err, context.Canceled) {
		v.contact(h.ID, err)
	}
	return r, err
}

// fetchAttest challenges h's agent and appraises its evidence. The
// report is stored only if the host's state is still h's, read before
// the challenge (the scheduler's claim, or Pull's read), whatever asked
// for the pull: an attestation that another replica or an operator made
// meanwhile is not made twice, and a quote older than the report stored
// meanwhile is not appraised against that report's state (where its
// clock would seem to go back and the host would look untrusted).
func (v *Verifier) fetchAttest(ctx context.Context, h store.Host) (store.Report, error) {
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
		other := attest.Clip(ev.HostID, attest.MaxPeerText)
		v.cfg.Log.Warn("evidence refused: another host's", "host", h.ID, "evidence_of", other)
		return store.Report{}, fault(attest.FaultEvidenceHost, fmt.Sprintf("host %q answered with evidence of host %q", h.ID, other))
	}
	return v.attest(ctx, ev, &h.State)
}
