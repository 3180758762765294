package device

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// ownerAuth authorizes as the owner hierarchy, whose authorization value
// this package requires to be empty.
var ownerAuth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

// nvChunk is the most one TPM2_NV_Read or TPM2_NV_Write moves here: well
// below any TPM's TPM_PT_NV_BUFFER_MAX, and more than a P-384 key's DER
// (120 bytes) needs.
const nvChunk = 256

// maxPolicyKeySize bounds the policy key's index before it is read: a
// P-384 SubjectPublicKeyInfo is 120 bytes.
const maxPolicyKeySize = 512

// Fingerprint returns the SHA-256 digest of pub's DER SubjectPublicKeyInfo
// (RFC 5280, 4.1.2.7): the key's fingerprint in every message, status and
// blob header of this project. It is `openssl pkey -pubin -outform DER |
// sha256sum` of the same key. A key that x509 cannot marshal has the zero
// fingerprint.
func Fingerprint(pub crypto.PublicKey) [32]byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(der)
}

// PolicyKey returns the operator's policy-signing public key from NV index
// provisioning.PolicyKeyIndex. An index that is missing, not yet written or
// not write-locked (so that someone other than the owner could change it)
// is reported with an error wrapping ErrNotProvisioned; one that holds
// anything but the DER SubjectPublicKeyInfo of a P-256 or P-384 key, with
// another error.
func PolicyKey(t *tpm.TPM) (*ecdsa.PublicKey, error) {
	var pub *ecdsa.PublicKey
	err := t.Do(func(tr transport.TPM) error {
		nv, err := readPolicyIndex(tr)
		if err != nil {
			return err
		}
		if !nv.locked() {
			return fmt.Errorf("%w: NV index 0x%08x is not write-locked; run `tep-provision device --replace`", ErrNotProvisioned, uint32(provisioning.PolicyKeyIndex))
		}
		pub, err = parsePolicyKey(nv.data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the policy key: %w", err)
	}
	return pub, nil
}

// policyIndex is what the policy key's NV index holds.
type policyIndex struct {
	pub  tpm2.TPMSNVPublic
	name tpm2.TPM2BName
	data []byte // nil unless written
}

// locked reports whether the index has the attributes WritePolicyKey
// gives it, is written, and is write-locked until it is undefined.
func (p policyIndex) locked() bool {
	return p.data != nil && p.pub.Attributes == policyAttrs(true)
}

// policyAttrs are the policy key index's attributes: written and locked by
// the owner only (TPMA_NV_WRITEDEFINE: NV_WriteLock holds until the index
// is undefined, TPM 2.0 Part 2, 13.4), readable by the owner and by anyone
// with its empty authorization value (tpm2_nvread's default), and exempt
// from dictionary-attack counting, as that value is public.
func policyAttrs(written bool) tpm2.TPMANV {
	return tpm2.TPMANV{
		OwnerWrite:  true,
		WriteDefine: true,
		OwnerRead:   true,
		AuthRead:    true,
		NoDA:        true,
		NT:          tpm2.TPMNTOrdinary,
		WriteLocked: written,
		Written:     written,
	}
}

// errOversized means the policy key's index is larger than any policy
// key: someone else's index, not read.
var errOversized = errors.New("more than a policy key")

// readPolicyIndex reads the policy key's index. A missing index is
// ErrNotProvisioned.
func readPolicyIndex(tr transport.TPM) (policyIndex, error) {
	pub, name, err := nvPublic(tr, provisioning.PolicyKeyIndex)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return policyIndex{}, fmt.Errorf("%w: no NV index 0x%08x; run `tep-provision device`", ErrNotProvisioned, uint32(provisioning.PolicyKeyIndex))
	}
	if err != nil {
		return policyIndex{}, err
	}
	p := policyIndex{pub: pub, name: name}
	if !pub.Attributes.Written {
		return p, nil
	}
	if pub.DataSize > maxPolicyKeySize {
		return p, fmt.Errorf("NV index 0x%08x holds %d bytes, %w", uint32(pub.NVIndex), pub.DataSize, errOversized)
	}
	p.data, err = nvRead(tr, pub, name)
	return p, err
}

// nvPublic is TPM2_NV_ReadPublic (TPM 2.0 Part 3, 31.6).
func nvPublic(tr transport.TPM, index tpm2.TPMHandle) (tpm2.TPMSNVPublic, tpm2.TPM2BName, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tr)
	if err != nil {
		return tpm2.TPMSNVPublic{}, tpm2.TPM2BName{}, err
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return tpm2.TPMSNVPublic{}, tpm2.TPM2BName{}, fmt.Errorf("NV index 0x%08x: %w", uint32(index), err)
	}
	return *pub, rsp.NVName, nil
}

// nvRead reads a whole written index with its own (empty) authorization
// value, in pieces of nvChunk.
func nvRead(tr transport.TPM, pub tpm2.TPMSNVPublic, name tpm2.TPM2BName) ([]byte, error) {
	out := make([]byte, 0, pub.DataSize)
	for off := 0; off < int(pub.DataSize); {
		n := min(int(pub.DataSize)-off, nvChunk)
		rsp, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: pub.NVIndex, Name: name, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: pub.NVIndex, Name: name},
			Size:       uint16(n),
			Offset:     uint16(off),
		}.Execute(tr)
		if err != nil {
			return nil, fmt.Errorf("reading NV index 0x%08x: %w", uint32(pub.NVIndex), err)
		}
		if len(rsp.Data.Buffer) != n {
			return nil, fmt.Errorf("reading NV index 0x%08x: %d bytes for %d", uint32(pub.NVIndex), len(rsp.Data.Buffer), n)
		}
		out = append(out, rsp.Data.Buffer...)
		off += n
	}
	return out, nil
}

// parsePolicyKey parses the index's contents: exactly one DER
// SubjectPublicKeyInfo of a P-256 or P-384 key, nothing before or after.
func parsePolicyKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("NV index 0x%08x does not hold a public key: %w", uint32(provisioning.PolicyKeyIndex), err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || checkPolicyCurve(pub) != nil {
		return nil, fmt.Errorf("NV index 0x%08x holds a %T, not a P-256 or P-384 key", uint32(provisioning.PolicyKeyIndex), k)
	}
	if again, err := x509.MarshalPKIXPublicKey(pub); err != nil || !bytes.Equal(again, der) {
		return nil, fmt.Errorf("NV index 0x%08x holds a key in a non-canonical encoding", uint32(provisioning.PolicyKeyIndex))
	}
	return pub, nil
}

func checkPolicyCurve(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
		return errors.New("the policy key must be an ECDSA P-256 or P-384 key")
	}
	return nil
}

// WritePolicyKey writes pub (P-256 or P-384) to NV index
// provisioning.PolicyKeyIndex as its DER SubjectPublicKeyInfo and
// write-locks the index. It is idempotent: if the index already holds pub,
// write-locked, nothing changes and changed is false. If it holds anything
// else (another key, or contents left unlocked or unreadable), it is
// refused with an error wrapping ErrConflict that names the index and the
// fingerprint found, unless replace is set: then the owner undefines the
// index and writes it afresh.
func WritePolicyKey(t *tpm.TPM, pub *ecdsa.PublicKey, replace bool) (changed bool, err error) {
	if err := checkPolicyCurve(pub); err != nil {
		return false, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return false, fmt.Errorf("encoding the policy key: %w", err)
	}
	err = t.Do(func(tr transport.TPM) error {
		changed, err = writePolicyKey(tr, der, replace)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("writing the policy key: %w", err)
	}
	return changed, nil
}

// policyStep is what writing a policy key takes, given what the index
// holds.
type policyStep int

const (
	policyNothing policyStep = iota // the index holds the key, locked
	policyDefine                    // no index
	policyWrite                     // defined by an earlier run, never written
	policyLock                      // written by an earlier run, not locked
	policyReplace                   // holds something else
)

// planPolicyKey says what writing der takes; with something else in the
// index, it is policyReplace and an error wrapping ErrConflict that names
// the fingerprint found.
func planPolicyKey(tr transport.TPM, der []byte) (policyStep, policyIndex, error) {
	nv, err := readPolicyIndex(tr)
	switch {
	case errors.Is(err, ErrNotProvisioned):
		return policyDefine, nv, nil
	case errors.Is(err, errOversized):
		return policyReplace, nv, fmt.Errorf("%w: %v; run with --replace to overwrite it", ErrConflict, err)
	case err != nil:
		return 0, nv, err
	case bytes.Equal(nv.data, der) && nv.locked():
		return policyNothing, nv, nil
	case nv.data == nil && nv.pub.Attributes == policyAttrs(false) && int(nv.pub.DataSize) == len(der):
		return policyWrite, nv, nil
	case bytes.Equal(nv.data, der) && nv.pub.Attributes == writtenUnlocked():
		return policyLock, nv, nil
	}
	return policyReplace, nv, fmt.Errorf("%w: NV index 0x%08x holds %s; run with --replace to overwrite it", ErrConflict, uint32(provisioning.PolicyKeyIndex), describeIndex(nv))
}

func writePolicyKey(tr transport.TPM, der []byte, replace bool) (bool, error) {
	step, nv, err := planPolicyKey(tr, der)
	if err != nil && (step != policyReplace || !replace) {
		return false, err
	}
	switch step {
	case policyNothing:
		return false, nil
	case policyDefine:
		return true, definePolicyKey(tr, der)
	case policyWrite:
		return true, writeAndLock(tr, nv.pub, der)
	case policyLock:
		return true, lockPolicyKey(tr, nv.name)
	}
	if _, err := (tpm2.NVUndefineSpace{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: provisioning.PolicyKeyIndex, Name: nv.name}}).Execute(tr); err != nil {
		return false, fmt.Errorf("undefining NV index 0x%08x: %w", uint32(provisioning.PolicyKeyIndex), err)
	}
	return true, definePolicyKey(tr, der)
}

// describeIndex says what an index holds, for a refusal.
func describeIndex(nv policyIndex) string {
	if nv.data == nil {
		return "nothing yet (defined, never written)"
	}
	what := "the key with fingerprint"
	if !nv.locked() {
		what = "unlocked contents, the key with fingerprint"
	}
	k, err := x509.ParsePKIXPublicKey(nv.data)
	if err != nil {
		return fmt.Sprintf("%d bytes that are not a public key", len(nv.data))
	}
	return fmt.Sprintf("%s SHA256:%x", what, Fingerprint(k))
}

// definePolicyKey defines the index, writes der and locks it.
func definePolicyKey(tr transport.TPM, der []byte) error {
	pub := tpm2.TPMSNVPublic{
		NVIndex:    provisioning.PolicyKeyIndex,
		NameAlg:    tpm2.TPMAlgSHA256,
		Attributes: policyAttrs(false),
		DataSize:   uint16(len(der)),
	}
	if _, err := (tpm2.NVDefineSpace{AuthHandle: ownerAuth, PublicInfo: tpm2.New2B(pub)}).Execute(tr); err != nil {
		return fmt.Errorf("defining NV index 0x%08x: %w", uint32(pub.NVIndex), err)
	}
	return writeAndLock(tr, pub, der)
}

// writtenUnlocked are the index's attributes once written, before the
// lock.
func writtenUnlocked() tpm2.TPMANV {
	a := policyAttrs(false)
	a.Written = true
	return a
}

// writeAndLock writes der to the defined, unwritten index pub and locks
// it.
func writeAndLock(tr transport.TPM, pub tpm2.TPMSNVPublic, der []byte) error {
	name, err := tpm2.NVName(&pub)
	if err != nil {
		return err
	}
	for off := 0; off < len(der); off += nvChunk {
		_, err := tpm2.NVWrite{
			AuthHandle: ownerAuth,
			NVIndex:    tpm2.NamedHandle{Handle: pub.NVIndex, Name: *name},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: der[off:min(off+nvChunk, len(der))]},
			Offset:     uint16(off),
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("writing NV index 0x%08x: %w", uint32(pub.NVIndex), err)
		}
	}
	// The name changed with TPMA_NV_WRITTEN.
	pub.Attributes.Written = true
	if name, err = tpm2.NVName(&pub); err != nil {
		return err
	}
	return lockPolicyKey(tr, *name)
}

// lockPolicyKey is TPM2_NV_WriteLock (Part 3, 31.11) by the owner.
func lockPolicyKey(tr transport.TPM, name tpm2.TPM2BName) error {
	_, err := tpm2.NVWriteLock{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: provisioning.PolicyKeyIndex, Name: name}}.Execute(tr)
	if err != nil {
		return fmt.Errorf("write-locking NV index 0x%08x: %w", uint32(provisioning.PolicyKeyIndex), err)
	}
	return nil
}
