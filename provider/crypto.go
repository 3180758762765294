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

// goMechanism copies a CK_MECHANISM out of C memory. Parameters that are C
// structures are rewritten in their canonical wire form; others travel
// as bytes.
func goMechanism(m C.CK_MECHANISM_PTR) (p11.Mechanism, C.CK_RV) {
	if m == nil {
		return p11.Mechanism{}, C.CKR_ARGUMENTS_BAD
	}
	mech := p11.Mechanism{Type: uint64(m.mechanism)}
	if pssMechs[mech.Type] && m.pParameter != nil {
		if m.ulParameterLen != C.CK_ULONG(unsafe.Sizeof(C.CK_RSA_PKCS_PSS_PARAMS{})) {
			return mech, C.CKR_MECHANISM_PARAM_INVALID
		}
		p := (*C.CK_RSA_PKCS_PSS_PARAMS)(m.pParameter)
		mech.Param = p11.PSSParams{Hash: uint64(p.hashAlg), MGF: uint64(p.mgf), SaltLen: uint64(p.sLen)}.Encode()
		return mech, C.CKR_OK
	}
	if mech.Type == p11.CKM_RSA_PKCS_OAEP && m.pParameter != nil {
		if m.ulParameterLen != C.CK_ULONG(unsafe.Sizeof(C.CK_RSA_PKCS_OAEP_PARAMS{})) {
			return mech, C.CKR_MECHANISM_PARAM_INVALID
		}
		p := (*C.CK_RSA_PKCS_OAEP_PARAMS)(m.pParameter)
		label, ok := goBytes((*C.CK_BYTE)(p.pSourceData), p.ulSourceDataLen)
		if !ok {
			return mech, C.CKR_MECHANISM_PARAM_INVALID
		}
		mech.Param = p11.OAEPParams{Hash: uint64(p.hashAlg), MGF: uint64(p.mgf), Source: uint64(p.source), Label: label}.Encode()
		return mech, C.CKR_OK
	}
	if mech.Type == p11.CKM_AES_CTR && m.pParameter != nil {
		if m.ulParameterLen != C.CK_ULONG(unsafe.Sizeof(C.CK_AES_CTR_PARAMS{})) {
			return mech, C.CKR_MECHANISM_PARAM_INVALID
		}
		p := (*C.CK_AES_CTR_PARAMS)(m.pParameter)
		ctr := p11.CTRParams{CounterBits: uint64(p.ulCounterBits)}
		for i := range ctr.Block {
			ctr.Block[i] = byte(p.cb[i])
		}
		mech.Param = ctr.Encode()
		return mech, C.CKR_OK
	}
	param, ok := goBytes((*C.CK_BYTE)(m.pParameter), m.ulParameterLen)
	if !ok {
		return mech, C.CKR_ARGUMENTS_BAD
	}
	mech.Param = param
	return mech, C.CKR_OK
}

func generateRandom(hSession C.CK_SESSION_HANDLE, pRandom C.CK_BYTE_PTR, ulRandomLen C.CK_ULONG) C.CK_RV {
	if pRandom == nil && ulRandomLen > 0 {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		return ckr(c.GenerateRandom(uint64(hSession), cBytes(pRandom, ulRandomLen)))
	})
}

func seedRandom(hSession C.CK_SESSION_HANDLE, pSeed C.CK_BYTE_PTR, ulSeedLen C.CK_ULONG) C.CK_RV {
	seed, ok := goBytes(pSeed, ulSeedLen)
	if !ok {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.SeedRandom(uint64(hSession), seed)) })
}

func digestInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.DigestInit(uint64(hSession), m)) })
}

func digest(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	data, ok := goBytes(pData, ulDataLen)
	if !ok || pulDigestLen == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		out, n, err := c.Digest(uint64(hSession), data, outCap(pDigest, pulDigestLen))
		return putOut(pDigest, pulDigestLen, out, n, err)
	})
}

func digestUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	part, ok := goBytes(pPart, ulPartLen)
	if !ok {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.DigestUpdate(uint64(hSession), part)) })
}

func digestFinal(hSession C.CK_SESSION_HANDLE, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	if pulDigestLen == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		out, n, err := c.DigestFinal(uint64(hSession), outCap(pDigest, pulDigestLen))
		return putOut(pDigest, pulDigestLen, out, n, err)
	})
}

func verifyInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.VerifyInit(uint64(hSession), m, uint64(hKey))) })
}

func verify(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	data, ok1 := goBytes(pData, ulDataLen)
	sig, ok2 := goBytes(pSignature, ulSignatureLen)
	if !ok1 || !ok2 {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.Verify(uint64(hSession), data, sig)) })
}

func verifyUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	part, ok := goBytes(pPart, ulPartLen)
	if !ok {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.VerifyUpdate(uint64(hSession), part)) })
}

func verifyFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	sig, ok := goBytes(pSignature, ulSignatureLen)
	if !ok {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.VerifyFinal(uint64(hSession), sig)) })
}

func generateKeyPair(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR,
	pPublicKeyTemplate C.CK_ATTRIBUTE_PTR, ulPublicKeyAttributeCount C.CK_ULONG,
	pPrivateKeyTemplate C.CK_ATTRIBUTE_PTR, ulPrivateKeyAttributeCount C.CK_ULONG,
	phPublicKey, phPrivateKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	pub, rv := goTemplate(pPublicKeyTemplate, ulPublicKeyAttributeCount)
	if rv != C.CKR_OK {
		return rv
	}
	priv, rv := goTemplate(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)
	if rv != C.CKR_OK {
		return rv
	}
	if phPublicKey == nil || phPrivateKey == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		ph, kh, err := c.GenerateKeyPair(uint64(hSession), m, pub, priv)
		if err == nil {
			*phPublicKey, *phPrivateKey = C.CK_OBJECT_HANDLE(ph), C.CK_OBJECT_HANDLE(kh)
		}
		return ckr(err)
	})
}

func signInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.SignInit(uint64(hSession), m, uint64(hKey))) })
}

func sign(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	data, ok := goBytes(pData, ulDataLen)
	if !ok || pulSignatureLen == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		out, n, err := c.Sign(uint64(hSession), data, outCap(pSignature, pulSignatureLen))
		return putOut(pSignature, pulSignatureLen, out, n, err)
	})
}

func signUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	part, ok := goBytes(pPart, ulPartLen)
	if !ok {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.SignUpdate(uint64(hSession), part)) })
}

func signFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	if pulSignatureLen == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		out, n, err := c.SignFinal(uint64(hSession), outCap(pSignature, pulSignatureLen))
		return putOut(pSignature, pulSignatureLen, out, n, err)
	})
}

func generateKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	tmpl, rv := goTemplate(pTemplate, ulCount)
	if rv != C.CKR_OK {
		return rv
	}
	if phKey == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		h, err := c.GenerateKey(uint64(hSession), m, tmpl)
		if err == nil {
			*phKey = C.CK_OBJECT_HANDLE(h)
		}
		return ckr(err)
	})
}

func cryptInit(decrypt bool, hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	return with(func(c *client.Client) C.CK_RV { return ckr(c.CryptInit(decrypt, uint64(hSession), m, uint64(hKey))) })
}

// crypt is every data step of C_Encrypt* and C_Decrypt*: step 0 single
// part, 1 update, 2 final (no input).
func crypt(decrypt bool, step int, hSession C.CK_SESSION_HANDLE, pIn C.CK_BYTE_PTR, ulInLen C.CK_ULONG, pOut C.CK_BYTE_PTR, pulOutLen C.CK_ULONG_PTR) C.CK_RV {
	in, ok := goBytes(pIn, ulInLen)
	if !ok || pulOutLen == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		out, n, err := c.Crypt(decrypt, step, uint64(hSession), in, outCap(pOut, pulOutLen))
		return putOut(pOut, pulOutLen, out, n, err)
	})
}

func wrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hWrappingKey, hKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, pulWrappedKeyLen C.CK_ULONG_PTR) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	if pulWrappedKeyLen == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	return with(func(c *client.Client) C.CK_RV {
		out, n, err := c.WrapKey(uint64(hSession), m, uint64(hWrappingKey), uint64(hKey), outCap(pWrappedKey, pulWrappedKeyLen))
		return putOut(pWrappedKey, pulWrappedKeyLen, out, n, err)
	})
}

func unwrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hUnwrappingKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, ulWrappedKeyLen C.CK_ULONG, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	m, rv := goMechanism(pMechanism)
	if rv != C.CKR_OK {
		return rv
	}
	wrapped, ok := goBytes(pWrappedKey, ulWrappedKeyLen)
	if !ok || phKey == nil {
		return C.CKR_ARGUMENTS_BAD
	}
	tmpl, rv := goTemplate(pTemplate, ulAttributeCount)
	if rv != C.CKR_OK {
		return rv
	}
	return with(func(c *client.Client) C.CK_RV {
		h, err := c.UnwrapKey(uint64(hSession), m, uint64(hUnwrappingKey), wrapped, tmpl)
		if err == nil {
			*phKey = C.CK_OBJECT_HANDLE(h)
		}
		return ckr(err)
	})
}
