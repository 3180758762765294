package luks

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/pcrpolicy"
)

// Status is what `tep-luks status` reports: enough to say why an unlock
// fails.
type Status struct {
	Device string `json:"device"`
	// Sealed says whether a passphrase is sealed at LUKSHandle, and
	// SealedPolicy its authPolicy.
	Sealed       bool   `json:"sealed"`
	SealedPolicy string `json:"sealed_policy,omitempty"`
	// AuthorizedPolicy is the configuration's; PolicyMatches says whether
	// the sealed object carries it.
	AuthorizedPolicy string `json:"authorized_policy"`
	PolicyMatches    bool   `json:"policy_matches"`
	// Signer is the configuration's signer fingerprint, PolicyKey the
	// fingerprint of the key in NV ("" if none, with PolicyKeyError).
	Signer         string `json:"signer"`
	PolicyKey      string `json:"policy_key,omitempty"`
	PolicyKeyError string `json:"policy_key_error,omitempty"`
	// SignatureError is empty when the configuration verifies.
	SignatureError string `json:"signature_error,omitempty"`
	Epoch          uint64 `json:"epoch"`
	// Counter is the revocation counter (0 if not started); Revoked says
	// the epoch is below it.
	Counter uint64      `json:"counter"`
	Revoked bool        `json:"revoked"`
	Bank    string      `json:"bank"`
	PCRs    []PCRStatus `json:"pcrs"`
	// Moved lists the PCRs whose current value is not the signed one.
	Moved []int `json:"moved"`
}

// PCRStatus compares one PCR's signed value with its current one.
type PCRStatus struct {
	PCR     int    `json:"pcr"`
	Signed  string `json:"signed"`
	Current string `json:"current"`
	Match   bool   `json:"match"`
}

// Status compares the TPM's state with cfg. Only a TPM that cannot be read
// is an error; everything else is reported in the Status.
func (d *Device) Status(cfg *Config) (Status, error) {
	c := cfg.withDefaults()
	p, err := c.Policy()
	if err != nil {
		return Status{}, err
	}
	s := Status{Device: c.Device, AuthorizedPolicy: hex.EncodeToString(p.Authorized), Signer: hex.EncodeToString(p.Signer),
		Epoch: c.Epoch, Bank: c.Bank, Moved: []int{}}
	err = d.TPM.Do(func(tr transport.TPM) error {
		obj, err := readSealed(tr)
		if errors.Is(err, ErrNotSealed) {
			return nil
		}
		if err == nil {
			s.Sealed, s.SealedPolicy = true, hex.EncodeToString(obj.pub.AuthPolicy.Buffer)
			s.PolicyMatches = obj.matches(p.Authorized)
		}
		return err
	})
	if err != nil {
		return Status{}, err
	}
	if key, err := device.PolicyKey(d.TPM); err != nil {
		s.PolicyKeyError = err.Error()
	} else if fp, err := pcrpolicy.Fingerprint(key); err == nil {
		s.PolicyKey = hex.EncodeToString(fp[:])
	}
	if _, _, err := d.Verify(cfg); err != nil {
		s.SignatureError = err.Error()
	}
	if s.Counter, _, err = device.ReadCounter(d.TPM, provisioning.LUKSRevocationIndex); err != nil {
		return Status{}, err
	}
	s.Revoked = s.Counter > c.Epoch
	cur, err := readPCRs(d.TPM, p.Values)
	if err != nil {
		return Status{}, err
	}
	for i, pcr := range p.Values.PCRs {
		m := bytes.Equal(cur[i], p.Values.Digests[i])
		s.PCRs = append(s.PCRs, PCRStatus{PCR: pcr, Signed: hex.EncodeToString(p.Values.Digests[i]), Current: hex.EncodeToString(cur[i]), Match: m})
		if !m {
			s.Moved = append(s.Moved, pcr)
		}
	}
	return s, nil
}

// Print writes s for a person.
func (s Status) Print(w io.Writer) {
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "device:             %s\n", s.Device)
	fmt.Fprintf(w, "sealed passphrase:  %s at 0x%08x", yesNo[s.Sealed], uint32(provisioning.LUKSHandle))
	if s.Sealed {
		fmt.Fprintf(w, ", policy %s (%s)", s.SealedPolicy, map[bool]string{true: "this configuration's", false: "NOT this configuration's"}[s.PolicyMatches])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "authorized policy:  %s\n", s.AuthorizedPolicy)
	fmt.Fprintf(w, "signer:             %s\n", s.Signer)
	if s.PolicyKeyError != "" {
		fmt.Fprintf(w, "policy key (NV):    %s\n", s.PolicyKeyError)
	} else {
		fmt.Fprintf(w, "policy key (NV):    %s\n", s.PolicyKey)
	}
	if s.SignatureError != "" {
		fmt.Fprintf(w, "signature:          BAD: %s\n", s.SignatureError)
	} else {
		fmt.Fprintf(w, "signature:          good\n")
	}
	fmt.Fprintf(w, "epoch:              %d (revocation counter %d%s)\n", s.Epoch, s.Counter, map[bool]string{true: ": REVOKED", false: ""}[s.Revoked])
	for _, p := range s.PCRs {
		state := "matches"
		if !p.Match {
			state = "MOVED, now " + p.Current
		}
		fmt.Fprintf(w, "PCR %-2d (%s):      signed %s, %s\n", p.PCR, s.Bank, p.Signed, state)
	}
	if len(s.Moved) > 0 {
		moved := make([]string, len(s.Moved))
		for i, m := range s.Moved {
			moved[i] = fmt.Sprint(m)
		}
		fmt.Fprintf(w, "unlock would fail: PCR %s moved\n", strings.Join(moved, ", "))
	}
}
