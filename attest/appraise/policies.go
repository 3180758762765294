package appraise

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/internal/jws"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
)

// JWS types of the stored groups and templates (flavors use
// flavor.SignatureType).
const (
	groupType    = "tep-flavor-group+json"
	templateType = "tep-flavor-template+json"
)

// strict decodes one JSON value with no unknown fields.
func strict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// Check validates a flavor, flavor group or template and returns its
// id, name and canonical JSON (verifier.PolicyBook).
func (a *Appraiser) Check(kind string, body []byte, now time.Time) (string, string, []byte, error) {
	switch kind {
	case store.KindFlavor:
		var f flavor.Flavor
		if err := strict(body, &f); err != nil {
			return "", "", nil, err
		}
		switch f.Meta.Part {
		case flavor.Platform, flavor.OS, flavor.HostUnique, flavor.IMA:
		default:
			return "", "", nil, fmt.Errorf("flavor part %q: PLATFORM, OS, HOST_UNIQUE or IMA", f.Meta.Part)
		}
		if f.Meta.Part == flavor.HostUnique && f.Meta.HostID == "" {
			return "", "", nil, errors.New("a HOST_UNIQUE flavor names its host (meta.host_id)")
		}
		if f.Meta.Created.IsZero() {
			f.Meta.Created = now.UTC()
		}
		if f.Meta.ID == "" {
			f.Meta.ID = flavor.ContentID(f)
		}
		b, err := json.Marshal(f)
		return f.Meta.ID, f.Meta.Label, b, err
	case store.KindFlavorGroup:
		var g flavor.Group
		if err := strict(body, &g); err != nil {
			return "", "", nil, err
		}
		if g.Name == "" {
			return "", "", nil, errors.New("a flavor group needs a name")
		}
		if err := g.Check(); err != nil {
			return "", "", nil, err
		}
		b, err := json.Marshal(g)
		return g.Name, g.Name, b, err
	case store.KindTemplate:
		var t flavor.Template
		if err := strict(body, &t); err != nil {
			return "", "", nil, err
		}
		if t.ID == "" {
			return "", "", nil, errors.New("a flavor template needs an id")
		}
		if _, err := t.Applies(attest.HostFacts{}); err != nil {
			return "", "", nil, err
		}
		b, err := json.Marshal(t)
		return t.ID, t.Label, b, err
	}
	return "", "", nil, fmt.Errorf("policy kind %q", kind)
}

// Sign signs a checked policy body.
func (a *Appraiser) Sign(kind string, body []byte) ([]byte, error) {
	if kind == store.KindFlavor {
		var f flavor.Flavor
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, err
		}
		s, err := flavor.Sign(f, a.cfg.Key)
		return []byte(s.Signature), err
	}
	sig, err := jws.Sign(body, sigType(kind), a.cfg.Key)
	return []byte(sig), err
}

// Verify checks a stored policy's signature over exactly its body.
func (a *Appraiser) Verify(kind string, body, sig []byte) error {
	if kind == store.KindFlavor {
		var f flavor.Flavor
		if err := json.Unmarshal(body, &f); err != nil {
			return fmt.Errorf("%w: %v", flavor.ErrSignature, err)
		}
		return flavor.Signed{Flavor: f, Signature: string(sig)}.Verify(a.pub)
	}
	payload, err := jws.Verify(string(sig), sigType(kind), a.pub)
	if err != nil {
		return err
	}
	if !bytes.Equal(payload, body) {
		return fmt.Errorf("%w: the %s differs from what was signed", jws.ErrSignature, kind)
	}
	return nil
}

func sigType(kind string) string {
	if kind == store.KindFlavorGroup {
		return groupType
	}
	return templateType
}

// evaluate applies the host's flavor group (the default group when it
// has none) and every stored flavor to its verified evidence.
func (a *Appraiser) evaluate(ctx context.Context, h store.Host, host *flavor.Host) ([]report.Rule, error) {
	group := flavor.DefaultGroup()
	if h.FlavorGroup != "" {
		p, err := a.cfg.Store.Policy(ctx, store.KindFlavorGroup, h.FlavorGroup)
		if errors.Is(err, store.ErrNotFound) {
			return []report.Rule{{Name: flavor.RuleFlavorPresent, Faults: []attest.Fault{{Name: attest.FaultFlavorMissing,
				Description: fmt.Sprintf("flavor group %q does not exist", h.FlavorGroup)}}}}, nil
		}
		if err != nil {
			return nil, err
		}
		if err := a.Verify(store.KindFlavorGroup, p.Body, p.Signature); err != nil {
			return []report.Rule{{Name: flavor.RuleFlavorSignature, Faults: []attest.Fault{{Name: attest.FaultFlavorSignatureNotTrusted,
				Description: fmt.Sprintf("flavor group %q: %v", h.FlavorGroup, err)}}}}, nil
		}
		if err := json.Unmarshal(p.Body, &group); err != nil {
			return nil, err
		}
	}
	checked, err := a.storedFlavors(ctx)
	if err != nil {
		return nil, err
	}
	return group.EvaluateChecked(host, checked), nil
}

// storedFlavors returns the stored flavors as read at most PolicyTTL
// ago, with their signatures checked: by the cache, which verifies a
// row (and compiles its runtime policy) only when its bytes are new to
// it, so a row changed in the store is verified again when it is read.
func (a *Appraiser) storedFlavors(ctx context.Context) ([]*flavor.Checked, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	if a.cfg.PolicyTTL > 0 && a.flavors != nil && now.Sub(a.readAt) < a.cfg.PolicyTTL {
		return a.flavors, nil
	}
	ps, err := a.cfg.Store.Policies(ctx, store.KindFlavor)
	if err != nil {
		return nil, err
	}
	rows := make([]flavor.Row, len(ps))
	for i, p := range ps {
		rows[i] = flavor.Row{ID: p.ID, Body: p.Body, Signature: string(p.Signature)}
	}
	a.flavors, a.readAt = a.cache.Load(rows), now
	return a.flavors, nil
}
