package quote

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
)

// A soft AK signs in software what no TPM would sign: the structures a
// TPM never makes, so that the checks after the signature see them.

var softAttrs = tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
	UserWithAuth: true, Restricted: true, SignEncrypt: true}

type softAK struct {
	pub  []byte
	sign func(digest []byte) tpm2.TPMTSignature
}

func ecdsaAK(t *testing.T) softAK {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	pub := tpm2.TPMTPublic{Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: softAttrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID: tpm2.TPMECCNistP256}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: point[1:33]},
			Y: tpm2.TPM2BECCParameter{Buffer: point[33:]}}),
	}
	return softAK{tpm2.Marshal(pub), func(d []byte) tpm2.TPMTSignature {
		r, s, err := ecdsa.Sign(rand.Reader, k, d)
		if err != nil {
			t.Fatal(err)
		}
		return tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA,
			&tpm2.TPMSSignatureECC{Hash: tpm2.TPMAlgSHA256,
				SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()}, SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()}})}
	}}
}

func pssAK(t *testing.T) softAK {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub := tpm2.TPMTPublic{Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: softAttrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Scheme: tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgRSAPSS,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSAPSS, &tpm2.TPMSSigSchemeRSAPSS{HashAlg: tpm2.TPMAlgSHA256})},
			KeyBits: 2048}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()}),
	}
	return softAK{tpm2.Marshal(pub), func(d []byte) tpm2.TPMTSignature {
		// The salt as long as the digest, as most TPMs make it.
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgRSAPSS, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSAPSS,
			&tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: sig}})}
	}}
}

// evidence signs a as ak would, with PCRs 0-10 of sha256 all zero.
func (ak softAK) evidence(a *Attest) (attest.Evidence, Input) {
	p, _ := ParseAK(ak.pub)
	if a.QualifiedSigner == nil {
		a.QualifiedSigner = p.QualifiedName
	}
	b := a.Marshal()
	d := sha256.Sum256(b)
	bank := attest.PCRBank{Bank: "sha256", Values: map[int][]byte{}}
	for i := range 11 {
		bank.Values[i] = make([]byte, 32)
	}
	return attest.Evidence{Quote: b, Signature: tpm2.Marshal(ak.sign(d[:])), PCRs: []attest.PCRBank{bank}},
		Input{AKPublic: ak.pub, ActivatedName: p.Name, Nonce: []byte("nonce")}
}

// zeroDigest is the PCR digest of PCRs 0-10 of sha256, all zero.
func zeroDigest() []byte {
	d := sha256.Sum256(make([]byte, 11*32))
	return d[:]
}

func goodAttest() *Attest {
	return &Attest{Magic: TPMGeneratedValue, Type: TPMSTAttestQuote, ExtraData: []byte("nonce"), Safe: true,
		Selections: []Selection{{Hash: tpm2.TPMAlgSHA256, Select: []byte{0xff, 0x07, 0}}}, PCRDigest: zeroDigest()}
}

func TestSoftAK(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Attest)
		raw  func([]byte) []byte
		want []string
	}{
		{"good", func(*Attest) {}, nil, nil},
		{"magic", func(a *Attest) { a.Magic = 0x12345678 }, nil, []string{attest.FaultQuoteNotGenerated}},
		{"type", func(a *Attest) { a.Type = 0x8017; a.Other = []byte{0} }, nil, []string{attest.FaultQuoteType}},
		{"malformed", func(*Attest) {}, func(b []byte) []byte { return b[:len(b)-1] }, []string{attest.FaultQuoteType}},
		{"unknown bank", func(a *Attest) {
			a.Selections = append(a.Selections, Selection{Hash: tpm2.TPMAlgSM3256, Select: []byte{1, 0, 0}})
		}, nil, []string{attest.FaultQuotePCRDigest}},
		{"signer", func(a *Attest) { a.QualifiedSigner = []byte{0, 0x0b, 1} }, nil, []string{attest.FaultQuoteSigner}},
	} {
		for _, ak := range []softAK{ecdsaAK(t), pssAK(t)} {
			a := goodAttest()
			c.edit(a)
			ev, in := ak.evidence(a)
			if c.raw != nil {
				ev.Quote = c.raw(ev.Quote)
				ev.Signature = tpm2.Marshal(ak.sign(func() []byte { d := sha256.Sum256(ev.Quote); return d[:] }()))
			}
			r, err := Verify(ev, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(r.Faults); !slices.Equal(got, c.want) {
				t.Errorf("%s: faults %v, want %v", c.name, got, c.want)
			}
		}
	}
}

func TestParseAKRejects(t *testing.T) {
	ak := ecdsaAK(t)
	pub, _ := tpm2.Unmarshal[tpm2.TPMTPublic](ak.pub)
	for _, c := range []struct {
		name string
		edit func(*tpm2.TPMTPublic)
	}{
		{"decrypt", func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Decrypt = true }},
		{"unrestricted", func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Restricted = false }},
		{"not fixedTPM", func(p *tpm2.TPMTPublic) { p.ObjectAttributes.FixedTPM = false }},
		{"imported", func(p *tpm2.TPMTPublic) { p.ObjectAttributes.SensitiveDataOrigin = false }},
		{"policy only", func(p *tpm2.TPMTPublic) { p.ObjectAttributes.UserWithAuth = false }},
		{"ECDAA", func(p *tpm2.TPMTPublic) {
			p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDAA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDAA,
					&tpm2.TPMSSchemeECDAA{HashAlg: tpm2.TPMAlgSHA256})}, CurveID: tpm2.TPMECCNistP256})
		}},
	} {
		q := *pub
		c.edit(&q)
		if _, err := ParseAK(tpm2.Marshal(q)); err == nil {
			t.Errorf("%s: ParseAK succeeded", c.name)
		}
	}
	if _, err := ParseAK([]byte{0}); err == nil {
		t.Error("ParseAK of one byte succeeded")
	}
	hmac := tpm2.TPMTPublic{Type: tpm2.TPMAlgKeyedHash, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: softAttrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{Scheme: tpm2.TPMTKeyedHashScheme{
			Scheme: tpm2.TPMAlgHMAC, Details: tpm2.NewTPMUSchemeKeyedHash(tpm2.TPMAlgHMAC, &tpm2.TPMSSchemeHMAC{HashAlg: tpm2.TPMAlgSHA256})}}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: make([]byte, 32)})}
	if _, err := ParseAK(tpm2.Marshal(hmac)); err == nil {
		t.Error("ParseAK of an HMAC key succeeded")
	}
}

// TestParsedAK: an AK given parsed is the one Verify checks against,
// and AKPublic is then not read.
func TestParsedAK(t *testing.T) {
	ak, other := ecdsaAK(t), ecdsaAK(t)
	ev, in := ak.evidence(goodAttest())
	parsed, err := ParseAK(ak.pub)
	if err != nil {
		t.Fatal(err)
	}
	otherParsed, err := ParseAK(other.pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ak   *AK
		want []string
	}{
		{"the enrolled AK", parsed, nil},
		// ActivatedName is the enrolled AK's: another AK's name differs.
		{"another AK", otherParsed, []string{attest.FaultAKNotActivated}},
	} {
		in := in
		in.AK, in.AKPublic = c.ak, []byte("not read")
		r, err := Verify(ev, in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := names(r.Faults); !slices.Equal(got, c.want) {
			t.Errorf("%s: faults %v, want %v", c.name, got, c.want)
		}
	}
	// The other AK activated: its signature check fails.
	in.AK, in.ActivatedName = otherParsed, otherParsed.Name
	if r, err := Verify(ev, in); err != nil || !slices.Equal(names(r.Faults), []string{attest.FaultQuoteSignature}) {
		t.Errorf("another activated AK: %v, %v; want %s", r, err, attest.FaultQuoteSignature)
	}
}
