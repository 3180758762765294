package luks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/pcrpolicy"
)

// SignOptions is what the admin side signs. Zero Mapping, Mount and
// Filesystem leave the device's defaults.
type SignOptions struct {
	Values     pcrpolicy.Values
	Signer     crypto.Signer
	Device     string
	Epoch      uint64
	Mapping    string
	Mount      string
	Filesystem string
	Cryptsetup FormatOptions
	// Rand is the randomness for ECDSA; nil is crypto/rand.
	Rand io.Reader
}

// Sign computes the approved and authorized policies of opts in software
// and signs the approved one: the admin side, which needs no TPM.
func Sign(opts SignOptions) (*Config, error) {
	pub := opts.Signer.Public()
	kind, err := keyKind(pub)
	if err != nil {
		return nil, err
	}
	approved, err := pcrpolicy.Approved(opts.Values, pcrpolicy.CounterName(provisioning.LUKSRevocationIndex), opts.Epoch)
	if err != nil {
		return nil, err
	}
	name, err := pcrpolicy.KeyName(pub)
	if err != nil {
		return nil, err
	}
	sig, err := pcrpolicy.Sign(opts.Signer, opts.Rand, approved)
	if err != nil {
		return nil, err
	}
	if err := pcrpolicy.Verify(pub, approved, sig); err != nil {
		return nil, fmt.Errorf("the signer's signature does not verify with its public key: %w", err)
	}
	fp, err := pcrpolicy.Fingerprint(pub)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Version: ConfigVersion, Device: opts.Device,
		Mapping: opts.Mapping, Mount: opts.Mount, Filesystem: opts.Filesystem,
		Bank: string(opts.Values.Bank), PCRs: opts.Values.PCRs, PCRValues: map[int]string{},
		Epoch: opts.Epoch, Signer: hex.EncodeToString(fp[:]), SignerKey: kind,
		ApprovedPolicy:   hex.EncodeToString(approved),
		AuthorizedPolicy: hex.EncodeToString(pcrpolicy.Authorized(name)),
		Signature:        base64.StdEncoding.EncodeToString(sig),
		Cryptsetup:       opts.Cryptsetup,
	}
	for i, p := range opts.Values.PCRs {
		c.PCRValues[p] = hex.EncodeToString(opts.Values.Digests[i])
	}
	digest, err := c.ConfigDigest()
	if err != nil {
		return nil, err
	}
	csig, err := opts.Signer.Sign(rnd(opts.Rand), digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing the configuration: %w", err)
	}
	c.ConfigSignature = base64.StdEncoding.EncodeToString(csig)
	if _, err := c.Policy(); err != nil {
		return nil, err
	}
	return c, nil
}

func rnd(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// keyKind names an ECDSA policy key's type as the YAML's signer_key does.
func keyKind(pub crypto.PublicKey) (string, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("%w: the device's policy key is ECDSA, not %T (RSA keys sign only --format systemd)", pcrpolicy.ErrKeyType, pub)
	}
	switch k.Curve {
	case elliptic.P256():
		return "ecdsa-p256", nil
	case elliptic.P384():
		return "ecdsa-p384", nil
	}
	return "", fmt.Errorf("%w: curve %s", pcrpolicy.ErrKeyType, k.Curve.Params().Name)
}

// SystemdSignature writes the tpm2-pcr-signature.json that
// systemd-cryptenroll --tpm2-signature= and systemd-cryptsetup read: for
// the sha256 bank, one entry with the PCRs, the key's fingerprint
// ("pkfp", SHA-256 of its DER PKCS#1 RSAPublicKey), the PolicyPCR digest
// ("pol", with no revocation term: systemd has none) and the RSASSA
// signature over SHA-256 of it ("sig", base64). systemd takes RSA keys
// and the sha256 bank only.
func SystemdSignature(v pcrpolicy.Values, s crypto.Signer, rnd io.Reader) ([]byte, error) {
	if _, ok := s.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("%w: systemd takes RSA signing keys only, not %T", pcrpolicy.ErrKeyType, s.Public())
	}
	if v.Bank != pcrpolicy.SHA256 {
		return nil, fmt.Errorf("systemd signs the sha256 bank only, not %s", v.Bank)
	}
	pol, err := pcrpolicy.PolicyPCR(make([]byte, pcrpolicy.DigestSize), v)
	if err != nil {
		return nil, err
	}
	sig, err := pcrpolicy.Sign(s, rnd, pol)
	if err != nil {
		return nil, err
	}
	// systemd's fingerprint is of OpenSSL's i2d_PublicKey, which for RSA
	// is the PKCS#1 RSAPublicKey, not the SubjectPublicKeyInfo.
	fp := sha256.Sum256(x509.MarshalPKCS1PublicKey(s.Public().(*rsa.PublicKey)))
	type entry struct {
		PCRs []int  `json:"pcrs"`
		PKFP string `json:"pkfp"`
		Pol  string `json:"pol"`
		Sig  string `json:"sig"`
	}
	return json.Marshal(map[string][]entry{"sha256": {{
		PCRs: v.PCRs, PKFP: hex.EncodeToString(fp[:]),
		Pol: hex.EncodeToString(pol), Sig: base64.StdEncoding.EncodeToString(sig),
	}}})
}
