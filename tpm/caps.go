package tpm

import (
	"crypto"
	"crypto/elliptic"
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"
)

// Caps is what a TPM can do with the package's keys, as far as the
// package asks: each list holds only values the package knows.
type Caps struct {
	RSABits []int            // modulus sizes, of 1024, 2048, 3072 and 4096
	Curves  []elliptic.Curve // of P-256, P-384 and P-521
	Hashes  []crypto.Hash    // of SHA-1, SHA-256, SHA-384 and SHA-512
	// Signature and RSA encryption schemes.
	RSASSA, RSAPSS, ECDSA, RSAES, OAEP bool
	AESBits                            []int     // AES key sizes, of 128, 192 and 256
	AESModes                           []SymMode // empty if the TPM lacks TPM2_EncryptDecrypt2
	HMAC                               bool      // keyed-hash keys with TPM2_HMAC and HMAC sequences
	// TDESBits are the TDES key sizes, of 128 (two-key) and 192
	// (three-key); TDESModes, of ECB and CBC. Both are empty unless the
	// TPM has TDES, a size of it, and TPM2_EncryptDecrypt2 in ECB or CBC.
	TDESBits  []int
	TDESModes []SymMode
	// MaxBuffer is the most data one command takes (TPM_PT_INPUT_BUFFER).
	MaxBuffer int
}

// Algorithms returns what the TPM supports, from TPM2_GetCapability
// (TPM_CAP_ALGS, TPM_CAP_ECC_CURVES, TPM_CAP_COMMANDS) and, for key sizes,
// TPM2_TestParms (TPM 2.0 Part 3, 10.3). The answer is asked once and then
// kept: a TPM's algorithms do not change while it runs.
func (t *TPM) Algorithms() (Caps, error) {
	var c Caps
	err := t.do(func(l locked) error {
		if l.t.caps == nil {
			caps, err := l.algorithms()
			if err != nil {
				return err
			}
			l.t.caps = &caps
		}
		c = *l.t.caps
		return nil
	})
	if err != nil {
		return Caps{}, fmt.Errorf("reading TPM algorithms: %w", err)
	}
	c.RSABits = slices.Clone(c.RSABits)
	c.Curves = slices.Clone(c.Curves)
	c.Hashes = slices.Clone(c.Hashes)
	c.AESBits = slices.Clone(c.AESBits)
	c.AESModes = slices.Clone(c.AESModes)
	c.TDESBits = slices.Clone(c.TDESBits)
	c.TDESModes = slices.Clone(c.TDESModes)
	return c, nil
}

func (l locked) algorithms() (Caps, error) {
	algs, err := l.algs()
	if err != nil {
		return Caps{}, err
	}
	cmds, err := l.commands()
	if err != nil {
		return Caps{}, err
	}
	c := Caps{
		RSASSA:    algs[tpm2.TPMAlgRSASSA],
		RSAPSS:    algs[tpm2.TPMAlgRSAPSS],
		ECDSA:     algs[tpm2.TPMAlgECDSA],
		RSAES:     algs[tpm2.TPMAlgRSAES],
		OAEP:      algs[tpm2.TPMAlgOAEP],
		HMAC:      algs[tpm2.TPMAlgKeyedHash] && algs[tpm2.TPMAlgHMAC] && cmds[tpm2.TPMCCHMAC],
		MaxBuffer: l.t.maxBuffer,
	}
	for _, h := range hashes {
		if algs[h.alg] {
			c.Hashes = append(c.Hashes, h.hash)
		}
	}
	if algs[tpm2.TPMAlgECC] {
		if c.Curves, err = l.curves(); err != nil {
			return Caps{}, err
		}
	}
	if algs[tpm2.TPMAlgRSA] {
		if c.RSABits, err = l.sizes(rsaParms, 1024, 2048, 3072, 4096); err != nil {
			return Caps{}, err
		}
	}
	if algs[tpm2.TPMAlgSymCipher] && algs[tpm2.TPMAlgAES] {
		if c.AESBits, err = l.sizes(aesParms, 128, 192, 256); err != nil {
			return Caps{}, err
		}
		for _, m := range symModes {
			if algs[m.alg] && cmds[tpm2.TPMCCEncryptDecrypt2] {
				c.AESModes = append(c.AESModes, m.mode)
			}
		}
	}
	if algs[tpm2.TPMAlgSymCipher] && algs[tpm2.TPMAlgTDES] && cmds[tpm2.TPMCCEncryptDecrypt2] {
		if err := l.tdesCaps(&c, algs); err != nil {
			return Caps{}, err
		}
	}
	return c, nil
}

// tdesCaps fills in c's TDES sizes and modes: ECB and CBC, the modes of
// the PKCS#11 mechanisms the server offers.
func (l locked) tdesCaps(c *Caps, algs map[tpm2.TPMAlgID]bool) error {
	bits, err := l.testTDES()
	if err != nil || len(bits) == 0 {
		return err
	}
	for _, m := range symModes {
		if algs[m.alg] && (m.mode == ModeECB || m.mode == ModeCBC) {
			c.TDESModes = append(c.TDESModes, m.mode)
		}
	}
	if len(c.TDESModes) > 0 {
		c.TDESBits = bits
	}
	return nil
}

// algs returns the algorithms the TPM implements (TPM_CAP_ALGS).
func (l locked) algs() (map[tpm2.TPMAlgID]bool, error) {
	out := make(map[tpm2.TPMAlgID]bool)
	for next := uint32(0); ; {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapAlgs, Property: next, PropertyCount: capBatch}.Execute(l)
		if err != nil {
			return nil, err
		}
		list, err := rsp.CapabilityData.Data.Algorithms()
		if err != nil {
			return nil, err
		}
		for _, a := range list.AlgProperties {
			out[a.Alg] = true
		}
		if !rsp.MoreData || len(list.AlgProperties) == 0 {
			return out, nil
		}
		next = uint32(list.AlgProperties[len(list.AlgProperties)-1].Alg) + 1
	}
}

// commands returns the command codes the TPM implements
// (TPM_CAP_COMMANDS).
func (l locked) commands() (map[tpm2.TPMCC]bool, error) {
	out := make(map[tpm2.TPMCC]bool)
	for next := uint32(0); ; {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapCommands, Property: next, PropertyCount: capBatch}.Execute(l)
		if err != nil {
			return nil, err
		}
		list, err := rsp.CapabilityData.Data.Command()
		if err != nil {
			return nil, err
		}
		for _, a := range list.CommandAttributes {
			out[tpm2.TPMCC(a.CommandIndex)] = true
		}
		if !rsp.MoreData || len(list.CommandAttributes) == 0 {
			return out, nil
		}
		next = uint32(list.CommandAttributes[len(list.CommandAttributes)-1].CommandIndex) + 1
	}
}

// curves returns the curves the TPM implements that the package knows
// (TPM_CAP_ECC_CURVES).
func (l locked) curves() ([]elliptic.Curve, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapECCCurves, PropertyCount: capBatch}.Execute(l)
	if err != nil {
		return nil, err
	}
	list, err := rsp.CapabilityData.Data.ECCCurves()
	if err != nil {
		return nil, err
	}
	var out []elliptic.Curve
	for _, e := range curves {
		if slices.Contains(list.ECCCurves, e.id) {
			out = append(out, e.curve)
		}
	}
	return out, nil
}

// sizes returns those of bits for which TPM2_TestParms accepts the
// parameters parms(bits). A TPM error means a size is not supported; any
// other error is returned.
func (l locked) sizes(parms func(int) tpm2.TPMTPublicParms, bits ...int) ([]int, error) {
	var out []int
	for _, b := range bits {
		_, err := tpm2.TestParms{Parameters: parms(b)}.Execute(l)
		var rc tpm2.TPMRC
		switch {
		case err == nil:
			out = append(out, b)
		case !errors.As(err, &rc):
			return nil, err
		}
	}
	return out, nil
}

func rsaParms(bits int) tpm2.TPMTPublicParms {
	_, p, _, _ := rsaParams(bits)
	return tpm2.TPMTPublicParms{Type: tpm2.TPMAlgRSA, Parameters: p}
}

func aesParms(bits int) tpm2.TPMTPublicParms {
	_, p, _, _ := aesParams(bits)
	return tpm2.TPMTPublicParms{Type: tpm2.TPMAlgSymCipher, Parameters: p}
}
