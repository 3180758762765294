package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"

// fork.c
int tep_forked(void);
void tep_set_port_fd(int fd);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
)

// This file holds one thunk per PKCS#11 v2.40 function, in the order of
// c_headers/pkcs11f.h. stubs.c defines the C function C_Xxx, which calls the
// thunk tep_C_Xxx unless the process is a forked child. Arguments keep their
// C types here and nowhere else.
//
// Every thunk defers guard first. The bodies answer CKR_FUNCTION_NOT_SUPPORTED
// until each function is implemented.

// ckrGeneralError is what a thunk returns after a panic.
const ckrGeneralError = C.CKR_GENERAL_ERROR

// guard turns a panic in the thunk for function into CKR_GENERAL_ERROR in
// *rv and a report on stderr: a Go panic must never unwind into, or kill,
// the application that loaded the module. Call it as the thunk's first
// deferred function: defer guard(&rv, "C_Sign").
func guard[RV ~uint32 | ~uint64](rv *RV, function string) {
	if r := recover(); r != nil {
		*rv = ckrGeneralError
		fmt.Fprintf(os.Stderr, "libtep_interface.so: panic in %s: %v\n%s", function, r, debug.Stack())
	}
}

// General purpose

//export tep_C_Initialize
func tep_C_Initialize(pInitArgs C.CK_VOID_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_Initialize")
	return initialize(pInitArgs)
}

//export tep_C_Finalize
func tep_C_Finalize(pReserved C.CK_VOID_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_Finalize")
	return finalize(pReserved)
}

//export tep_C_GetInfo
func tep_C_GetInfo(pInfo C.CK_INFO_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetInfo")
	return getInfo(pInfo)
}

// C_GetFunctionList is answered in C by stubs.c.

// Slots and tokens

//export tep_C_GetSlotList
func tep_C_GetSlotList(tokenPresent C.CK_BBOOL, pSlotList C.CK_SLOT_ID_PTR, pulCount C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetSlotList")
	return getSlotList(tokenPresent, pSlotList, pulCount)
}

//export tep_C_GetSlotInfo
func tep_C_GetSlotInfo(slotID C.CK_SLOT_ID, pInfo C.CK_SLOT_INFO_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetSlotInfo")
	return getSlotInfo(slotID, pInfo)
}

//export tep_C_GetTokenInfo
func tep_C_GetTokenInfo(slotID C.CK_SLOT_ID, pInfo C.CK_TOKEN_INFO_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetTokenInfo")
	return getTokenInfo(slotID, pInfo)
}

//export tep_C_GetMechanismList
func tep_C_GetMechanismList(slotID C.CK_SLOT_ID, pMechanismList C.CK_MECHANISM_TYPE_PTR, pulCount C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetMechanismList")
	return getMechanismList(slotID, pMechanismList, pulCount)
}

//export tep_C_GetMechanismInfo
func tep_C_GetMechanismInfo(slotID C.CK_SLOT_ID, mechanismType C.CK_MECHANISM_TYPE, pInfo C.CK_MECHANISM_INFO_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetMechanismInfo")
	return getMechanismInfo(slotID, mechanismType, pInfo)
}

//export tep_C_InitToken
func tep_C_InitToken(slotID C.CK_SLOT_ID, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG, pLabel C.CK_UTF8CHAR_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_InitToken")
	return initToken(slotID, pPin, ulPinLen, pLabel)
}

//export tep_C_InitPIN
func tep_C_InitPIN(hSession C.CK_SESSION_HANDLE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_InitPIN")
	return initPIN(hSession, pPin, ulPinLen)
}

//export tep_C_SetPIN
func tep_C_SetPIN(hSession C.CK_SESSION_HANDLE, pOldPin C.CK_UTF8CHAR_PTR, ulOldLen C.CK_ULONG, pNewPin C.CK_UTF8CHAR_PTR, ulNewLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_SetPIN")
	return setPIN(hSession, pOldPin, ulOldLen, pNewPin, ulNewLen)
}

// Sessions

//export tep_C_OpenSession
func tep_C_OpenSession(slotID C.CK_SLOT_ID, flags C.CK_FLAGS, pApplication C.CK_VOID_PTR, Notify C.CK_NOTIFY, phSession C.CK_SESSION_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_OpenSession")
	return openSession(slotID, flags, phSession)
}

//export tep_C_CloseSession
func tep_C_CloseSession(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_CloseSession")
	return closeSession(hSession)
}

//export tep_C_CloseAllSessions
func tep_C_CloseAllSessions(slotID C.CK_SLOT_ID) (rv C.CK_RV) {
	defer guard(&rv, "C_CloseAllSessions")
	return closeAllSessions(slotID)
}

//export tep_C_GetSessionInfo
func tep_C_GetSessionInfo(hSession C.CK_SESSION_HANDLE, pInfo C.CK_SESSION_INFO_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetSessionInfo")
	return getSessionInfo(hSession, pInfo)
}

//export tep_C_GetOperationState
func tep_C_GetOperationState(hSession C.CK_SESSION_HANDLE, pOperationState C.CK_BYTE_PTR, pulOperationStateLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetOperationState")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_SetOperationState
func tep_C_SetOperationState(hSession C.CK_SESSION_HANDLE, pOperationState C.CK_BYTE_PTR, ulOperationStateLen C.CK_ULONG, hEncryptionKey C.CK_OBJECT_HANDLE, hAuthenticationKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_SetOperationState")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_Login
func tep_C_Login(hSession C.CK_SESSION_HANDLE, userType C.CK_USER_TYPE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_Login")
	return login(hSession, userType, pPin, ulPinLen)
}

//export tep_C_Logout
func tep_C_Logout(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_Logout")
	return logout(hSession)
}

// Objects

//export tep_C_CreateObject
func tep_C_CreateObject(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phObject C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_CreateObject")
	return createObject(hSession, pTemplate, ulCount, phObject)
}

//export tep_C_CopyObject
func tep_C_CopyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phNewObject C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_CopyObject")
	return copyObject(hSession, hObject, pTemplate, ulCount, phNewObject)
}

//export tep_C_DestroyObject
func tep_C_DestroyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_DestroyObject")
	return destroyObject(hSession, hObject)
}

//export tep_C_GetObjectSize
func tep_C_GetObjectSize(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pulSize C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GetObjectSize")
	return getObjectSize(hSession, hObject, pulSize)
}

//export tep_C_GetAttributeValue
func tep_C_GetAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_GetAttributeValue")
	return getAttributeValue(hSession, hObject, pTemplate, ulCount)
}

//export tep_C_SetAttributeValue
func tep_C_SetAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_SetAttributeValue")
	return setAttributeValue(hSession, hObject, pTemplate, ulCount)
}

//export tep_C_FindObjectsInit
func tep_C_FindObjectsInit(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_FindObjectsInit")
	return findObjectsInit(hSession, pTemplate, ulCount)
}

//export tep_C_FindObjects
func tep_C_FindObjects(hSession C.CK_SESSION_HANDLE, phObject C.CK_OBJECT_HANDLE_PTR, ulMaxObjectCount C.CK_ULONG, pulObjectCount C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_FindObjects")
	return findObjects(hSession, phObject, ulMaxObjectCount, pulObjectCount)
}

//export tep_C_FindObjectsFinal
func tep_C_FindObjectsFinal(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_FindObjectsFinal")
	return findObjectsFinal(hSession)
}

// Encryption

//export tep_C_EncryptInit
func tep_C_EncryptInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_EncryptInit")
	return cryptInit(false, hSession, pMechanism, hKey)
}

//export tep_C_Encrypt
func tep_C_Encrypt(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pEncryptedData C.CK_BYTE_PTR, pulEncryptedDataLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_Encrypt")
	return crypt(false, 0, hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen)
}

//export tep_C_EncryptUpdate
func tep_C_EncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_EncryptUpdate")
	return crypt(false, 1, hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
}

//export tep_C_EncryptFinal
func tep_C_EncryptFinal(hSession C.CK_SESSION_HANDLE, pLastEncryptedPart C.CK_BYTE_PTR, pulLastEncryptedPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_EncryptFinal")
	return crypt(false, 2, hSession, nil, 0, pLastEncryptedPart, pulLastEncryptedPartLen)
}

// Decryption

//export tep_C_DecryptInit
func tep_C_DecryptInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_DecryptInit")
	return cryptInit(true, hSession, pMechanism, hKey)
}

//export tep_C_Decrypt
func tep_C_Decrypt(hSession C.CK_SESSION_HANDLE, pEncryptedData C.CK_BYTE_PTR, ulEncryptedDataLen C.CK_ULONG, pData C.CK_BYTE_PTR, pulDataLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_Decrypt")
	return crypt(true, 0, hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen)
}

//export tep_C_DecryptUpdate
func tep_C_DecryptUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DecryptUpdate")
	return crypt(true, 1, hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
}

//export tep_C_DecryptFinal
func tep_C_DecryptFinal(hSession C.CK_SESSION_HANDLE, pLastPart C.CK_BYTE_PTR, pulLastPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DecryptFinal")
	return crypt(true, 2, hSession, nil, 0, pLastPart, pulLastPartLen)
}

// Message digests

//export tep_C_DigestInit
func tep_C_DigestInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DigestInit")
	return digestInit(hSession, pMechanism)
}

//export tep_C_Digest
func tep_C_Digest(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_Digest")
	return digest(hSession, pData, ulDataLen, pDigest, pulDigestLen)
}

//export tep_C_DigestUpdate
func tep_C_DigestUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_DigestUpdate")
	return digestUpdate(hSession, pPart, ulPartLen)
}

//export tep_C_DigestKey
func tep_C_DigestKey(hSession C.CK_SESSION_HANDLE, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_DigestKey")
	return digestKey(hSession, hKey)
}

//export tep_C_DigestFinal
func tep_C_DigestFinal(hSession C.CK_SESSION_HANDLE, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DigestFinal")
	return digestFinal(hSession, pDigest, pulDigestLen)
}

// Signatures and MACs

//export tep_C_SignInit
func tep_C_SignInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_SignInit")
	return signInit(hSession, pMechanism, hKey)
}

//export tep_C_Sign
func tep_C_Sign(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_Sign")
	return sign(hSession, pData, ulDataLen, pSignature, pulSignatureLen)
}

//export tep_C_SignUpdate
func tep_C_SignUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_SignUpdate")
	return signUpdate(hSession, pPart, ulPartLen)
}

//export tep_C_SignFinal
func tep_C_SignFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_SignFinal")
	return signFinal(hSession, pSignature, pulSignatureLen)
}

//export tep_C_SignRecoverInit
func tep_C_SignRecoverInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_SignRecoverInit")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_SignRecover
func tep_C_SignRecover(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_SignRecover")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

// Verification of signatures and MACs

//export tep_C_VerifyInit
func tep_C_VerifyInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_VerifyInit")
	return verifyInit(hSession, pMechanism, hKey)
}

//export tep_C_Verify
func tep_C_Verify(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_Verify")
	return verify(hSession, pData, ulDataLen, pSignature, ulSignatureLen)
}

//export tep_C_VerifyUpdate
func tep_C_VerifyUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_VerifyUpdate")
	return verifyUpdate(hSession, pPart, ulPartLen)
}

//export tep_C_VerifyFinal
func tep_C_VerifyFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_VerifyFinal")
	return verifyFinal(hSession, pSignature, ulSignatureLen)
}

//export tep_C_VerifyRecoverInit
func tep_C_VerifyRecoverInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_VerifyRecoverInit")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_VerifyRecover
func tep_C_VerifyRecover(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG, pData C.CK_BYTE_PTR, pulDataLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_VerifyRecover")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

// Dual-function operations

//export tep_C_DigestEncryptUpdate
func tep_C_DigestEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DigestEncryptUpdate")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_DecryptDigestUpdate
func tep_C_DecryptDigestUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DecryptDigestUpdate")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_SignEncryptUpdate
func tep_C_SignEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_SignEncryptUpdate")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

//export tep_C_DecryptVerifyUpdate
func tep_C_DecryptVerifyUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DecryptVerifyUpdate")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

// Keys

//export tep_C_GenerateKey
func tep_C_GenerateKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GenerateKey")
	return generateKey(hSession, pMechanism, pTemplate, ulCount, phKey)
}

//export tep_C_GenerateKeyPair
func tep_C_GenerateKeyPair(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pPublicKeyTemplate C.CK_ATTRIBUTE_PTR, ulPublicKeyAttributeCount C.CK_ULONG, pPrivateKeyTemplate C.CK_ATTRIBUTE_PTR, ulPrivateKeyAttributeCount C.CK_ULONG, phPublicKey C.CK_OBJECT_HANDLE_PTR, phPrivateKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_GenerateKeyPair")
	return generateKeyPair(hSession, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount, pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey)
}

//export tep_C_WrapKey
func tep_C_WrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hWrappingKey C.CK_OBJECT_HANDLE, hKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, pulWrappedKeyLen C.CK_ULONG_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_WrapKey")
	return wrapKey(hSession, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen)
}

//export tep_C_UnwrapKey
func tep_C_UnwrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hUnwrappingKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, ulWrappedKeyLen C.CK_ULONG, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_UnwrapKey")
	return unwrapKey(hSession, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey)
}

//export tep_C_DeriveKey
func tep_C_DeriveKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hBaseKey C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_DeriveKey")
	return C.CKR_FUNCTION_NOT_SUPPORTED
}

// Random numbers

//export tep_C_SeedRandom
func tep_C_SeedRandom(hSession C.CK_SESSION_HANDLE, pSeed C.CK_BYTE_PTR, ulSeedLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_SeedRandom")
	return seedRandom(hSession, pSeed, ulSeedLen)
}

//export tep_C_GenerateRandom
func tep_C_GenerateRandom(hSession C.CK_SESSION_HANDLE, RandomData C.CK_BYTE_PTR, ulRandomLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv, "C_GenerateRandom")
	return generateRandom(hSession, RandomData, ulRandomLen)
}

// Legacy parallel-function management

//export tep_C_GetFunctionStatus
func tep_C_GetFunctionStatus(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_GetFunctionStatus")
	return legacyParallel()
}

//export tep_C_CancelFunction
func tep_C_CancelFunction(hSession C.CK_SESSION_HANDLE) (rv C.CK_RV) {
	defer guard(&rv, "C_CancelFunction")
	return legacyParallel()
}

// Slot events

//export tep_C_WaitForSlotEvent
func tep_C_WaitForSlotEvent(flags C.CK_FLAGS, pSlot C.CK_SLOT_ID_PTR, pReserved C.CK_VOID_PTR) (rv C.CK_RV) {
	defer guard(&rv, "C_WaitForSlotEvent")
	return waitForSlotEvent(flags, pSlot, pReserved)
}
