/*
 * stubs.c: the C face of libtep_interface.so.
 *
 * Every PKCS#11 v2.40 function is defined here under its own name. Each
 * one returns at once in a child created by fork() (see fork.c) and
 * otherwise calls the Go thunk of the same name with a tep_ prefix, in
 * exports.go. C_GetFunctionList needs no Go and is answered here.
 *
 * The bodies are static functions and the PKCS#11 names are aliases of
 * them. The function list points at the static functions, so it stays this
 * library's even when the application, or a library loaded before this
 * one, exports functions of the same names: a plain reference to
 * C_Initialize from inside this library would bind to the first definition
 * the dynamic linker finds.
 */

#include <unistd.h>

#include "_cgo_export.h"

#define TEP_EXPORT_ALIAS(name) \
	extern __typeof__(tep_stub_##name) name \
		__attribute__((alias("tep_stub_" #name)));

/*
 * TEP_STUB(name, (parameters), (arguments)) defines tep_stub_name, which
 * calls tep_name in Go, and exports it as name. The compiler checks the
 * parameters against the prototype in pkcs11.h.
 */
#define TEP_STUB(name, params, args) \
	static CK_RV tep_stub_##name params \
	{ \
		if (tep_forked()) \
			return CKR_CRYPTOKI_NOT_INITIALIZED; \
		return tep_##name args; \
	} \
	TEP_EXPORT_ALIAS(name)

/*
 * C_Initialize is the one call a child may reasonably make (PKCS#11
 * expects a forked child to initialise the library again), so it alone
 * says why it fails.
 */
static CK_RV tep_stub_C_Initialize(CK_VOID_PTR pInitArgs)
{
	static const char msg[] = "libtep_interface.so: this PKCS#11 module "
		"cannot be used in a child process after fork() without exec()\n";

	if (tep_forked()) {
		if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
			/* Nothing better to do: the return value says it all. */
		}
		return CKR_GENERAL_ERROR;
	}
	return tep_C_Initialize(pInitArgs);
}
TEP_EXPORT_ALIAS(C_Initialize)

static CK_RV tep_stub_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);
TEP_EXPORT_ALIAS(C_GetFunctionList)

/* General purpose */
TEP_STUB(C_Finalize,
	(CK_VOID_PTR pReserved),
	(pReserved))
TEP_STUB(C_GetInfo,
	(CK_INFO_PTR pInfo),
	(pInfo))
/* Slots and tokens */
TEP_STUB(C_GetSlotList,
	(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
	    CK_ULONG_PTR pulCount),
	(tokenPresent, pSlotList, pulCount))
TEP_STUB(C_GetSlotInfo,
	(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo),
	(slotID, pInfo))
TEP_STUB(C_GetTokenInfo,
	(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo),
	(slotID, pInfo))
TEP_STUB(C_GetMechanismList,
	(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
	    CK_ULONG_PTR pulCount),
	(slotID, pMechanismList, pulCount))
TEP_STUB(C_GetMechanismInfo,
	(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
	    CK_MECHANISM_INFO_PTR pInfo),
	(slotID, type, pInfo))
TEP_STUB(C_InitToken,
	(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
	    CK_UTF8CHAR_PTR pLabel),
	(slotID, pPin, ulPinLen, pLabel))
TEP_STUB(C_InitPIN,
	(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin,
	    CK_ULONG ulPinLen),
	(hSession, pPin, ulPinLen))
TEP_STUB(C_SetPIN,
	(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
	    CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen),
	(hSession, pOldPin, ulOldLen, pNewPin, ulNewLen))
/* Sessions */
TEP_STUB(C_OpenSession,
	(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
	    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession),
	(slotID, flags, pApplication, Notify, phSession))
TEP_STUB(C_CloseSession,
	(CK_SESSION_HANDLE hSession),
	(hSession))
TEP_STUB(C_CloseAllSessions,
	(CK_SLOT_ID slotID),
	(slotID))
TEP_STUB(C_GetSessionInfo,
	(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo),
	(hSession, pInfo))
TEP_STUB(C_GetOperationState,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
	    CK_ULONG_PTR pulOperationStateLen),
	(hSession, pOperationState, pulOperationStateLen))
TEP_STUB(C_SetOperationState,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
	    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
	    CK_OBJECT_HANDLE hAuthenticationKey),
	(hSession, pOperationState, ulOperationStateLen, hEncryptionKey,
	    hAuthenticationKey))
TEP_STUB(C_Login,
	(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
	    CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen),
	(hSession, userType, pPin, ulPinLen))
TEP_STUB(C_Logout,
	(CK_SESSION_HANDLE hSession),
	(hSession))
/* Objects */
TEP_STUB(C_CreateObject,
	(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
	    CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject),
	(hSession, pTemplate, ulCount, phObject))
TEP_STUB(C_CopyObject,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
	    CK_OBJECT_HANDLE_PTR phNewObject),
	(hSession, hObject, pTemplate, ulCount, phNewObject))
TEP_STUB(C_DestroyObject,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject),
	(hSession, hObject))
TEP_STUB(C_GetObjectSize,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	    CK_ULONG_PTR pulSize),
	(hSession, hObject, pulSize))
TEP_STUB(C_GetAttributeValue,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
	(hSession, hObject, pTemplate, ulCount))
TEP_STUB(C_SetAttributeValue,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
	(hSession, hObject, pTemplate, ulCount))
TEP_STUB(C_FindObjectsInit,
	(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
	    CK_ULONG ulCount),
	(hSession, pTemplate, ulCount))
TEP_STUB(C_FindObjects,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
	    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount),
	(hSession, phObject, ulMaxObjectCount, pulObjectCount))
TEP_STUB(C_FindObjectsFinal,
	(CK_SESSION_HANDLE hSession),
	(hSession))
/* Encryption */
TEP_STUB(C_EncryptInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hKey),
	(hSession, pMechanism, hKey))
TEP_STUB(C_Encrypt,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	    CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen),
	(hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen))
TEP_STUB(C_EncryptUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
	    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
	(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen))
TEP_STUB(C_EncryptFinal,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
	    CK_ULONG_PTR pulLastEncryptedPartLen),
	(hSession, pLastEncryptedPart, pulLastEncryptedPartLen))
/* Decryption */
TEP_STUB(C_DecryptInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hKey),
	(hSession, pMechanism, hKey))
TEP_STUB(C_Decrypt,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
	    CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
	    CK_ULONG_PTR pulDataLen),
	(hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen))
TEP_STUB(C_DecryptUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
	    CK_ULONG_PTR pulPartLen),
	(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen))
TEP_STUB(C_DecryptFinal,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
	    CK_ULONG_PTR pulLastPartLen),
	(hSession, pLastPart, pulLastPartLen))
/* Message digests */
TEP_STUB(C_DigestInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism),
	(hSession, pMechanism))
TEP_STUB(C_Digest,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	    CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen),
	(hSession, pData, ulDataLen, pDigest, pulDigestLen))
TEP_STUB(C_DigestUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen),
	(hSession, pPart, ulPartLen))
TEP_STUB(C_DigestKey,
	(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey),
	(hSession, hKey))
TEP_STUB(C_DigestFinal,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
	    CK_ULONG_PTR pulDigestLen),
	(hSession, pDigest, pulDigestLen))
/* Signatures and MACs */
TEP_STUB(C_SignInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hKey),
	(hSession, pMechanism, hKey))
TEP_STUB(C_Sign,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen),
	(hSession, pData, ulDataLen, pSignature, pulSignatureLen))
TEP_STUB(C_SignUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen),
	(hSession, pPart, ulPartLen))
TEP_STUB(C_SignFinal,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	    CK_ULONG_PTR pulSignatureLen),
	(hSession, pSignature, pulSignatureLen))
TEP_STUB(C_SignRecoverInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hKey),
	(hSession, pMechanism, hKey))
TEP_STUB(C_SignRecover,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen),
	(hSession, pData, ulDataLen, pSignature, pulSignatureLen))
/* Verification of signatures and MACs */
TEP_STUB(C_VerifyInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hKey),
	(hSession, pMechanism, hKey))
TEP_STUB(C_Verify,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen),
	(hSession, pData, ulDataLen, pSignature, ulSignatureLen))
TEP_STUB(C_VerifyUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen),
	(hSession, pPart, ulPartLen))
TEP_STUB(C_VerifyFinal,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	    CK_ULONG ulSignatureLen),
	(hSession, pSignature, ulSignatureLen))
TEP_STUB(C_VerifyRecoverInit,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hKey),
	(hSession, pMechanism, hKey))
TEP_STUB(C_VerifyRecover,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen),
	(hSession, pSignature, ulSignatureLen, pData, pulDataLen))
/* Dual-function operations */
TEP_STUB(C_DigestEncryptUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
	    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
	(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen))
TEP_STUB(C_DecryptDigestUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
	    CK_ULONG_PTR pulPartLen),
	(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen))
TEP_STUB(C_SignEncryptUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
	    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
	(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen))
TEP_STUB(C_DecryptVerifyUpdate,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
	    CK_ULONG_PTR pulPartLen),
	(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen))
/* Keys */
TEP_STUB(C_GenerateKey,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
	    CK_OBJECT_HANDLE_PTR phKey),
	(hSession, pMechanism, pTemplate, ulCount, phKey))
TEP_STUB(C_GenerateKeyPair,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_ATTRIBUTE_PTR pPublicKeyTemplate,
	    CK_ULONG ulPublicKeyAttributeCount,
	    CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
	    CK_ULONG ulPrivateKeyAttributeCount,
	    CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey),
	(hSession, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount,
	    pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey,
	    phPrivateKey))
TEP_STUB(C_WrapKey,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
	    CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen),
	(hSession, pMechanism, hWrappingKey, hKey, pWrappedKey,
	    pulWrappedKeyLen))
TEP_STUB(C_UnwrapKey,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
	    CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
	    CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey),
	(hSession, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen,
	    pTemplate, ulAttributeCount, phKey))
TEP_STUB(C_DeriveKey,
	(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	    CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
	    CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey),
	(hSession, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey))
/* Random numbers */
TEP_STUB(C_SeedRandom,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen),
	(hSession, pSeed, ulSeedLen))
TEP_STUB(C_GenerateRandom,
	(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
	    CK_ULONG ulRandomLen),
	(hSession, RandomData, ulRandomLen))
/* Legacy parallel-function management */
TEP_STUB(C_GetFunctionStatus,
	(CK_SESSION_HANDLE hSession),
	(hSession))
TEP_STUB(C_CancelFunction,
	(CK_SESSION_HANDLE hSession),
	(hSession))
/* Slot events */
TEP_STUB(C_WaitForSlotEvent,
	(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved),
	(flags, pSlot, pReserved))

/*
 * The function list, in pkcs11f.h's order. It is const so that it lands in
 * memory that is read-only after relocation: nothing can redirect the
 * pointers. PKCS#11's type has no const, hence the cast below; callers only
 * read through it.
 */
static const CK_FUNCTION_LIST tep_function_list = {
	.version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
#define TEP_LIST_ENTRY(rv, name, params) .name = tep_stub_##name,
	TEP_CK_FUNCTIONS(TEP_LIST_ENTRY)
#undef TEP_LIST_ENTRY
};

static CK_RV tep_stub_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = (CK_FUNCTION_LIST_PTR)&tep_function_list;
	return CKR_OK;
}
