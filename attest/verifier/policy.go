package verifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tep.dev/tep/attest/store"
)

// maxPolicy bounds one flavor, group or template body.
const maxPolicy = 1 << 20

// PolicyBook knows the policy formats (flavors, flavor groups, flavor
// templates) and signs what the verifier stores, so that a row changed
// behind the verifier's back is detected when it is read.
type PolicyBook interface {
	// Check validates a body of a kind (store.KindFlavor, ...) and
	// returns its id, its name and the body to store (filled in and
	// re-encoded as the policy packages write it).
	Check(kind string, body []byte, now time.Time) (id, name string, canonical []byte, err error)
	// Sign signs a checked body; Verify checks a stored one.
	Sign(kind string, body []byte) ([]byte, error)
	Verify(kind string, body, sig []byte) error
}

// ErrPolicySignature: a stored policy's signature does not verify.
var ErrPolicySignature = errors.New("stored policy's signature does not verify")

func knownKind(kind string) error {
	switch kind {
	case store.KindFlavor, store.KindFlavorGroup, store.KindTemplate:
		return nil
	}
	return fmt.Errorf("%w: policy kind %q", ErrInvalid, kind)
}

// PutPolicy checks, signs and stores a flavor, flavor group or template.
func (v *Verifier) PutPolicy(ctx context.Context, kind string, body []byte) (store.Policy, error) {
	if err := knownKind(kind); err != nil {
		return store.Policy{}, err
	}
	if len(body) > maxPolicy {
		return store.Policy{}, fmt.Errorf("%w: %s of %d bytes, at most %d", ErrInvalid, kind, len(body), maxPolicy)
	}
	id, name, body, err := v.cfg.Policies.Check(kind, body, v.cfg.Now())
	if err != nil {
		return store.Policy{}, fmt.Errorf("%w: %s: %v", ErrInvalid, kind, err)
	}
	sig, err := v.cfg.Policies.Sign(kind, body)
	if err != nil {
		return store.Policy{}, fmt.Errorf("signing %s %q: %w", kind, id, err)
	}
	p := store.Policy{Kind: kind, ID: id, Name: name, Body: body, Signature: sig, Created: v.cfg.Now()}
	if err := v.cfg.Store.PutPolicy(ctx, p); err != nil {
		return store.Policy{}, err
	}
	v.cfg.Log.Info("policy stored", "kind", kind, "id", id, "name", name)
	return p, nil
}

// Policy returns a stored policy whose signature verifies.
func (v *Verifier) Policy(ctx context.Context, kind, id string) (store.Policy, error) {
	if err := knownKind(kind); err != nil {
		return store.Policy{}, err
	}
	p, err := v.cfg.Store.Policy(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return p, fmt.Errorf("%w: %s %q", ErrNotFound, kind, id)
	}
	if err != nil {
		return p, err
	}
	if err := v.cfg.Policies.Verify(kind, p.Body, p.Signature); err != nil {
		v.cfg.Log.Error("stored policy tampered with", "kind", kind, "id", id, "err", err)
		return p, fmt.Errorf("%s %q: %w: %v", kind, id, ErrPolicySignature, err)
	}
	return p, nil
}

// Policies returns every stored policy of a kind; those whose signature
// does not verify are left out and logged.
func (v *Verifier) Policies(ctx context.Context, kind string) ([]store.Policy, error) {
	if err := knownKind(kind); err != nil {
		return nil, err
	}
	ps, err := v.cfg.Store.Policies(ctx, kind)
	if err != nil {
		return nil, err
	}
	good := ps[:0]
	for _, p := range ps {
		if err := v.cfg.Policies.Verify(kind, p.Body, p.Signature); err != nil {
			v.cfg.Log.Error("stored policy tampered with", "kind", kind, "id", p.ID, "err", err)
			continue
		}
		good = append(good, p)
	}
	return good, nil
}

// DeletePolicy removes a stored policy.
func (v *Verifier) DeletePolicy(ctx context.Context, kind, id string) error {
	if err := knownKind(kind); err != nil {
		return err
	}
	err := v.cfg.Store.DeletePolicy(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s %q", ErrNotFound, kind, id)
	}
	return err
}
