package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"
*/
import "C"

import "tep.dev/tep/provider/client"

// openSession is C_OpenSession. Notification callbacks are never made:
// TEP has no surrender points, which PKCS#11 allows.
func openSession(slotID C.CK_SLOT_ID, flags C.CK_FLAGS, phSession C.CK_SESSION_HANDLE_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if phSession == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		h, err := c.OpenSession(uint64(slotID), uint64(flags))
		if err == nil {
			*phSession = C.CK_SESSION_HANDLE(h)
		}
		return ckr(err)
	})
}

func closeSession(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV { return ckr(c.CloseSession(uint64(hSession))) })
}

func closeAllSessions(slotID C.CK_SLOT_ID) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV { return ckr(c.CloseAllSessions(uint64(slotID))) })
}

func getSessionInfo(hSession C.CK_SESSION_HANDLE, pInfo C.CK_SESSION_INFO_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if pInfo == nil {
			a := args{rv: C.CKR_ARGUMENTS_BAD}
			return a.result(c, hSession)
		}
		r, err := c.SessionInfo(uint64(hSession))
		if err != nil {
			return ckr(err)
		}
		pInfo.slotID = C.CK_SLOT_ID(r.Slot)
		pInfo.state = C.CK_STATE(r.State)
		pInfo.flags = C.CK_FLAGS(r.Flags)
		pInfo.ulDeviceError = C.CK_ULONG(r.DeviceError)
		return C.CKR_OK
	})
}

func login(hSession C.CK_SESSION_HANDLE, userType C.CK_USER_TYPE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need(pPin != nil) // NULL would ask for a protected path: there is none
		pin := a.bytes((*C.CK_BYTE)(pPin), ulPinLen, C.CKR_ARGUMENTS_BAD)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.Login(uint64(hSession), uint64(userType), pin))
	})
}

func logout(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV { return ckr(c.Logout(uint64(hSession))) })
}
