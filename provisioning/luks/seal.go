package luks

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/pcrpolicy"
	"tep.dev/tep/tpm"
)

// ownerAuth authorizes as the owner hierarchy, whose authorization value
// must be empty here, as tep-provision requires too.
var ownerAuth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

// sealedTemplate is the public area of the sealed passphrase: a keyed-hash
// data object bound to this TPM and parent (fixedTPM, fixedParent) that
// only its policy opens, for user and admin roles alike (no userWithAuth,
// adminWithPolicy), whose policy is PolicyAuthorize by the operator's key.
func sealedTemplate(authorized []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgKeyedHash,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:        true,
			FixedParent:     true,
			AdminWithPolicy: true,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: authorized},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
	}
}

// sealedObject is what the TPM holds at provisioning.LUKSHandle.
type sealedObject struct {
	name tpm2.TPM2BName
	pub  tpm2.TPMTPublic
}

// readSealed reads the persistent sealed object; a missing one is
// ErrNotSealed.
func readSealed(tr transport.TPM) (sealedObject, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: provisioning.LUKSHandle}.Execute(tr)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return sealedObject{}, fmt.Errorf("%w at 0x%08x", ErrNotSealed, uint32(provisioning.LUKSHandle))
	}
	if err != nil {
		return sealedObject{}, fmt.Errorf("reading 0x%08x: %w", uint32(provisioning.LUKSHandle), err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return sealedObject{}, fmt.Errorf("reading 0x%08x: %w", uint32(provisioning.LUKSHandle), err)
	}
	return sealedObject{name: rsp.Name, pub: *pub}, nil
}

// matches reports whether the object is a passphrase sealed as tep-luks
// seals it, under the authorized policy given.
func (o sealedObject) matches(authorized []byte) bool {
	want := sealedTemplate(authorized)
	got := o.pub
	got.Unique = want.Unique
	return bytes.Equal(tpm2.Marshal(got), tpm2.Marshal(want))
}

// sealPassphrase seals pass under authorized and makes it persistent at
// provisioning.LUKSHandle, which must be free. The passphrase travels to
// the TPM encrypted, in a session salted with the storage key.
func sealPassphrase(t *tpm.TPM, pass, authorized []byte) error {
	srk, srkPub := t.SRK()
	return t.Do(func(tr transport.TPM) error {
		sess, closeSess, err := tpm2.HMACSession(tr, tpm2.TPMAlgSHA256, 16,
			tpm2.Salted(srk.Handle, srkPub), tpm2.AESEncryption(128, tpm2.EncryptIn))
		if err != nil {
			return fmt.Errorf("starting a salted session: %w", err)
		}
		defer closeSess()
		created, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: sess},
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: pass}),
			}},
			InPublic: tpm2.New2B(sealedTemplate(authorized)),
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("sealing the passphrase: %w", err)
		}
		loaded, err := tpm2.Load{
			ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPrivate:    created.OutPrivate,
			InPublic:     created.OutPublic,
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("loading the sealed passphrase: %w", err)
		}
		defer tpm2.FlushContext{FlushHandle: loaded.ObjectHandle}.Execute(tr)
		_, err = tpm2.EvictControl{
			Auth:             ownerAuth,
			ObjectHandle:     &tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name},
			PersistentHandle: provisioning.LUKSHandle,
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("making the sealed passphrase persistent at 0x%08x: %w", uint32(provisioning.LUKSHandle), err)
		}
		return nil
	})
}

// evictSealed removes the persistent sealed passphrase, if any.
func evictSealed(t *tpm.TPM) error {
	return t.Do(func(tr transport.TPM) error {
		o, err := readSealed(tr)
		if errors.Is(err, ErrNotSealed) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tpm2.EvictControl{
			Auth:             ownerAuth,
			ObjectHandle:     &tpm2.NamedHandle{Handle: provisioning.LUKSHandle, Name: o.name},
			PersistentHandle: provisioning.LUKSHandle,
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("evicting 0x%08x: %w", uint32(provisioning.LUKSHandle), err)
		}
		return nil
	})
}

// Timing splits an unlock: the policy session (reading the sealed
// object, the signature check by the TPM, PolicyPCR, PolicyNV,
// PolicyAuthorize), TPM2_Unseal, and the cryptsetup commands (isLuks, then
// open or open --test-passphrase) with mkfs and mount where they run.
type Timing struct {
	Policy     time.Duration `json:"policy_ns"`
	Unseal     time.Duration `json:"unseal_ns"`
	Cryptsetup time.Duration `json:"cryptsetup_ns"`
}

// unsealPassphrase runs the authorized policy in a salted policy session
// whose response parameters are encrypted and unseals the passphrase.
// The caller zeroes it after use.
func unsealPassphrase(t *tpm.TPM, key *ecdsa.PublicKey, p Policy, epoch uint64) (pass []byte, tm Timing, err error) {
	srk, srkPub := t.SRK()
	err = t.Do(func(tr transport.TPM) error {
		start := time.Now()
		obj, err := readSealed(tr)
		if err != nil {
			return err
		}
		if !obj.matches(p.Authorized) {
			return fmt.Errorf("the passphrase at 0x%08x is not sealed under this policy key's PolicyAuthorize (authPolicy %x, want %x)",
				uint32(provisioning.LUKSHandle), obj.pub.AuthPolicy.Buffer, p.Authorized)
		}
		ticket, keyName, err := verifyInTPM(tr, key, p)
		if err != nil {
			return err
		}
		sess, closeSess, err := tpm2.PolicySession(tr, tpm2.TPMAlgSHA256, 16,
			tpm2.Salted(srk.Handle, srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut))
		if err != nil {
			return fmt.Errorf("starting a salted policy session: %w", err)
		}
		defer closeSess()
		if err := runPolicy(tr, sess.Handle(), p, epoch, ticket, keyName); err != nil {
			return err
		}
		tm.Policy = time.Since(start)
		start = time.Now()
		rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: provisioning.LUKSHandle, Name: obj.name, Auth: sess}}.Execute(tr)
		if err != nil {
			return fmt.Errorf("unsealing 0x%08x: %w", uint32(provisioning.LUKSHandle), err)
		}
		tm.Unseal = time.Since(start)
		pass = rsp.OutData.Buffer
		return nil
	})
	return pass, tm, err
}

// verifyInTPM loads the policy key's public part in the owner hierarchy
// (a key in the null hierarchy would yield a null ticket, which
// PolicyAuthorize refuses) and has the TPM check the signature.
func verifyInTPM(tr transport.TPM, key *ecdsa.PublicKey, p Policy) (tpm2.TPMTTKVerified, tpm2.TPM2BName, error) {
	area, err := pcrpolicy.KeyPublic(key)
	if err != nil {
		return tpm2.TPMTTKVerified{}, tpm2.TPM2BName{}, err
	}
	sig, err := pcrpolicy.TPMSignature(key, p.Signature)
	if err != nil {
		return tpm2.TPMTTKVerified{}, tpm2.TPM2BName{}, err
	}
	loaded, err := tpm2.LoadExternal{InPublic: tpm2.New2B(area), Hierarchy: tpm2.TPMRHOwner}.Execute(tr)
	if err != nil {
		return tpm2.TPMTTKVerified{}, tpm2.TPM2BName{}, fmt.Errorf("loading the policy key: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: loaded.ObjectHandle}.Execute(tr)
	vs, err := tpm2.VerifySignature{
		KeyHandle: tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name},
		Digest:    tpm2.TPM2BDigest{Buffer: pcrpolicy.AHash(p.Approved)},
		Signature: sig,
	}.Execute(tr)
	if err != nil {
		return tpm2.TPMTTKVerified{}, tpm2.TPM2BName{}, fmt.Errorf("%w: TPM2_VerifySignature: %w", ErrSignature, err)
	}
	return vs.Validation, loaded.Name, nil
}

// runPolicy extends the session with PolicyPCR (the signed values),
// PolicyNV (revocation counter ≤ epoch) and PolicyAuthorize.
func runPolicy(tr transport.TPM, sess tpm2.TPMHandle, p Policy, epoch uint64, ticket tpm2.TPMTTKVerified, keyName tpm2.TPM2BName) error {
	sel, err := p.Values.Selection()
	if err != nil {
		return err
	}
	pcrDigest, err := pcrpolicy.PCRDigest(p.Values)
	if err != nil {
		return err
	}
	_, err = tpm2.PolicyPCR{PolicySession: sess, PcrDigest: tpm2.TPM2BDigest{Buffer: pcrDigest}, Pcrs: sel}.Execute(tr)
	if errors.Is(err, tpm2.TPMRCValue) {
		return fmt.Errorf("%w: TPM2_PolicyPCR: %w", ErrPCRMismatch, err)
	}
	if err != nil {
		return fmt.Errorf("TPM2_PolicyPCR: %w", err)
	}
	nv := tpm2.TPM2BName{Buffer: pcrpolicy.CounterName(provisioning.LUKSRevocationIndex)}
	_, err = tpm2.PolicyNV{
		AuthHandle:    tpm2.AuthHandle{Handle: provisioning.LUKSRevocationIndex, Name: nv, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:       tpm2.NamedHandle{Handle: provisioning.LUKSRevocationIndex, Name: nv},
		PolicySession: sess,
		OperandB:      tpm2.TPM2BOperand{Buffer: pcrpolicy.OperandB(epoch)},
		Operation:     tpm2.TPMEOUnsignedLE,
	}.Execute(tr)
	if errors.Is(err, tpm2.TPMRCPolicy) {
		return fmt.Errorf("%w: epoch %d is below the revocation counter (TPM2_PolicyNV: %w)", ErrRevoked, epoch, err)
	}
	if err != nil {
		return fmt.Errorf("TPM2_PolicyNV on the revocation counter 0x%08x: %w", uint32(provisioning.LUKSRevocationIndex), err)
	}
	_, err = tpm2.PolicyAuthorize{
		PolicySession:  sess,
		ApprovedPolicy: tpm2.TPM2BDigest{Buffer: p.Approved},
		KeySign:        keyName,
		CheckTicket:    ticket,
	}.Execute(tr)
	if err != nil {
		return fmt.Errorf("TPM2_PolicyAuthorize: %w", err)
	}
	return nil
}

// readPCRs reads the current values of v's selection.
func readPCRs(t *tpm.TPM, v pcrpolicy.Values) ([][]byte, error) {
	sel, err := v.Selection()
	if err != nil {
		return nil, err
	}
	rsp, err := tpm2.PCRRead{PCRSelectionIn: sel}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("reading PCRs: %w", err)
	}
	var out [][]byte
	for _, d := range rsp.PCRValues.Digests {
		out = append(out, d.Buffer)
	}
	if len(out) != len(v.PCRs) {
		return nil, fmt.Errorf("reading PCRs: %d values for %d PCRs (is the %s bank allocated?)", len(out), len(v.PCRs), v.Bank)
	}
	return out, nil
}
