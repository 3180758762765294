package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"
*/
import "C"

import (
	"tep.dev/tep/p11"
	"tep.dev/tep/provider/client"
)

// goMechanism copies a CK_MECHANISM out of C memory.
func goMechanism(m C.CK_MECHANISM_PTR) (p11.Mechanism, bool) {
	if m == nil {
		return p11.Mechanism{}, false
	}
	param, ok := goBytes((*C.CK_BYTE)(m.pParameter), m.ulParameterLen)
	return p11.Mechanism{Type: uint64(m.mechanism), Param: param}, ok
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
	m, ok := goMechanism(pMechanism)
	if !ok {
		return C.CKR_ARGUMENTS_BAD
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
