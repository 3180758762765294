package quote

import (
	"bytes"
	"crypto"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
)

// banks maps the bank names of attest.PCRBank to TPM hash algorithms.
var banks = map[string]tpm2.TPMIAlgHash{
	"sha1":   tpm2.TPMAlgSHA1,
	"sha256": tpm2.TPMAlgSHA256,
	"sha384": tpm2.TPMAlgSHA384,
	"sha512": tpm2.TPMAlgSHA512,
}

// BankName is the name of a TPM hash algorithm's PCR bank, "" for one
// this package does not know.
func BankName(alg tpm2.TPMIAlgHash) string {
	for n, a := range banks {
		if a == alg {
			return n
		}
	}
	return ""
}

// defaultPCRs are the PCRs the zero Policy asks for: firmware and boot
// chain (0-7, TCG PC Client PFP), and those a Linux boot and IMA extend
// (8-10).
var defaultPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// checkPCRs checks the quote's PCR selection against policy and its
// digest against the reported values, hashed with the AK's scheme hash
// in the order of the selection (TPM 2.0 Part 3, 18.4.1).
func (r *Result) checkPCRs(a *Attest, hash crypto.Hash, reported []attest.PCRBank, p Policy) {
	values := map[string]map[int][]byte{}
	for _, b := range reported {
		if _, dup := values[b.Bank]; dup {
			f := r.fault(attest.FaultQuotePCRDigest, "a bank is reported twice")
			f.Bank = b.Bank
			return
		}
		values[b.Bank] = b.Values
	}
	quoted := r.checkSelection(a, p)
	covered := map[string]map[int][]byte{}
	h := hash.New()
	complete := true
	for _, s := range a.Selections {
		name := BankName(s.Hash)
		bh, err := s.Hash.Hash()
		if name == "" || err != nil {
			f := r.fault(attest.FaultQuotePCRDigest, fmt.Sprintf("the quote selects an unknown bank %v", s.Hash))
			f.Bank = fmt.Sprint(s.Hash)
			return
		}
		for _, i := range s.PCRs() {
			v, ok := values[name][i]
			if !ok || len(v) != bh.Size() {
				pcr := i
				f := r.fault(attest.FaultPcrValueMissing, "a quoted PCR's value is not reported, or has the wrong size")
				f.PCR, f.Bank = &pcr, name
				complete = false
				continue
			}
			if covered[name] == nil {
				covered[name] = map[int][]byte{}
			}
			covered[name][i] = v
			h.Write(v)
		}
	}
	if !complete {
		return
	}
	if got := h.Sum(nil); !bytes.Equal(got, a.PCRDigest) {
		f := r.fault(attest.FaultQuotePCRDigest, "the reported PCR values do not hash to the quoted digest")
		f.Expected, f.Actual = fmt.Sprintf("%x", a.PCRDigest), fmt.Sprintf("%x", got)
		return
	}
	if quoted {
		r.PCRs = covered
	}
}

// checkSelection checks that the quote covers policy's banks and PCRs and
// is not SHA-1 only; it reports whether it does.
func (r *Result) checkSelection(a *Attest, p Policy) bool {
	sel := map[string][]int{}
	for _, s := range a.Selections {
		if pcrs := s.PCRs(); len(pcrs) > 0 {
			sel[BankName(s.Hash)] = append(sel[BankName(s.Hash)], pcrs...)
		}
	}
	ok := true
	if _, sha1 := sel["sha1"]; sha1 && len(sel) == 1 && !p.AllowSHA1Only {
		r.fault(attest.FaultQuoteSHA1Only, "the quote covers only the SHA-1 bank")
		ok = false
	}
	want := p.Banks
	if len(want) == 0 {
		want = []string{"sha256"}
	}
	pcrs := p.PCRs
	if pcrs == nil {
		pcrs = defaultPCRs
	}
	for _, bank := range want {
		got, present := sel[bank]
		if !present {
			f := r.fault(attest.FaultQuoteBankMissing, "a required PCR bank is not in the quote")
			f.Bank = bank
			ok = false
			continue
		}
		for _, i := range pcrs {
			if !slices.Contains(got, i) {
				pcr := i
				f := r.fault(attest.FaultPcrValueMissing, "a required PCR is not in the quote")
				f.PCR, f.Bank = &pcr, bank
				ok = false
			}
		}
	}
	return ok
}
