package device

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// Slot is one handle or NV index this project owns.
type Slot struct {
	Handle tpm2.TPMHandle
	// What names it for people: "policy key", "AES key", ...
	What string
	// Counter marks the NV counters.
	Counter bool
	// Precious marks what Clear removes only when asked for all: the
	// counters (whose rollback guard a new counter keeps, as it starts
	// above every count the TPM had) and the LUKS passphrase (without it
	// the partition opens only with its recovery passphrase).
	Precious bool
}

// Slots are the project's handles, in the order status lists them.
var Slots = []Slot{
	{Handle: provisioning.PolicyKeyIndex, What: "policy key"},
	{Handle: provisioning.ConfigEpochIndex, What: "configuration epoch counter", Counter: true, Precious: true},
	{Handle: provisioning.LUKSRevocationIndex, What: "LUKS revocation counter", Counter: true, Precious: true},
	{Handle: provisioning.AESKeyHandle, What: "AES key"},
	{Handle: provisioning.LUKSHandle, What: "LUKS passphrase", Precious: true},
	{Handle: provisioning.DeviceKeyHandle, What: "device key"},
}

// Entry is what the TPM holds at one slot.
type Entry struct {
	Handle  string `json:"handle"` // 0x018a0000
	What    string `json:"what"`
	Present bool   `json:"present"`
	// Type is the key or index type: "ECC P-384 public key", "AES-256",
	// "NV counter", "sealed data", ...
	Type string `json:"type,omitempty"`
	// Fingerprint is the SHA-256 (hex) of a public key's
	// SubjectPublicKeyInfo (Fingerprint), or of the AES key's encryption
	// of a zero block (AESFingerprint).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Name is a persistent object's TPM name (hex), as tpm2_readpublic
	// prints it.
	Name string `json:"name,omitempty"`
	// Value is a counter's; absent until its first increment.
	Value *uint64 `json:"value,omitempty"`
	// Problem says why the entry is not usable as it is.
	Problem string `json:"problem,omitempty"`
}

// ReadStatus reads what the TPM holds at each of Slots. It reads only; a
// slot that holds something unexpected is reported in its Problem, not as
// an error.
func ReadStatus(t *tpm.TPM) ([]Entry, error) {
	out := make([]Entry, 0, len(Slots))
	for _, s := range Slots {
		e := Entry{Handle: fmt.Sprintf("0x%08x", uint32(s.Handle)), What: s.What}
		var err error
		switch {
		case s.Counter:
			err = counterEntry(t, s.Handle, &e)
		case s.Handle == provisioning.PolicyKeyIndex:
			err = policyEntry(t, &e)
		default:
			err = objectEntry(t, s.Handle, &e)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", s.What, e.Handle, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func counterEntry(t *tpm.TPM, h tpm2.TPMHandle, e *Entry) error {
	e.Type = "NV counter"
	v, defined, err := ReadCounter(t, h)
	if err != nil {
		// Something else at the index: say so, it is not ours.
		e.Present, e.Problem = true, err.Error()
		return nil
	}
	e.Present = defined
	if defined && v != 0 {
		e.Value = &v
	}
	return nil
}

func policyEntry(t *tpm.TPM, e *Entry) error {
	pub, err := PolicyKey(t)
	if errors.Is(err, ErrNotProvisioned) {
		var present bool
		err2 := t.Do(func(tr transport.TPM) error {
			_, _, err := nvPublic(tr, provisioning.PolicyKeyIndex)
			present = err == nil
			return nil
		})
		if present && err2 == nil {
			e.Present, e.Problem = true, err.Error()
		}
		return nil
	}
	e.Present = true
	if err != nil {
		e.Problem = err.Error()
		return nil
	}
	e.Type = "ECC " + pub.Curve.Params().Name + " public key"
	e.Fingerprint = fmt.Sprintf("%x", Fingerprint(pub))
	return nil
}

func objectEntry(t *tpm.TPM, h tpm2.TPMHandle, e *Entry) error {
	area, err := readPersistent(t, h, "")
	if errors.Is(err, ErrNotProvisioned) {
		return nil
	}
	if err != nil {
		return err
	}
	e.Present = true
	if name, err := tpm2.ObjectName(area); err == nil {
		e.Name = fmt.Sprintf("%x", name.Buffer)
	}
	e.Type = objectType(area)
	switch h {
	case provisioning.AESKeyHandle:
		if fp, err := AESKeyFingerprint(t); err != nil {
			e.Problem = err.Error()
		} else {
			e.Fingerprint = fmt.Sprintf("%x", fp)
		}
	case provisioning.DeviceKeyHandle:
		if pub, err := deviceKeyOf(area); err != nil {
			e.Problem = err.Error()
		} else {
			e.Fingerprint = fmt.Sprintf("%x", Fingerprint(pub))
		}
	}
	return nil
}

// objectType describes a persistent object's type for people.
func objectType(area *tpm2.TPMTPublic) string {
	switch area.Type {
	case tpm2.TPMAlgSymCipher:
		if sym, err := area.Parameters.SymDetail(); err == nil && sym.Sym.Algorithm == tpm2.TPMAlgAES {
			if bits, err := sym.Sym.KeyBits.AES(); err == nil {
				return fmt.Sprintf("AES-%d", *bits)
			}
		}
		return "symmetric key"
	case tpm2.TPMAlgECC:
		if pub, err := eccPublic(area); err == nil {
			return "ECC " + pub.Curve.Params().Name + " key"
		}
		return "ECC key"
	case tpm2.TPMAlgKeyedHash:
		if !area.ObjectAttributes.SignEncrypt && !area.ObjectAttributes.Decrypt {
			return "sealed data"
		}
		return "keyed hash"
	case tpm2.TPMAlgRSA:
		return "RSA key"
	}
	return fmt.Sprintf("object of type 0x%04x", uint16(area.Type))
}

// Clear removes what is at Slots, all of them with all, otherwise all
// but the Precious ones: NV indices by TPM2_NV_UndefineSpace, persistent
// objects by TPM2_EvictControl, both with the owner's authorization. It
// returns the slots it removed; empty ones are skipped.
func Clear(t *tpm.TPM, all bool) ([]Slot, error) {
	var removed []Slot
	for _, s := range Slots {
		if s.Precious && !all {
			continue
		}
		ok, err := clearSlot(t, s.Handle)
		if err != nil {
			return removed, fmt.Errorf("removing %s at 0x%08x: %w", s.What, uint32(s.Handle), err)
		}
		if ok {
			removed = append(removed, s)
		}
	}
	return removed, nil
}

func clearSlot(t *tpm.TPM, h tpm2.TPMHandle) (bool, error) {
	if tpm2.TPMHT(h>>24) != tpm2.TPMHTNVIndex {
		err := evict(t, h)
		if errors.Is(err, tpm2.TPMRCHandle) {
			return false, nil
		}
		return err == nil, err
	}
	removed := false
	err := t.Do(func(tr transport.TPM) error {
		_, name, err := nvPublic(tr, h)
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tpm2.NVUndefineSpace{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: h, Name: name}}.Execute(tr)
		removed = err == nil
		return err
	})
	return removed, err
}
