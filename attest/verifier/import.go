package verifier

import (
	"context"
	"errors"
	"fmt"

	"tep.dev/tep/attest/store"
)

// Importer makes flavor bodies from a golden host's fresh evidence; the
// Appraiser implements it where it can.
type Importer interface {
	Import(ctx context.Context, a Appraisal) ([][]byte, error)
}

// ImportFlavors asks a pull-mode golden host for fresh evidence with its
// whole IMA log, and stores (signed) the flavors that the stored
// templates make from it once it has passed every check.
func (v *Verifier) ImportFlavors(ctx context.Context, hostID string) ([]store.Policy, error) {
	imp, ok := v.cfg.Appraiser.(Importer)
	if !ok || v.cfg.Fetcher == nil {
		return nil, fmt.Errorf("%w: flavor import is not configured", ErrInvalid)
	}
	h, _, err := v.activeHost(ctx, hostID)
	if err != nil {
		return nil, err
	}
	if h.PullURL == "" {
		return nil, fmt.Errorf("%w: host %q pushes its evidence; import needs a pull-mode golden host", ErrInvalid, hostID)
	}
	req, err := v.Challenge(ctx, hostID)
	if err != nil {
		return nil, err
	}
	req.IMAFrom, req.FullIMA = 0, true
	ev, err := v.cfg.Fetcher.Fetch(ctx, h, req)
	if err != nil {
		return nil, fmt.Errorf("fetching evidence from host %q: %w", hostID, err)
	}
	if err := v.cfg.Store.UseNonce(ctx, h.ID, req.Nonce, v.cfg.Now()); errors.Is(err, store.ErrUsed) {
		return nil, ErrExpired
	} else if err != nil {
		return nil, err
	}
	bodies, err := imp.Import(ctx, Appraisal{Host: h, Evidence: ev, Nonce: req.Nonce, PCRs: v.cfg.PCRs, Banks: v.cfg.Banks})
	if err != nil {
		return nil, fmt.Errorf("%w: importing from host %q: %v", ErrInvalid, hostID, err)
	}
	out := make([]store.Policy, 0, len(bodies))
	for _, b := range bodies {
		p, err := v.PutPolicy(ctx, store.KindFlavor, b)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	v.cfg.Log.Info("flavors imported", "host", hostID, "flavors", len(out))
	return out, nil
}
