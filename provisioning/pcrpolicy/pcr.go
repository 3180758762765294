package pcrpolicy

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// MaxPCR is the highest PCR index a selection may name: a PC client TPM
// has 24 PCRs.
const MaxPCR = 23

// Bank is a PCR bank by its tpm2-tools name: "sha256" or "sha384".
type Bank string

// The banks a policy can be built over.
const (
	SHA256 Bank = "sha256"
	SHA384 Bank = "sha384"
)

// Alg returns the bank's TPM hash algorithm and Go hash.
func (b Bank) Alg() (tpm2.TPMAlgID, crypto.Hash, error) {
	switch b {
	case SHA256:
		return tpm2.TPMAlgSHA256, crypto.SHA256, nil
	case SHA384:
		return tpm2.TPMAlgSHA384, crypto.SHA384, nil
	}
	return 0, 0, fmt.Errorf("unknown PCR bank %q: want sha256 or sha384", string(b))
}

// Values are the values of a selection of PCRs in one bank, in ascending
// PCR order.
type Values struct {
	Bank Bank
	// PCRs are the selected PCR indices, ascending and distinct.
	PCRs []int
	// Digests holds one digest per PCR, in the order of PCRs.
	Digests [][]byte
}

// ParsePCRList parses a list such as "0,7,10" into ascending, distinct
// PCR indices.
func ParsePCRList(s string) ([]int, error) {
	var pcrs []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > MaxPCR {
			return nil, fmt.Errorf("PCR list %q: %q is not a PCR index 0-%d", s, f, MaxPCR)
		}
		pcrs = append(pcrs, n)
	}
	return normalize(pcrs)
}

func normalize(pcrs []int) ([]int, error) {
	if len(pcrs) == 0 {
		return nil, fmt.Errorf("%w: no PCR selected", ErrPCRFile)
	}
	out := slices.Clone(pcrs)
	slices.Sort(out)
	if len(slices.Compact(slices.Clone(out))) != len(out) {
		return nil, fmt.Errorf("%w: PCR listed twice in %v", ErrPCRFile, pcrs)
	}
	for _, p := range out {
		if p < 0 || p > MaxPCR {
			return nil, fmt.Errorf("%w: PCR %d out of range", ErrPCRFile, p)
		}
	}
	return out, nil
}

// Check reports whether v is well formed: a known bank, a valid selection
// and one digest of the bank's size per PCR.
func (v Values) Check() error {
	_, h, err := v.Bank.Alg()
	if err != nil {
		return err
	}
	pcrs, err := normalize(v.PCRs)
	if err != nil {
		return err
	}
	if !slices.Equal(pcrs, v.PCRs) {
		return fmt.Errorf("%w: PCRs %v not in ascending order", ErrPCRFile, v.PCRs)
	}
	if len(v.Digests) != len(v.PCRs) {
		return fmt.Errorf("%w: %d digests for %d PCRs", ErrPCRFile, len(v.Digests), len(v.PCRs))
	}
	for i, d := range v.Digests {
		if len(d) != h.Size() {
			return fmt.Errorf("%w: PCR %d: %d-byte digest in the %s bank", ErrPCRFile, v.PCRs[i], len(d), v.Bank)
		}
	}
	return nil
}

// ParsePCRFile reads the values of pcrs in bank from what
// `tpm2_pcrread -o FILE BANK:PCRS` writes (the raw digests one after
// another, in ascending PCR order) or from tpm2_pcrread's YAML output
// ("sha256:" then "  0 : 0x…" lines), which may list more PCRs and banks
// than asked for.
func ParsePCRFile(data []byte, bank Bank, pcrs []int) (Values, error) {
	_, h, err := bank.Alg()
	if err != nil {
		return Values{}, err
	}
	if pcrs, err = normalize(pcrs); err != nil {
		return Values{}, err
	}
	v := Values{Bank: bank, PCRs: pcrs}
	if len(data) == len(pcrs)*h.Size() {
		for i := range pcrs {
			v.Digests = append(v.Digests, bytes.Clone(data[i*h.Size():(i+1)*h.Size()]))
		}
		return v, nil
	}
	all, err := parsePCRYAML(data)
	if err != nil {
		return Values{}, fmt.Errorf("%w: neither %d raw bytes (%d PCRs of %s) nor tpm2_pcrread's YAML: %v",
			ErrPCRFile, len(pcrs)*h.Size(), len(pcrs), bank, err)
	}
	for _, p := range pcrs {
		d, ok := all[bank][p]
		if !ok {
			return Values{}, fmt.Errorf("%w: no value for %s PCR %d", ErrPCRFile, bank, p)
		}
		v.Digests = append(v.Digests, d)
	}
	return v, v.Check()
}

// parsePCRYAML reads tpm2_pcrread's YAML output by lines: its values are
// hexadecimal numbers that a YAML decoder would take for integers too
// large to hold.
func parsePCRYAML(data []byte) (map[Bank]map[int][]byte, error) {
	out := map[Bank]map[int][]byte{}
	var cur map[int][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if t == "" || t == "pcrs:" || strings.HasPrefix(t, "#") {
			continue
		}
		key, val, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: no colon", n)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if val == "" {
			cur = map[int][]byte{}
			out[Bank(key)] = cur
			continue
		}
		idx, err := strconv.Atoi(key)
		if err != nil || cur == nil {
			return nil, fmt.Errorf("line %d: want \"N : 0xHEX\" under a bank", n)
		}
		d, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(val, "0x"), "0X"))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		cur[idx] = d
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no bank found")
	}
	return out, sc.Err()
}

// Selection is the TPML_PCR_SELECTION of v's PCRs in v's bank, as
// TPM2_PolicyPCR and TPM2_PCR_Read take it.
func (v Values) Selection() (tpm2.TPMLPCRSelection, error) {
	alg, _, err := v.Bank.Alg()
	if err != nil {
		return tpm2.TPMLPCRSelection{}, err
	}
	return SelectionOf(alg, v.PCRs), nil
}

// SelectionOf is the TPML_PCR_SELECTION of pcrs in the bank alg, with the
// three-byte bitmap of a 24-PCR TPM.
func SelectionOf(alg tpm2.TPMAlgID, pcrs []int) tpm2.TPMLPCRSelection {
	bitmap := make([]byte, 3)
	for _, p := range pcrs {
		bitmap[p/8] |= 1 << (p % 8)
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: alg, PCRSelect: bitmap}}}
}
