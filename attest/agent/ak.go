package agent

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// akAttrs are an AK's attributes: a restricted signing key (it signs
// only what the TPM itself produced, such as quotes), whose private part
// was made in this TPM and never leaves it, usable with its empty
// authValue. noDA: an empty authValue has nothing to guess.
var akAttrs = tpm2.TPMAObject{
	FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
	UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true,
}

// akTemplate returns the template of an AK of the type named, with an
// empty unique field.
func akTemplate(typ string) (tpm2.TPMTPublic, error) {
	switch typ {
	case "", "ecc":
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: akAttrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Scheme: tpm2.TPMTECCScheme{
					Scheme:  tpm2.TPMAlgECDSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				CurveID: tpm2.TPMECCNistP256,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
		}, nil
	case "rsa":
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: akAttrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Scheme: tpm2.TPMTRSAScheme{
					Scheme:  tpm2.TPMAlgRSASSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				KeyBits: 2048,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
		}, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("unknown AK type %q (want ecc or rsa)", typ)
}

// newAKTemplate makes the template of a fresh AK: the primary key the
// endorsement seed gives for a template depends on all of it, so 32
// random bytes in its unique field make a new key.
func newAKTemplate(typ string) ([]byte, error) {
	t, err := akTemplate(typ)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	if t.Type == tpm2.TPMAlgECC {
		t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: nonce}})
	} else {
		t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: nonce})
	}
	return tpm2.Marshal(t), nil
}

// errAKChanged says the endorsement seed no longer gives the enrolled
// AK (TPM2_ChangeEPS, or another TPM): enrol again.
var errAKChanged = errors.New("the TPM no longer gives the enrolled AK; enrol again")

// loadAK recreates the AK from its template; if name is set, the AK must
// have it. The caller flushes the handle.
func loadAK(tr transport.TPM, template, name []byte) (tpm2.NamedHandle, []byte, error) {
	t, err := tpm2.Unmarshal[tpm2.TPMTPublic](template)
	if err != nil {
		return tpm2.NamedHandle{}, nil, fmt.Errorf("reading the AK template: %w", err)
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(*t),
	}.Execute(tr)
	if err != nil {
		return tpm2.NamedHandle{}, nil, fmt.Errorf("creating the AK: %w", err)
	}
	h := tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	if name != nil && !bytes.Equal(rsp.Name.Buffer, name) {
		flush(tr, h.Handle)
		return tpm2.NamedHandle{}, nil, errAKChanged
	}
	return h, rsp.OutPublic.Bytes(), nil
}
