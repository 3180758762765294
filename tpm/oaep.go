package tpm

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/binary"
	"hash"
)

// tpmOAEP reports whether the TPM can remove the OAEP padding itself for
// o: its MGF1 runs on the OAEP hash and it takes only labels that are
// empty or end in a zero byte (TPM 2.0 Part 1, B.4: the terminating zero
// is part of what it hashes), no longer than a TPM2B_DATA.
func tpmOAEP(o *rsa.OAEPOptions) bool {
	mgfOK := o.MGFHash == 0 || o.MGFHash == o.Hash
	labelOK := len(o.Label) == 0 || (o.Label[len(o.Label)-1] == 0 && len(o.Label) <= maxLabel)
	return mgfOK && labelOK
}

// decodeOAEP removes EME-OAEP padding (RFC 8017, 7.1.2 step 3) from em,
// the k-byte result of a raw RSA decryption. Every check runs over the
// whole block whatever the data, so the time taken tells an attacker
// nothing about where the padding went wrong; all failures are one
// ErrDecrypt (Manger's attack needs to tell them apart).
func decodeOAEP(o *rsa.OAEPOptions, em []byte) ([]byte, error) {
	h := o.Hash.New()
	mgfHash := o.MGFHash
	if mgfHash == 0 {
		mgfHash = o.Hash
	}
	mh := mgfHash.New()
	hLen, k := h.Size(), len(em)
	if k < 2*hLen+2 {
		return nil, ErrDecrypt
	}
	h.Write(o.Label)
	lHash := h.Sum(nil)

	y := em[0]
	seed := make([]byte, hLen)
	copy(seed, em[1:1+hLen])
	db := make([]byte, k-hLen-1)
	copy(db, em[1+hLen:])
	mgf1XOR(seed, mh, db)
	mgf1XOR(db, mh, seed)

	good := subtle.ConstantTimeByteEq(y, 0)
	good &= subtle.ConstantTimeCompare(db[:hLen], lHash)

	// After lHash: zero or more zero bytes, one 0x01, then the message.
	// Walk every byte, remembering the first 0x01 and whether a byte other
	// than zero came before it.
	searching, start, bad := 1, 0, 0
	for i := hLen; i < len(db); i++ {
		zero := subtle.ConstantTimeByteEq(db[i], 0)
		one := subtle.ConstantTimeByteEq(db[i], 1)
		start = subtle.ConstantTimeSelect(searching&one, i+1, start)
		bad |= searching &^ zero &^ one
		searching &^= one
	}
	if good&^searching&^bad != 1 {
		return nil, ErrDecrypt
	}
	return db[start:], nil
}

// mgf1XOR XORs out with MGF1(seed) on h (RFC 8017, B.2.1).
func mgf1XOR(out []byte, h hash.Hash, seed []byte) {
	var counter [4]byte
	var block []byte
	for done := 0; done < len(out); {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		block = h.Sum(block[:0])
		done += subtle.XORBytes(out[done:], out[done:], block)
		binary.BigEndian.PutUint32(counter[:], binary.BigEndian.Uint32(counter[:])+1)
	}
}
