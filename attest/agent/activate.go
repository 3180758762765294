package agent

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/credential"
)

// Activate answers the verifier's challenge: TPM2_ActivateCredential
// (TPM 2.0 Part 3, 12.5) with the enrolled AK and the EK opens the
// credential, which it does only if both live in this TPM and the
// credential was made for this AK's name. The recovered secret goes back
// to the verifier.
func (a *Agent) Activate(c attest.Challenge) (attest.Activation, error) {
	st, err := a.state()
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating: %w", err)
	}
	blob, err := credential.Parse(c.Credential)
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating: %w", err)
	}
	k, err := ekKindOf(st.EK)
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating: %w", err)
	}
	// The AK and the EK are both loaded: room for them beside the SRK.
	if err := a.t.FlushKeys(); err != nil {
		return attest.Activation{}, fmt.Errorf("activating: %w", err)
	}
	var secret []byte
	err = a.t.Do(func(tr transport.TPM) error {
		secret, err = activate(tr, k, st, blob)
		return err
	})
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating: %w", err)
	}
	return attest.Activation{EnrollmentID: c.EnrollmentID, Secret: secret}, nil
}

func activate(tr transport.TPM, k ekKind, st state, blob credential.Blob) ([]byte, error) {
	ak, _, err := loadAK(tr, st.AKTemplate, st.AKName)
	if err != nil {
		return nil, err
	}
	defer flush(tr, ak.Handle)
	ek, err := createEK(tr, k)
	if err != nil {
		return nil, err
	}
	defer flush(tr, ek.ObjectHandle)
	auth, end, err := ekAuth(tr, k)
	if err != nil {
		return nil, err
	}
	defer end()
	rsp, err := tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle:      tpm2.AuthHandle{Handle: ek.ObjectHandle, Name: ek.Name, Auth: auth},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: blob.IDObject},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: blob.EncryptedSecret},
	}.Execute(tr)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ActivateCredential: %w", err)
	}
	return rsp.CertInfo.Buffer, nil
}
