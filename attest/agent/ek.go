package agent

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// ekKind is one of the EKs of the TCG EK Credential Profile that the
// agent knows: where its certificate is and the template it comes from.
type ekKind struct {
	name     string
	certNV   tpm2.TPMHandle
	template tpm2.TPMTPublic
	// policy says whether the EK's user role takes a PolicySecret
	// session (templates L-1, L-2) rather than its empty authValue (H-3).
	policy bool
}

// ekKinds in the order Config.EK's default tries them.
var ekKinds = []ekKind{
	{"rsa", 0x01C00002, tpm2.RSAEKTemplate, true},
	{"p256", 0x01C0000A, tpm2.ECCEKTemplate, true},
	{"p384", 0x01C00016, eccP384EKTemplate, false},
}

func ekKindOf(name string) (ekKind, error) {
	for _, k := range ekKinds {
		if k.name == name {
			return k, nil
		}
	}
	return ekKind{}, fmt.Errorf("unknown EK type %q (want rsa, p256 or p384)", name)
}

// policyBSHA384 is the authPolicy of the H-3 template (TCG EK Credential
// Profile for TPM Family 2.0, annex B, "PolicyB SHA384").
var policyBSHA384 = []byte{
	0xB2, 0x6E, 0x7D, 0x28, 0xD1, 0x1A, 0x50, 0xBC, 0x53, 0xD8, 0x82, 0xBC,
	0xF5, 0xFD, 0x3A, 0x1A, 0x07, 0x41, 0x48, 0xBB, 0x35, 0xD3, 0xB4, 0xE4,
	0xCB, 0x1C, 0x0A, 0xD9, 0xBD, 0xE4, 0x19, 0xCA, 0xCB, 0x47, 0xBA, 0x09,
	0x69, 0x96, 0x46, 0x15, 0x0F, 0x9F, 0xC0, 0x00, 0xF3, 0xF8, 0x0E, 0x12,
}

// eccP384EKTemplate is template H-3 (TCG EK Credential Profile for TPM
// Family 2.0, annex B): ECC P-384, SHA-384 names, AES-256-CFB for its children, and,
// unlike the low range, userWithAuth and an empty unique field.
var eccP384EKTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA384,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, AdminWithPolicy: true, Restricted: true, Decrypt: true,
	},
	AuthPolicy: tpm2.TPM2BDigest{Buffer: policyBSHA384},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{
			Algorithm: tpm2.TPMAlgAES,
			KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(256)),
			Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
		},
		CurveID: tpm2.TPMECCNistP384,
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// errNoCert is returned by readNV for an index that is not defined.
var errNoCert = errors.New("no EK certificate")

// readNV reads a whole NV index (an EK certificate) in pieces the TPM
// takes, authorised by the index itself (TCG sets AUTHREAD with an empty
// auth, and PPREAD/OWNERREAD; the owner's empty auth works for both).
func readNV(tr transport.TPM, index tpm2.TPMHandle) ([]byte, error) {
	pub, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tr)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, errNoCert
	}
	if err != nil {
		return nil, fmt.Errorf("reading NV index %#x: %w", index, err)
	}
	nv, err := pub.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("reading NV index %#x: %w", index, err)
	}
	var out []byte
	for off := uint16(0); off < nv.DataSize; {
		// 512 bytes fit every TPM's TPM_PT_NV_BUFFER_MAX.
		n := min(nv.DataSize-off, 512)
		rsp, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: pub.NVName},
			Size:       n, Offset: off,
		}.Execute(tr)
		if err != nil {
			return nil, fmt.Errorf("reading NV index %#x: %w", index, err)
		}
		out = append(out, rsp.Data.Buffer...)
		off += n
	}
	return out, nil
}

// findEK reads the EK certificate of the kind named (or the first kind
// with one, for ""), returning the kind and the certificate's DER.
func findEK(tr transport.TPM, name string) (ekKind, []byte, error) {
	for _, k := range ekKinds {
		if name != "" && k.name != name {
			continue
		}
		der, err := readNV(tr, k.certNV)
		if errors.Is(err, errNoCert) {
			continue
		}
		if err != nil {
			return ekKind{}, nil, err
		}
		return k, der, nil
	}
	if name != "" {
		return ekKind{}, nil, fmt.Errorf("%w for a %s EK", errNoCert, name)
	}
	return ekKind{}, nil, fmt.Errorf("%w in NV (0x01C00002, 0x01C0000A, 0x01C00016)", errNoCert)
}

// createEK recreates the EK from its template; the caller flushes it.
func createEK(tr transport.TPM, k ekKind) (*tpm2.CreatePrimaryResponse, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(k.template),
	}.Execute(tr)
	if err != nil {
		return nil, fmt.Errorf("creating the %s EK: %w", k.name, err)
	}
	return rsp, nil
}

// ekAuth authorises the EK's user role for one command; the returned
// function ends the session.
func ekAuth(tr transport.TPM, k ekKind) (tpm2.Session, func(), error) {
	if !k.policy {
		return tpm2.PasswordAuth(nil), func() {}, nil
	}
	sess, closeSess, err := tpm2.PolicySession(tr, k.template.NameAlg, 16)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the EK's policy session: %w", err)
	}
	_, err = tpm2.PolicySecret{
		AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		PolicySession: sess.Handle(),
		NonceTPM:      sess.NonceTPM(),
	}.Execute(tr)
	if err != nil {
		closeSess()
		return nil, nil, fmt.Errorf("PolicySecret(endorsement): %w", err)
	}
	return sess, func() { closeSess() }, nil
}

func flush(tr transport.TPM, h tpm2.TPMHandle) {
	tpm2.FlushContext{FlushHandle: h}.Execute(tr)
}
