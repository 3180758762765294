package pcrpolicy

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/go-tpm/tpm2"
)

// DigestSize is the size of every policy digest here: policy sessions
// and the sealed object's nameAlg use SHA-256.
const DigestSize = sha256.Size

// CounterSize is the size of an NV counter's data: a big-endian uint64.
const CounterSize = 8

// extend is one policy update: H(old || parts...).
func extend(old []byte, parts ...[]byte) []byte {
	h := sha256.New()
	h.Write(old)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func cc(c tpm2.TPMCC) []byte { return binary.BigEndian.AppendUint32(nil, uint32(c)) }

// PCRDigest is the pcrDigest of TPM2_PolicyPCR: the session's hash
// (SHA-256) over the selected PCR values, concatenated in ascending PCR
// order, whatever bank they come from (TPM 2.0 Part 3, 23.7).
func PCRDigest(v Values) ([]byte, error) {
	if err := v.Check(); err != nil {
		return nil, err
	}
	return extend(nil, v.Digests...), nil
}

// PolicyPCR extends old with TPM2_PolicyPCR over v:
// H(old || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || pcrDigest).
func PolicyPCR(old []byte, v Values) ([]byte, error) {
	d, err := PCRDigest(v)
	if err != nil {
		return nil, err
	}
	sel, err := v.Selection()
	if err != nil {
		return nil, err
	}
	return extend(old, cc(tpm2.TPMCCPolicyPCR), tpm2.Marshal(sel), d), nil
}

// PolicyNVCounterLE extends old with TPM2_PolicyNV that holds while the
// NV counter named counterName is at most epoch:
// args = H(operandB || offset || operation), then
// H(old || TPM_CC_PolicyNV || args || nvIndex→Name) (Part 3, 23.9), with
// operandB the epoch as 8 big-endian bytes, offset 0 and TPM_EO_UNSIGNED_LE.
func PolicyNVCounterLE(old, counterName []byte, epoch uint64) []byte {
	args := extend(nil, OperandB(epoch), []byte{0, 0}, binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMEOUnsignedLE)))
	return extend(old, cc(tpm2.TPMCCPolicyNV), args, counterName)
}

// OperandB is the operandB of the PolicyNV term for epoch.
func OperandB(epoch uint64) []byte { return binary.BigEndian.AppendUint64(nil, epoch) }

// Approved is the policy that the operator signs: PolicyPCR over v, then
// PolicyNV (revocation counter ≤ epoch), from a zero digest.
func Approved(v Values, counterName []byte, epoch uint64) ([]byte, error) {
	d, err := PolicyPCR(make([]byte, DigestSize), v)
	if err != nil {
		return nil, err
	}
	return PolicyNVCounterLE(d, counterName, epoch), nil
}

// Authorized is the authPolicy of the sealed object: TPM2_PolicyAuthorize
// by the key named keyName with an empty policyRef, which resets the
// digest to zero and then computes H(H(0 || TPM_CC_PolicyAuthorize ||
// keyName) || policyRef) (Part 3, 23.16).
func Authorized(keyName []byte) []byte {
	d := extend(make([]byte, DigestSize), cc(tpm2.TPMCCPolicyAuthorize), keyName)
	return extend(d)
}

// AHash is what the operator signs and TPM2_VerifySignature checks: the
// signing key's nameAlg (SHA-256) over approvedPolicy || policyRef, with
// an empty policyRef.
func AHash(approved []byte) []byte { return extend(nil, approved) }

// CounterPublic is the public area of the revocation counter at index,
// as tep-luks defines it and as it is once incremented (TPMA_NV_WRITTEN
// set, which enters its name): a TPM_NT_COUNTER of 8 bytes that the owner
// increments and anyone reads with its empty auth value (PolicyNV needs a
// read authorization; the count is no secret), outside dictionary-attack
// protection.
func CounterPublic(index tpm2.TPMHandle) tpm2.TPMSNVPublic {
	return tpm2.TPMSNVPublic{
		NVIndex: index,
		NameAlg: tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{
			OwnerWrite: true,
			OwnerRead:  true,
			AuthRead:   true,
			NoDA:       true,
			NT:         tpm2.TPMNTCounter,
			Written:    true,
		},
		DataSize: CounterSize,
	}
}

// CounterName is the TPM name of the revocation counter at index once
// written: its nameAlg, then SHA-256 of its marshalled public area.
func CounterName(index tpm2.TPMHandle) []byte {
	pub := CounterPublic(index)
	return NVName(pub)
}

// NVName is the TPM name of an NV index whose nameAlg is SHA-256:
// TPM_ALG_SHA256, then SHA-256 of the marshalled TPMS_NV_PUBLIC.
func NVName(pub tpm2.TPMSNVPublic) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgSHA256)), extend(nil, tpm2.Marshal(pub))...)
}
