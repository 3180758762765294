package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"
*/
import "C"

import (
	"strings"
	"unsafe"

	"tep.dev/tep/provider/client"
)

func getSlotList(tokenPresent C.CK_BBOOL, pSlotList C.CK_SLOT_ID_PTR, pulCount C.CK_ULONG_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if pulCount == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		slots, err := c.SlotList(tokenPresent != 0)
		if err != nil {
			return ckr(err)
		}
		return putList((*C.CK_ULONG)(pSlotList), pulCount, slots)
	})
}

func getSlotInfo(slotID C.CK_SLOT_ID, pInfo C.CK_SLOT_INFO_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if pInfo == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		r, err := c.SlotInfo(uint64(slotID))
		if err != nil {
			return ckr(err)
		}
		pad(pInfo.slotDescription[:], r.Description)
		pad(pInfo.manufacturerID[:], r.ManufacturerID)
		pInfo.flags = C.CK_FLAGS(r.Flags)
		pInfo.hardwareVersion = version(r.HardwareVersion)
		pInfo.firmwareVersion = version(r.FirmwareVersion)
		return C.CKR_OK
	})
}

func getTokenInfo(slotID C.CK_SLOT_ID, pInfo C.CK_TOKEN_INFO_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if pInfo == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		t, err := c.TokenInfo(uint64(slotID))
		if err != nil {
			return ckr(err)
		}
		pad(pInfo.label[:], t.Label)
		pad(pInfo.manufacturerID[:], t.ManufacturerID)
		pad(pInfo.model[:], t.Model)
		pad(pInfo.serialNumber[:], t.SerialNumber)
		pInfo.flags = C.CK_FLAGS(t.Flags)
		pInfo.ulMaxSessionCount = C.CK_ULONG(t.MaxSessionCount)
		pInfo.ulSessionCount = C.CK_ULONG(t.SessionCount)
		pInfo.ulMaxRwSessionCount = C.CK_ULONG(t.MaxRwSessionCount)
		pInfo.ulRwSessionCount = C.CK_ULONG(t.RwSessionCount)
		pInfo.ulMaxPinLen = C.CK_ULONG(t.MaxPinLen)
		pInfo.ulMinPinLen = C.CK_ULONG(t.MinPinLen)
		pInfo.ulTotalPublicMemory = C.CK_ULONG(t.TotalPublicMemory)
		pInfo.ulFreePublicMemory = C.CK_ULONG(t.FreePublicMemory)
		pInfo.ulTotalPrivateMemory = C.CK_ULONG(t.TotalPrivateMemory)
		pInfo.ulFreePrivateMemory = C.CK_ULONG(t.FreePrivateMemory)
		pInfo.hardwareVersion = version(t.HardwareVersion)
		pInfo.firmwareVersion = version(t.FirmwareVersion)
		pad(pInfo.utcTime[:], t.UTCTime)
		return C.CKR_OK
	})
}

func getMechanismList(slotID C.CK_SLOT_ID, pMechanismList C.CK_MECHANISM_TYPE_PTR, pulCount C.CK_ULONG_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if pulCount == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		list, err := c.MechanismList(uint64(slotID))
		if err != nil {
			return ckr(err)
		}
		return putList((*C.CK_ULONG)(pMechanismList), pulCount, list)
	})
}

func getMechanismInfo(slotID C.CK_SLOT_ID, mech C.CK_MECHANISM_TYPE, pInfo C.CK_MECHANISM_INFO_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		if pInfo == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		r, err := c.MechanismInfo(uint64(slotID), uint64(mech))
		if err != nil {
			return ckr(err)
		}
		pInfo.ulMinKeySize = C.CK_ULONG(r.MinKeySize)
		pInfo.ulMaxKeySize = C.CK_ULONG(r.MaxKeySize)
		pInfo.flags = C.CK_FLAGS(r.Flags)
		return C.CKR_OK
	})
}

// labelLen is the width of a token label.
const labelLen = 32

func initToken(slotID C.CK_SLOT_ID, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG, pLabel C.CK_UTF8CHAR_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need(pPin != nil)
		pin := a.bytes((*C.CK_BYTE)(pPin), ulPinLen, C.CKR_PIN_LEN_RANGE)
		a.need(pLabel != nil)
		if !a.ok() {
			return a.rv
		}
		label := C.GoBytes(unsafe.Pointer(pLabel), labelLen)
		return ckr(c.InitToken(uint64(slotID), pin, strings.TrimRight(string(label), " ")))
	})
}

func initPIN(hSession C.CK_SESSION_HANDLE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need(pPin != nil)
		pin := a.bytes((*C.CK_BYTE)(pPin), ulPinLen, C.CKR_PIN_LEN_RANGE)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.InitPIN(uint64(hSession), pin))
	})
}

func setPIN(hSession C.CK_SESSION_HANDLE, pOldPin C.CK_UTF8CHAR_PTR, ulOldLen C.CK_ULONG, pNewPin C.CK_UTF8CHAR_PTR, ulNewLen C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need(pOldPin != nil && pNewPin != nil)
		oldPIN := a.bytes((*C.CK_BYTE)(pOldPin), ulOldLen, C.CKR_PIN_LEN_RANGE)
		newPIN := a.bytes((*C.CK_BYTE)(pNewPin), ulNewLen, C.CKR_PIN_LEN_RANGE)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.SetPIN(uint64(hSession), oldPIN, newPIN))
	})
}
