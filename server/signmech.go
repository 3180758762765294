package server

import (
	"crypto"
	_ "crypto/sha1" // registers SHA-1 for crypto.Hash
	_ "crypto/sha256"
	_ "crypto/sha512"

	"tep.dev/tep/p11"
)

// sigMech describes a signing mechanism: the key type it needs, the hash
// the token applies to the data first (0: the data is already the digest,
// or for CKM_RSA_PKCS the DigestInfo), and the padding.
type sigMech struct {
	keyType uint64
	hash    crypto.Hash
	pss     bool
}

var sigMechs = map[uint64]sigMech{
	p11.CKM_RSA_PKCS:            {p11.CKK_RSA, 0, false},
	p11.CKM_SHA1_RSA_PKCS:       {p11.CKK_RSA, crypto.SHA1, false},
	p11.CKM_SHA256_RSA_PKCS:     {p11.CKK_RSA, crypto.SHA256, false},
	p11.CKM_SHA384_RSA_PKCS:     {p11.CKK_RSA, crypto.SHA384, false},
	p11.CKM_SHA512_RSA_PKCS:     {p11.CKK_RSA, crypto.SHA512, false},
	p11.CKM_RSA_PKCS_PSS:        {p11.CKK_RSA, 0, true},
	p11.CKM_SHA1_RSA_PKCS_PSS:   {p11.CKK_RSA, crypto.SHA1, true},
	p11.CKM_SHA256_RSA_PKCS_PSS: {p11.CKK_RSA, crypto.SHA256, true},
	p11.CKM_SHA384_RSA_PKCS_PSS: {p11.CKK_RSA, crypto.SHA384, true},
	p11.CKM_SHA512_RSA_PKCS_PSS: {p11.CKK_RSA, crypto.SHA512, true},
	p11.CKM_ECDSA:               {p11.CKK_EC, 0, false},
	p11.CKM_ECDSA_SHA1:          {p11.CKK_EC, crypto.SHA1, false},
	p11.CKM_ECDSA_SHA256:        {p11.CKK_EC, crypto.SHA256, false},
	p11.CKM_ECDSA_SHA384:        {p11.CKK_EC, crypto.SHA384, false},
	p11.CKM_ECDSA_SHA512:        {p11.CKK_EC, crypto.SHA512, false},
}

// mgfHash maps CKG_MGF1_* to the hash MGF1 uses.
var mgfHash = map[uint64]crypto.Hash{
	p11.CKG_MGF1_SHA1: crypto.SHA1, p11.CKG_MGF1_SHA256: crypto.SHA256,
	p11.CKG_MGF1_SHA384: crypto.SHA384, p11.CKG_MGF1_SHA512: crypto.SHA512,
}

// mechHash maps a digest mechanism to its hash.
var mechHash = map[uint64]crypto.Hash{
	p11.CKM_SHA_1: crypto.SHA1, p11.CKM_SHA256: crypto.SHA256,
	p11.CKM_SHA384: crypto.SHA384, p11.CKM_SHA512: crypto.SHA512,
}

// pssOptions reads a PSS mechanism's parameters. The data hash, the MGF1
// hash and (for the hashing variants) the mechanism's hash must agree:
// Go's PSS, like the TPM's, uses one hash for all.
func pssOptions(m sigMech, param []byte) (crypto.Hash, int, error) {
	p, err := p11.DecodePSS(param)
	if err != nil {
		return 0, 0, p11.CKR_MECHANISM_PARAM_INVALID
	}
	h, ok := mechHash[p.Hash]
	if !ok || mgfHash[p.MGF] != h || (m.hash != 0 && m.hash != h) || p.SaltLen > 1024 {
		return 0, 0, p11.CKR_MECHANISM_PARAM_INVALID
	}
	return h, int(p.SaltLen), nil
}
