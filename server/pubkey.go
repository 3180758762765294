package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"math/big"

	"tep.dev/tep/p11"
)

// Named curves, by the DER of their OID as CKA_EC_PARAMS holds it.
var curves = map[string]elliptic.Curve{
	string(mustOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})): elliptic.P256(),
	string(mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 34})):          elliptic.P384(),
	string(mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 35})):          elliptic.P521(),
}

func mustOID(oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		panic(err) // a constant above is wrong
	}
	return b
}

// completeKey checks a key template's key material and adds what the token
// derives from it (CKA_MODULUS_BITS).
func completeKey(keyType uint64, attrs map[uint64][]byte) error {
	pub, err := publicKey(keyType, attrs)
	if err != nil {
		return err
	}
	if k, ok := pub.(*rsa.PublicKey); ok {
		attrs[p11.CKA_MODULUS_BITS] = p11.Ulong(uint64(k.N.BitLen()))
	}
	return nil
}

// publicKey builds the Go public key an object's attributes describe.
func publicKey(keyType uint64, attrs map[uint64][]byte) (crypto.PublicKey, error) {
	switch keyType {
	case p11.CKK_RSA:
		n := new(big.Int).SetBytes(attrs[p11.CKA_MODULUS])
		e := new(big.Int).SetBytes(attrs[p11.CKA_PUBLIC_EXPONENT])
		if n.BitLen() < 512 || n.Bit(0) == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case p11.CKK_EC:
		curve, ok := curves[string(attrs[p11.CKA_EC_PARAMS])]
		if !ok {
			return nil, p11.CKR_CURVE_NOT_SUPPORTED
		}
		point := attrs[p11.CKA_EC_POINT]
		// CKA_EC_POINT is a DER OCTET STRING; accept the bare point too,
		// as some applications write it.
		var inner []byte
		if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
			point = inner
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
		return k, nil
	}
	return nil, p11.CKR_KEY_TYPE_INCONSISTENT
}
