/*
 * pkcs11.h: TEP's PKCS#11 v2.40 header, for applications and for the TEP
 * provider itself.
 *
 * The platform conventions are those of Unix: plain pointers, no calling
 * convention keywords and the compiler's natural structure layout (no
 * packing), so CK_ULONG is an unsigned long. Each convention macro is
 * defined only when the includer has not defined it first.
 */

#ifndef TEP_PKCS11_H
#define TEP_PKCS11_H 1

#ifdef __cplusplus
extern "C" {
#endif

#ifndef CK_PTR
#define CK_PTR *
#endif

#ifndef CK_DECLARE_FUNCTION
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#endif

#ifndef CK_DECLARE_FUNCTION_POINTER
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (* name)
#endif

#ifndef CK_CALLBACK_FUNCTION
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (* name)
#endif

/* For a module's own definitions of the functions. */
#ifndef CK_DEFINE_FUNCTION
#define CK_DEFINE_FUNCTION(returnType, name) returnType name
#endif

#ifndef NULL_PTR
#define NULL_PTR 0
#endif

#include "pkcs11t.h"
#include "pkcs11f.h"

/* CK_DECLARE_FUNCTION(CK_RV, C_Initialize)(CK_VOID_PTR pInitArgs); ... */
#define TEP_CK_PROTOTYPE(rv, name, params) \
	extern CK_DECLARE_FUNCTION(rv, name) params;
TEP_CK_FUNCTIONS(TEP_CK_PROTOTYPE)
#undef TEP_CK_PROTOTYPE

/* typedef CK_RV (*CK_C_Initialize)(CK_VOID_PTR pInitArgs); ... */
#define TEP_CK_POINTER_TYPE(rv, name, params) \
	typedef CK_DECLARE_FUNCTION_POINTER(rv, CK_##name) params;
TEP_CK_FUNCTIONS(TEP_CK_POINTER_TYPE)
#undef TEP_CK_POINTER_TYPE

/* The version of the interface, then one pointer per function. */
struct CK_FUNCTION_LIST {
	CK_VERSION version;
#define TEP_CK_MEMBER(rv, name, params) CK_##name name;
	TEP_CK_FUNCTIONS(TEP_CK_MEMBER)
#undef TEP_CK_MEMBER
};

#ifdef __cplusplus
}
#endif

#endif /* TEP_PKCS11_H */
