package agent

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
)

// Quote defaults: the PCRs of firmware, boot chain and IMA, in the
// banks a current TPM allocates (those it lacks are left out).
var (
	defaultPCRs  = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	defaultBanks = []string{"sha256", "sha384"}
)

// Bounds of a quote request: the nonce goes into a TPM2B_DATA (at most a
// TPMT_HA, TPM 2.0 Part 2, 10.4.3); PCRs are those of a PC Client TPM.
const (
	maxNonce    = 64
	numPCRs     = 24
	quoteTries  = 5
	pcrsPerRead = 8 // TPML_DIGEST holds at most eight (Part 2, 10.9.2)
)

var bankAlgs = map[string]tpm2.TPMIAlgHash{
	"sha1": tpm2.TPMAlgSHA1, "sha256": tpm2.TPMAlgSHA256,
	"sha384": tpm2.TPMAlgSHA384, "sha512": tpm2.TPMAlgSHA512,
}

// ErrPCRsMoving is returned when the PCRs kept changing while they were
// quoted, quoteTries times in a row.
var ErrPCRsMoving = errors.New("PCRs changed during every quote attempt")

// Quote answers a quote request: one TPM2_Quote by the AK over the
// requested PCRs in every requested bank the TPM allocates, with the
// nonce as qualifying data, the PCR values read around it (again, if a
// PCR changed in between: the TPM's PCR update counter says), the IMA
// log from entry req.IMAFrom on (the whole log with req.FullIMA, or when
// the log has fewer entries, as after a reboot: Evidence.IMAFrom says
// which) and the boot event log.
//
// The logs are read after the quote: the kernel appends an entry before
// it extends the PCR, so the log then holds at least what the quote
// covers, and the verifier replays it up to the quoted value.
func (a *Agent) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	st, err := a.state()
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	pcrs, banks, err := checkRequest(req)
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	ev := attest.Evidence{HostID: st.HostID, Nonce: req.Nonce}
	err = a.t.Do(func(tr transport.TPM) error {
		return quotePCRs(tr, st, req.Nonce, pcrs, banks, &ev)
	})
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	imaLog, err := readLog(a.cfg.IMALogPath)
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	ev.IMALog, ev.IMAFrom = imaSince(imaLog, req)
	if ev.BootLog, err = readLog(a.cfg.BootLogPath); err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	if ev.Facts, err = a.facts(); err != nil {
		return attest.Evidence{}, fmt.Errorf("quoting: %w", err)
	}
	return ev, nil
}

// quotePCRs quotes pcrs in banks with the enrolled AK into ev, reading
// the PCRs again while they change under the quote.
func quotePCRs(tr transport.TPM, st state, nonce []byte, pcrs []int, banks []string, ev *attest.Evidence) error {
	sel, err := selection(tr, pcrs, banks)
	if err != nil {
		return err
	}
	ak, _, err := loadAK(tr, st.AKTemplate, st.AKName)
	if err != nil {
		return err
	}
	defer flush(tr, ak.Handle)
	for range quoteTries {
		done, err := quoteOnce(tr, ak, nonce, sel, ev)
		if done || err != nil {
			return err
		}
	}
	return ErrPCRsMoving
}

// checkRequest applies the defaults and bounds to a request.
func checkRequest(req attest.QuoteRequest) ([]int, []string, error) {
	if len(req.Nonce) == 0 || len(req.Nonce) > maxNonce {
		return nil, nil, fmt.Errorf("nonce of %d bytes, want 1 to %d", len(req.Nonce), maxNonce)
	}
	pcrs, banks := req.PCRs, req.Banks
	if len(pcrs) == 0 {
		pcrs = defaultPCRs
	}
	if len(banks) == 0 {
		banks = defaultBanks
	}
	for _, p := range pcrs {
		if p < 0 || p >= numPCRs {
			return nil, nil, fmt.Errorf("PCR %d out of range", p)
		}
	}
	for _, b := range banks {
		if _, ok := bankAlgs[b]; !ok {
			return nil, nil, fmt.Errorf("unknown PCR bank %q", b)
		}
	}
	return pcrs, banks, nil
}

// selection selects pcrs in each of banks that the TPM allocates, in the
// order of banks.
func selection(tr transport.TPM, pcrs []int, banks []string) (tpm2.TPMLPCRSelection, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 16}.Execute(tr)
	if err != nil {
		return tpm2.TPMLPCRSelection{}, fmt.Errorf("reading PCR banks: %w", err)
	}
	assigned, err := rsp.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return tpm2.TPMLPCRSelection{}, fmt.Errorf("reading PCR banks: %w", err)
	}
	var sel tpm2.TPMLPCRSelection
	for _, b := range banks {
		alg := bankAlgs[b]
		if !slices.ContainsFunc(assigned.PCRSelections, func(s tpm2.TPMSPCRSelection) bool {
			return s.Hash == alg && slices.ContainsFunc(s.PCRSelect, func(v byte) bool { return v != 0 })
		}) {
			continue
		}
		bits := make([]byte, numPCRs/8)
		for _, p := range pcrs {
			bits[p/8] |= 1 << (p % 8)
		}
		sel.PCRSelections = append(sel.PCRSelections, tpm2.TPMSPCRSelection{Hash: alg, PCRSelect: bits})
	}
	if len(sel.PCRSelections) == 0 {
		return sel, fmt.Errorf("the TPM allocates none of the banks %v", banks)
	}
	return sel, nil
}

// quoteOnce reads the PCRs, quotes them and reads the update counter
// again; done is false if a PCR changed in between.
func quoteOnce(tr transport.TPM, ak tpm2.NamedHandle, nonce []byte, sel tpm2.TPMLPCRSelection, ev *attest.Evidence) (done bool, err error) {
	values, before, err := readPCRs(tr, sel)
	if errors.Is(err, errMoving) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rsp, err := tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:      sel,
	}.Execute(tr)
	if err != nil {
		return false, fmt.Errorf("TPM2_Quote: %w", err)
	}
	_, after, err := readPCRs(tr, tpm2.TPMLPCRSelection{PCRSelections: sel.PCRSelections[:1]})
	if err != nil || after != before {
		return false, err
	}
	ev.Quote = rsp.Quoted.Bytes()
	ev.Signature = tpm2.Marshal(rsp.Signature)
	ev.PCRs = values
	return true, nil
}

// errMoving says a PCR changed while readPCRs read them.
var errMoving = errors.New("PCR update counter changed")

// readPCRs reads the selected PCRs, eight at a time, and returns them
// with the PCR update counter, which must not change between the reads
// (errMoving).
func readPCRs(tr transport.TPM, sel tpm2.TPMLPCRSelection) ([]attest.PCRBank, uint32, error) {
	var out []attest.PCRBank
	counter, first := uint32(0), true
	for _, s := range sel.PCRSelections {
		bank := attest.PCRBank{Values: map[int][]byte{}}
		for n, a := range bankAlgs {
			if a == s.Hash {
				bank.Bank = n
			}
		}
		pcrs := selected(s.PCRSelect)
		for len(pcrs) > 0 {
			chunk := pcrs[:min(len(pcrs), pcrsPerRead)]
			pcrs = pcrs[len(chunk):]
			bits := make([]byte, len(s.PCRSelect))
			for _, p := range chunk {
				bits[p/8] |= 1 << (p % 8)
			}
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{
				PCRSelections: []tpm2.TPMSPCRSelection{{Hash: s.Hash, PCRSelect: bits}},
			}}.Execute(tr)
			if err != nil {
				return nil, 0, fmt.Errorf("reading PCRs: %w", err)
			}
			if len(rsp.PCRValues.Digests) != len(chunk) {
				return nil, 0, fmt.Errorf("reading PCRs %v: %d values returned", chunk, len(rsp.PCRValues.Digests))
			}
			if !first && rsp.PCRUpdateCounter != counter {
				return nil, 0, errMoving
			}
			counter, first = rsp.PCRUpdateCounter, false
			for i, p := range chunk {
				bank.Values[p] = rsp.PCRValues.Digests[i].Buffer
			}
		}
		out = append(out, bank)
	}
	return out, counter, nil
}

// selected lists the PCRs a selection bit map selects, in ascending order.
func selected(bits []byte) []int {
	var out []int
	for i := range 8 * len(bits) {
		if bits[i/8]&(1<<(i%8)) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// imaSince returns the part of an IMA log that req asks for, and the
// number of its first entry. A log that cannot be cut where asked (it
// is shorter, or its framing is bad) goes whole, from 0: the verifier
// then replays from scratch, or says what is wrong with it.
func imaSince(log []byte, req attest.QuoteRequest) ([]byte, int) {
	if req.FullIMA || req.IMAFrom <= 0 {
		return log, 0
	}
	tail, err := ima.Split(log, req.IMAFrom)
	if err != nil {
		return log, 0
	}
	return tail, req.IMAFrom
}

// readLog reads a whole event log; a log that does not exist is nil.
func readLog(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
