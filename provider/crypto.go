package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"
*/
import "C"

import (
	"unsafe"

	"tep.dev/tep/p11"
	"tep.dev/tep/provider/client"
)

// pssMechs take CK_RSA_PKCS_PSS_PARAMS.
var pssMechs = map[uint64]bool{
	p11.CKM_RSA_PKCS_PSS: true, p11.CKM_SHA1_RSA_PKCS_PSS: true, p11.CKM_SHA256_RSA_PKCS_PSS: true,
	p11.CKM_SHA384_RSA_PKCS_PSS: true, p11.CKM_SHA512_RSA_PKCS_PSS: true,
}

// mechanism copies a CK_MECHANISM out of C memory. Parameters that are C
// structures are rewritten in their canonical wire form; others travel
// as bytes, and one too long for the request is
// CKR_MECHANISM_PARAM_INVALID.
func (a *args) mechanism(m C.CK_MECHANISM_PTR) p11.Mechanism {
	if !a.ok() {
		return p11.Mechanism{}
	}
	a.need(m != nil)
	if !a.ok() {
		return p11.Mechanism{}
	}
	mech := p11.Mechanism{Type: uint64(m.mechanism)}
	switch {
	case m.pParameter == nil:
		a.need(m.ulParameterLen == 0)
	case pssMechs[mech.Type]:
		if a.paramSize(m, unsafe.Sizeof(C.CK_RSA_PKCS_PSS_PARAMS{})) {
			p := (*C.CK_RSA_PKCS_PSS_PARAMS)(m.pParameter)
			mech.Param = p11.PSSParams{Hash: uint64(p.hashAlg), MGF: uint64(p.mgf), SaltLen: uint64(p.sLen)}.Encode()
		}
	case mech.Type == p11.CKM_RSA_PKCS_OAEP:
		if a.paramSize(m, unsafe.Sizeof(C.CK_RSA_PKCS_OAEP_PARAMS{})) {
			p := (*C.CK_RSA_PKCS_OAEP_PARAMS)(m.pParameter)
			if p.pSourceData == nil && p.ulSourceDataLen > 0 {
				a.fail(C.CKR_MECHANISM_PARAM_INVALID)
			}
			label := a.bytes((*C.CK_BYTE)(p.pSourceData), p.ulSourceDataLen, C.CKR_MECHANISM_PARAM_INVALID)
			mech.Param = p11.OAEPParams{Hash: uint64(p.hashAlg), MGF: uint64(p.mgf), Source: uint64(p.source), Label: label}.Encode()
		}
	case mech.Type == p11.CKM_AES_CTR:
		if a.paramSize(m, unsafe.Sizeof(C.CK_AES_CTR_PARAMS{})) {
			p := (*C.CK_AES_CTR_PARAMS)(m.pParameter)
			ctr := p11.CTRParams{CounterBits: uint64(p.ulCounterBits)}
			for i := range ctr.Block {
				ctr.Block[i] = byte(p.cb[i])
			}
			mech.Param = ctr.Encode()
		}
	default:
		mech.Param = a.bytes((*C.CK_BYTE)(m.pParameter), m.ulParameterLen, C.CKR_MECHANISM_PARAM_INVALID)
	}
	return mech
}

// paramSize checks that a mechanism's parameter is the C structure of
// size n.
func (a *args) paramSize(m C.CK_MECHANISM_PTR, n uintptr) bool {
	if m.ulParameterLen != C.CK_ULONG(n) {
		a.fail(C.CKR_MECHANISM_PARAM_INVALID)
	}
	return a.ok()
}

func generateRandom(hSession C.CK_SESSION_HANDLE, pRandom C.CK_BYTE_PTR, ulRandomLen C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need((pRandom != nil || ulRandomLen == 0) && ulRandomLen <= maxRandom)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.GenerateRandom(uint64(hSession), cBytes(pRandom, ulRandomLen)))
	})
}

func seedRandom(hSession C.CK_SESSION_HANDLE, pSeed C.CK_BYTE_PTR, ulSeedLen C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		seed := a.bytes(pSeed, ulSeedLen, C.CKR_ARGUMENTS_BAD)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.SeedRandom(uint64(hSession), seed))
	})
}

// opInit is C_DigestInit (no key), C_SignInit, C_VerifyInit,
// C_EncryptInit and C_DecryptInit: init calls the client with the
// mechanism.
func opInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, init func(*client.Client, p11.Mechanism) error) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		m := a.mechanism(pMechanism)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(init(c, m))
	})
}

// update is every C_*Update that takes data and returns nothing, and
// C_VerifyFinal: send calls the client with the data. tooLarge is the
// function's code for data past the limit.
func update(init uint16, hSession C.CK_SESSION_HANDLE, p C.CK_BYTE_PTR, n C.CK_ULONG, tooLarge C.CK_RV, send func(*client.Client, []byte) error) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		data := a.bytes(p, n, tooLarge)
		if !a.ok() {
			return a.ended(c, hSession, init)
		}
		return ckr(send(c, data))
	})
}

// output is every call that takes data (maybe none) and returns bytes
// under the length convention: C_Digest, C_DigestFinal, C_Sign,
// C_SignFinal, and the steps of C_Encrypt* and C_Decrypt*. call calls the
// client with the data and the output's capacity.
func output(init uint16, hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG, tooLarge C.CK_RV, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR,
	call func(c *client.Client, in []byte, outCap int64) ([]byte, uint64, error)) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		in := a.bytes(pIn, ulInLen, tooLarge)
		a.need(pulOutLen != nil)
		if !a.ok() {
			return a.ended(c, hSession, init)
		}
		out, n, err := call(c, in, outCap(pOut, pulOutLen))
		return putOut(pOut, pulOutLen, out, n, err)
	})
}

func digestInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR) C.CK_RV {
	return opInit(hSession, pMechanism, func(c *client.Client, m p11.Mechanism) error {
		return c.DigestInit(uint64(hSession), m)
	})
}

// digest is C_Digest. Its data goes to the server in parts of a message
// or less (client.Digest), so it may be longer than one request: it is
// read in place up to maxDigest.
func digest(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		data := a.view(pData, ulDataLen, maxDigest, C.CKR_DATA_LEN_RANGE)
		a.need(pulDigestLen != nil)
		if !a.ok() {
			return a.ended(c, hSession, p11.FnDigestInit)
		}
		out, n, err := c.Digest(uint64(hSession), data, outCap(pDigest, pulDigestLen))
		return putOut(pDigest, pulDigestLen, out, n, err)
	})
}

// digestUpdate is C_DigestUpdate; PKCS#11 v2.40 defines no length error
// for it, so a part past the limit is CKR_ARGUMENTS_BAD.
func digestUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return update(p11.FnDigestInit, hSession, pPart, ulPartLen, C.CKR_ARGUMENTS_BAD, func(c *client.Client, part []byte) error {
		return c.DigestUpdate(uint64(hSession), part)
	})
}

func digestKey(hSession C.CK_SESSION_HANDLE, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		return ckr(c.DigestKey(uint64(hSession), uint64(hKey)))
	})
}

func digestFinal(hSession C.CK_SESSION_HANDLE, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	return output(p11.FnDigestInit, hSession, nil, 0, C.CKR_OK, pDigest, pulDigestLen, func(c *client.Client, _ []byte, outCap int64) ([]byte, uint64, error) {
		return c.DigestFinal(uint64(hSession), outCap)
	})
}

func verifyInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit(hSession, pMechanism, func(c *client.Client, m p11.Mechanism) error {
		return c.VerifyInit(uint64(hSession), m, uint64(hKey))
	})
}

// verify is C_Verify. The signature is taken first: it is short, and data
// past the limit is then CKR_DATA_LEN_RANGE, not a signature's error.
func verify(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		sig := a.bytes(pSignature, ulSignatureLen, C.CKR_SIGNATURE_LEN_RANGE)
		data := a.bytes(pData, ulDataLen, C.CKR_DATA_LEN_RANGE)
		if !a.ok() {
			return a.ended(c, hSession, p11.FnVerifyInit)
		}
		return ckr(c.Verify(uint64(hSession), data, sig))
	})
}

func verifyUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return update(p11.FnVerifyInit, hSession, pPart, ulPartLen, C.CKR_DATA_LEN_RANGE, func(c *client.Client, part []byte) error {
		return c.VerifyUpdate(uint64(hSession), part)
	})
}

func verifyFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	return update(p11.FnVerifyInit, hSession, pSignature, ulSignatureLen, C.CKR_SIGNATURE_LEN_RANGE, func(c *client.Client, sig []byte) error {
		return c.VerifyFinal(uint64(hSession), sig)
	})
}

func generateKeyPair(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR,
	pPublicKeyTemplate C.CK_ATTRIBUTE_PTR, ulPublicKeyAttributeCount C.CK_ULONG,
	pPrivateKeyTemplate C.CK_ATTRIBUTE_PTR, ulPrivateKeyAttributeCount C.CK_ULONG,
	phPublicKey, phPrivateKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		m := a.mechanism(pMechanism)
		pub := a.template(pPublicKeyTemplate, ulPublicKeyAttributeCount)
		priv := a.template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)
		a.need(phPublicKey != nil && phPrivateKey != nil)
		if !a.ok() {
			return a.result(c, hSession)
		}
		ph, kh, err := c.GenerateKeyPair(uint64(hSession), m, pub, priv)
		if err == nil {
			*phPublicKey, *phPrivateKey = C.CK_OBJECT_HANDLE(ph), C.CK_OBJECT_HANDLE(kh)
		}
		return ckr(err)
	})
}

func signInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit(hSession, pMechanism, func(c *client.Client, m p11.Mechanism) error {
		return c.SignInit(uint64(hSession), m, uint64(hKey))
	})
}

func sign(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return output(p11.FnSignInit, hSession, pData, ulDataLen, C.CKR_DATA_LEN_RANGE, pSignature, pulSignatureLen, func(c *client.Client, data []byte, outCap int64) ([]byte, uint64, error) {
		return c.Sign(uint64(hSession), data, outCap)
	})
}

func signUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return update(p11.FnSignInit, hSession, pPart, ulPartLen, C.CKR_DATA_LEN_RANGE, func(c *client.Client, part []byte) error {
		return c.SignUpdate(uint64(hSession), part)
	})
}

func signFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return output(p11.FnSignInit, hSession, nil, 0, C.CKR_OK, pSignature, pulSignatureLen, func(c *client.Client, _ []byte, outCap int64) ([]byte, uint64, error) {
		return c.SignFinal(uint64(hSession), outCap)
	})
}

func generateKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		m := a.mechanism(pMechanism)
		tmpl := a.template(pTemplate, ulCount)
		a.need(phKey != nil)
		if !a.ok() {
			return a.result(c, hSession)
		}
		h, err := c.GenerateKey(uint64(hSession), m, tmpl)
		return putHandle(phKey, h, err)
	})
}

func cryptInit(decrypt bool, hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return opInit(hSession, pMechanism, func(c *client.Client, m p11.Mechanism) error {
		return c.CryptInit(decrypt, uint64(hSession), m, uint64(hKey))
	})
}

// crypt is every data step of C_Encrypt* and C_Decrypt*: step 0 single
// part, 1 update, 2 final (no input). Input past the limit is
// CKR_DATA_LEN_RANGE to encrypt, CKR_ENCRYPTED_DATA_LEN_RANGE to decrypt.
func crypt(decrypt bool, step int, hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR) C.CK_RV {
	tooLarge, init := C.CK_RV(C.CKR_DATA_LEN_RANGE), p11.FnEncryptInit
	if decrypt {
		tooLarge, init = C.CKR_ENCRYPTED_DATA_LEN_RANGE, p11.FnDecryptInit
	}
	return output(init, hSession, pIn, ulInLen, tooLarge, pOut, pulOutLen, func(c *client.Client, in []byte, outCap int64) ([]byte, uint64, error) {
		return c.Crypt(decrypt, step, uint64(hSession), in, outCap)
	})
}

func wrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hWrappingKey, hKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, pulWrappedKeyLen C.CK_ULONG_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		m := a.mechanism(pMechanism)
		a.need(pulWrappedKeyLen != nil)
		if !a.ok() {
			return a.result(c, hSession)
		}
		out, n, err := c.WrapKey(uint64(hSession), m, uint64(hWrappingKey), uint64(hKey), outCap(pWrappedKey, pulWrappedKeyLen))
		return putOut(pWrappedKey, pulWrappedKeyLen, out, n, err)
	})
}

func unwrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hUnwrappingKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, ulWrappedKeyLen C.CK_ULONG, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		m := a.mechanism(pMechanism)
		wrapped := a.bytes(pWrappedKey, ulWrappedKeyLen, C.CKR_WRAPPED_KEY_LEN_RANGE)
		a.need(phKey != nil)
		tmpl := a.template(pTemplate, ulAttributeCount)
		if !a.ok() {
			return a.result(c, hSession)
		}
		h, err := c.UnwrapKey(uint64(hSession), m, uint64(hUnwrappingKey), wrapped, tmpl)
		return putHandle(phKey, h, err)
	})
}
