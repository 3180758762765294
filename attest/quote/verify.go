package quote

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"

	"tep.dev/tep/attest"
)

// State is what the verifier keeps of a host's last accepted quote, to
// check the next one's clock and counters against.
type State struct {
	ResetCount   uint32 `json:"reset_count"`
	RestartCount uint32 `json:"restart_count"`
	Clock        uint64 `json:"clock"`
}

// Policy says what a quote must cover. Its zero value asks for PCRs 0 to
// 10 in the SHA-256 bank.
type Policy struct {
	// Banks must all be in the quote ("sha1", "sha256", "sha384",
	// "sha512"); empty means "sha256".
	Banks []string
	// PCRs must be selected in every bank of Banks; nil means 0 to 10.
	PCRs []int
	// AllowSHA1Only accepts a quote whose only bank is SHA-1, a bank in
	// which collisions can be made (unless Banks asks for more).
	AllowSHA1Only bool
	// Firmware, when set, is the TPM firmware version (as
	// attest.FirmwareVersion formats it) the quote must show.
	Firmware string
}

// Input is what the verifier knows before it looks at evidence.
type Input struct {
	// AKPublic is the TPMT_PUBLIC of the host's enrolled AK.
	AKPublic []byte
	// AK, when not nil, is AKPublic as ParseAK returned it (a verifier
	// that sees the same AK in every report parses it once); Verify
	// then does not read AKPublic.
	AK *AK
	// ActivatedName is the name of the AK whose credential the host
	// activated; nil if it never did. A quote by an AK of another name
	// is not trusted, whatever its signature (attest.FaultAKNotActivated).
	ActivatedName []byte
	// Nonce is the nonce the verifier issued for this quote; the caller
	// ensures it was fresh and is used once.
	Nonce []byte
	// Prev is the state of the host's last accepted quote; nil before
	// the first.
	Prev   *State
	Policy Policy
}

// Result is what Verify found.
type Result struct {
	// Faults are the failed checks; none means the quote is good.
	Faults []attest.Fault
	// Attest is the parsed quote, nil if it could not be read or its
	// signature did not verify.
	Attest *Attest
	// State is the quote's clock and counters: the next Prev, if the
	// caller accepts this quote.
	State State
	// Firmware is the TPM firmware version the quote shows, for the
	// flavor checks.
	Firmware string
	// PCRs are the reported values that the quote's digest covers, by
	// bank name and PCR index; nil if the digest did not match.
	PCRs map[string]map[int][]byte
}

// OK reports whether the quote passed every check.
func (r *Result) OK() bool { return len(r.Faults) == 0 }

func (r *Result) fault(name, desc string) *attest.Fault {
	r.Faults = append(r.Faults, attest.Fault{Name: name, Description: desc})
	return &r.Faults[len(r.Faults)-1]
}

// ErrInput is returned for an Input the verifier should never have built.
var ErrInput = errors.New("bad verifier input")

// Verify checks ev's quote against in, in this order: the AK is the
// activated one; the signature is the AK's over the TPMS_ATTEST; the
// structure is TPM-generated and a quote (a failure so far ends the
// checks: nothing else in the quote can be believed); then the nonce,
// the qualified signer, the banks and PCRs, the PCR digest against the
// reported values, the clock and counters against in.Prev, the safe flag
// and the firmware version. It returns an error only for a bad in.
func Verify(ev attest.Evidence, in Input) (*Result, error) {
	if len(in.Nonce) == 0 {
		return nil, fmt.Errorf("%w: no nonce", ErrInput)
	}
	ak := in.AK
	if ak == nil {
		var err error
		if ak, err = ParseAK(in.AKPublic); err != nil {
			return nil, fmt.Errorf("%w: enrolled AK: %v", ErrInput, err)
		}
	}
	r := &Result{}
	if len(in.ActivatedName) == 0 || !bytes.Equal(in.ActivatedName, ak.Name) {
		f := r.fault(attest.FaultAKNotActivated, "the AK has not been bound to the EK by credential activation")
		f.Expected, f.Actual = fmt.Sprintf("%x", in.ActivatedName), fmt.Sprintf("%x", ak.Name)
		return r, nil
	}
	if err := checkSignature(ak, ev.Quote, ev.Signature); err != nil {
		r.fault(attest.FaultQuoteSignature, err.Error())
		return r, nil
	}
	a, err := ParseAttest(ev.Quote)
	switch {
	case err == nil && a.Magic != TPMGeneratedValue:
		f := r.fault(attest.FaultQuoteNotGenerated, "the attestation's magic is not TPM_GENERATED_VALUE")
		f.Expected, f.Actual = fmt.Sprintf("%08x", TPMGeneratedValue), fmt.Sprintf("%08x", a.Magic)
		return r, nil
	case err == nil && a.Type != TPMSTAttestQuote:
		f := r.fault(attest.FaultQuoteType, "the attestation is not TPM_ST_ATTEST_QUOTE")
		f.Expected, f.Actual = fmt.Sprintf("%04x", TPMSTAttestQuote), fmt.Sprintf("%04x", a.Type)
		return r, nil
	case err != nil:
		r.fault(attest.FaultQuoteType, err.Error())
		return r, nil
	}
	r.Attest = a
	r.State = State{ResetCount: a.ResetCount, RestartCount: a.RestartCount, Clock: a.Clock}
	r.Firmware = attest.FirmwareVersion(a.FirmwareVersion)
	if subtle.ConstantTimeCompare(a.ExtraData, in.Nonce) != 1 {
		f := r.fault(attest.FaultQuoteNonce, "the quote's qualifying data is not the nonce issued for it")
		f.Expected, f.Actual = fmt.Sprintf("%x", in.Nonce), fmt.Sprintf("%x", a.ExtraData)
	}
	if !bytes.Equal(a.QualifiedSigner, ak.QualifiedName) {
		f := r.fault(attest.FaultQuoteSigner, "the quote's qualified signer is not the enrolled AK")
		f.Expected, f.Actual = fmt.Sprintf("%x", ak.QualifiedName), fmt.Sprintf("%x", a.QualifiedSigner)
	}
	r.checkPCRs(a, ak.Hash, ev.PCRs, in.Policy)
	r.checkClock(a, in.Prev)
	r.checkFirmware(ev.Facts.TPMFirmware, in.Policy.Firmware)
	return r, nil
}

// checkSignature verifies sig, a TPMT_SIGNATURE, over quote with the AK's
// key, scheme and hash.
func checkSignature(ak *AK, quote, sig []byte) error {
	s, err := parseSignature(sig)
	if err != nil {
		return err
	}
	if s.alg != ak.Scheme || s.hash != ak.Hash {
		return fmt.Errorf("signature scheme %v with %v, the AK's is %v with %v", s.alg, s.hash, ak.Scheme, ak.Hash)
	}
	h := ak.Hash.New()
	h.Write(quote)
	return s.verify(ak.Key, h.Sum(nil))
}

// checkClock applies the clock rules: resetCount never goes down,
// restartCount does not go down while resetCount stays, clock does not go
// back while both stay; the TPM must vouch (safe) that it never reported
// a later clock.
func (r *Result) checkClock(a *Attest, prev *State) {
	if !a.Safe {
		r.fault(attest.FaultQuoteNotSafe, "the TPM may have reported a later clock before (safe is NO)")
	}
	if prev == nil {
		return
	}
	cmp := func(name, desc string, want, got uint64) {
		f := r.fault(name, desc)
		f.Expected, f.Actual = fmt.Sprintf(">= %d", want), fmt.Sprint(got)
	}
	switch {
	case a.ResetCount < prev.ResetCount:
		cmp(attest.FaultQuoteResetCount, "resetCount went down", uint64(prev.ResetCount), uint64(a.ResetCount))
	case a.ResetCount > prev.ResetCount:
	case a.RestartCount < prev.RestartCount:
		cmp(attest.FaultQuoteRestartCount, "restartCount went down without a TPM reset", uint64(prev.RestartCount), uint64(a.RestartCount))
	case a.RestartCount > prev.RestartCount:
	case a.Clock < prev.Clock:
		cmp(attest.FaultQuoteClock, "the clock went back with no reset or restart", prev.Clock, a.Clock)
	}
}

// checkFirmware compares the quote's firmware version with the one the
// agent claimed in its host facts and with the one policy names.
func (r *Result) checkFirmware(claimed, want string) {
	for _, c := range []struct{ v, what string }{{claimed, "the host facts"}, {want, "policy"}} {
		if c.v != "" && c.v != r.Firmware {
			f := r.fault(attest.FaultFirmwareMismatch, "the quote's TPM firmware version is not the one "+c.what+" name")
			f.Expected, f.Actual = c.v, r.Firmware
		}
	}
}
