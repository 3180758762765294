package simdevice

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
)

const (
	// maxPCR is the highest PCR index of a PC Client TPM.
	maxPCR = 23
	// maxDigest is the size of TPMU_HA, the most a TPM2B_DATA or a
	// TPM2B_DIGEST holds (TPM 2.0 Part 2, 10.4.3).
	maxDigest = 64
)

// ErrQuoteRequest is returned by Evidence for a request a TPM would
// refuse: no PCRs or banks, a PCR out of range, a bank the device lacks,
// an oversized nonce.
var ErrQuoteRequest = errors.New("bad quote request")

// Evidence answers a quote request as the agent does: the IMA log grows
// by Config.IMAStep entries (from the second report on), then the device
// quotes the requested PCRs in the requested banks with the nonce as
// qualifying data and returns the quote, its signature, the PCR values
// and the IMA log from req.IMAFrom on (from the start with req.FullIMA,
// or when req.IMAFrom is beyond the log, as after a reboot).
//
// The returned IMALog shares memory with the fleet's log and must not be
// changed; appending to it copies.
func (d *Device) Evidence(req attest.QuoteRequest) (attest.Evidence, error) {
	sel, err := d.selection(req)
	if err != nil {
		return attest.Evidence{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reports > 0 {
		d.imaLen += d.sh.cfg.IMAStep
	}
	if log := d.sh.log; log != nil {
		if err := log.grow(d.imaLen); err != nil {
			return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
		}
	}
	d.reports++
	ev := attest.Evidence{HostID: d.HostID, Nonce: bytes.Clone(req.Nonce), Facts: d.facts}
	h := sha256.New()
	for _, s := range sel {
		vals := map[int][]byte{}
		for _, i := range s.pcrs {
			v := d.pcr(s.bank, i)
			h.Write(v)
			vals[i] = bytes.Clone(v)
		}
		ev.PCRs = append(ev.PCRs, attest.PCRBank{Bank: s.bank.name, Values: vals})
	}
	ev.Quote = d.attest(req.Nonce, sel, h.Sum(nil))
	if ev.Signature, err = d.sign(ev.Quote); err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	if log := d.sh.log; log != nil {
		from := req.IMAFrom
		if req.FullIMA || from < 0 || from > d.imaLen {
			from = 0
		}
		ev.IMAFrom, ev.IMALog = from, log.entries(from, d.imaLen)
	}
	return ev, nil
}

// bankSelection is one bank's PCRs, ascending.
type bankSelection struct {
	bank bank
	pcrs []int
}

// selection checks req and orders it as a TPM does: banks as requested,
// PCRs ascending within each.
func (d *Device) selection(req attest.QuoteRequest) ([]bankSelection, error) {
	if len(req.PCRs) == 0 || len(req.Banks) == 0 {
		return nil, fmt.Errorf("%w: no PCRs or no banks", ErrQuoteRequest)
	}
	if len(req.Nonce) > maxDigest {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrQuoteRequest, len(req.Nonce))
	}
	pcrs := slices.Clone(req.PCRs)
	slices.Sort(pcrs)
	pcrs = slices.Compact(pcrs)
	if pcrs[0] < 0 || pcrs[len(pcrs)-1] > maxPCR {
		return nil, fmt.Errorf("%w: PCR out of 0 to %d", ErrQuoteRequest, maxPCR)
	}
	var sel []bankSelection
	for _, name := range req.Banks {
		i := slices.IndexFunc(d.sh.banks, func(b bank) bool { return b.name == name })
		if i < 0 {
			return nil, fmt.Errorf("%w: no %q bank", ErrQuoteRequest, name)
		}
		if slices.ContainsFunc(sel, func(s bankSelection) bool { return s.bank.name == name }) {
			return nil, fmt.Errorf("%w: bank %q twice", ErrQuoteRequest, name)
		}
		sel = append(sel, bankSelection{bank: d.sh.banks[i], pcrs: pcrs})
	}
	return sel, nil
}

// pcr returns PCR i in bank b: PCR 10 from the IMA log, the others the
// fleet's boot values. d.mu is held.
func (d *Device) pcr(b bank, i int) []byte {
	if i == 10 && d.sh.log != nil {
		return d.sh.log.pcr10(b.name, d.imaLen)
	}
	return d.sh.boot[b.name][i]
}

// attest encodes the TPMS_ATTEST of a quote (TPM 2.0 Part 2, 10.12.12):
// the AK's qualified name as signer, the nonce, a clock that only goes forward
// with safe set, the firmware version, the selection and the digest of
// the selected values. It appends the wire encoding directly: go-tpm's
// reflective tpm2.Marshal cost more than the signature (the tests check
// that tpm2.Unmarshal and tpm2.Marshal give back the same bytes).
// d.mu is held.
func (d *Device) attest(nonce []byte, sel []bankSelection, digest []byte) []byte {
	clock := uint64(d.sh.cfg.Now().Sub(d.born).Milliseconds())
	if clock <= d.clock {
		clock = d.clock + 1
	}
	d.clock = clock
	b := make([]byte, 0, 128+len(nonce))
	b = binary.BigEndian.AppendUint32(b, uint32(tpm2.TPMGeneratedValue))
	b = binary.BigEndian.AppendUint16(b, uint16(tpm2.TPMSTAttestQuote))
	b = append2B(b, d.ak.qualifiedName)
	b = append2B(b, nonce)
	// TPMS_CLOCK_INFO: clock, resetCount, restartCount, safe.
	b = binary.BigEndian.AppendUint64(b, clock)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, d.sh.cfg.Firmware)
	// TPMS_QUOTE_INFO: TPML_PCR_SELECTION, then the digest.
	b = binary.BigEndian.AppendUint32(b, uint32(len(sel)))
	for _, s := range sel {
		var bitmap [(maxPCR + 1) / 8]byte
		for _, i := range s.pcrs {
			bitmap[i/8] |= 1 << (i % 8)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(s.bank.alg))
		b = append(b, byte(len(bitmap)))
		b = append(b, bitmap[:]...)
	}
	return append2B(b, digest)
}

// sign signs the quote with the AK as a TPM does with its scheme (ECDSA
// or RSASSA, SHA-256) and encodes the TPMT_SIGNATURE: algorithm, hash,
// then R and S or the RSA signature, each a TPM2B.
func (d *Device) sign(quote []byte) ([]byte, error) {
	digest := sha256.Sum256(quote)
	switch k := d.ak.signer.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(d.sh.cfg.Rand, k, digest[:])
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		b := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgECDSA))
		b = binary.BigEndian.AppendUint16(b, uint16(tpm2.TPMAlgSHA256))
		b = append2B(b, r.FillBytes(make([]byte, size)))
		return append2B(b, s.FillBytes(make([]byte, size))), nil
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
		if err != nil {
			return nil, err
		}
		b := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgRSASSA))
		b = binary.BigEndian.AppendUint16(b, uint16(tpm2.TPMAlgSHA256))
		return append2B(b, sig), nil
	}
	return nil, fmt.Errorf("AK of type %T", d.ak.signer)
}

// append2B appends v as a TPM2B: a 16-bit size, then the bytes.
func append2B(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}
