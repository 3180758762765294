/*
 * loader.c: loads libtep_interface.so the way a PKCS#11 application does
 * and checks one property of it, for provider_test.go.
 *
 * Usage: loader LIBRARY CHECK, where CHECK is one of
 *   list   C_GetFunctionList gives version 2.40 and all 68 functions, each
 *          the library's own exported symbol; a NULL argument is rejected
 *   calls  every function returns, without crashing, when called before
 *          C_Initialize with empty arguments, and C_Initialize, C_GetInfo
 *          and C_Finalize return codes that are valid at this stage
 *   fork   in a child made by fork() without exec(), C_Initialize fails
 *          with CKR_GENERAL_ERROR and C_GetInfo with
 *          CKR_CRYPTOKI_NOT_INITIALIZED, within a second, and the port
 *          descriptor is closed in the child only
 *
 * It prints what it sees, "FAIL: ..." for each failed expectation, and
 * exits 0 only if there was none.
 */

#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"

static int failures;

static void fail(const char *what, CK_RV got)
{
	printf("FAIL: %s (rv 0x%lx)\n", what, got);
	failures++;
}

static CK_FUNCTION_LIST_PTR load(const char *path, void **handle)
{
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR list = NULL_PTR;
	CK_RV rv;

	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (*handle == NULL) {
		printf("FAIL: dlopen: %s\n", dlerror());
		return NULL_PTR;
	}
	*(void **)&get = dlsym(*handle, "C_GetFunctionList");
	if (get == NULL) {
		printf("FAIL: no C_GetFunctionList: %s\n", dlerror());
		return NULL_PTR;
	}
	rv = get(&list);
	if (rv != CKR_OK || list == NULL_PTR) {
		fail("C_GetFunctionList(&list)", rv);
		return NULL_PTR;
	}
	return list;
}

static void check_list(void *handle, CK_FUNCTION_LIST_PTR list)
{
	CK_FUNCTION_LIST_PTR again = NULL_PTR;
	CK_RV rv;
	int n = 0;

	printf("version %d.%d\n", list->version.major, list->version.minor);
	if (list->version.major != 2 || list->version.minor != 40)
		fail("version is not 2.40", 0);

	/* Each entry must be set and be the library's exported function. */
#define CHECK_ENTRY(ret, name, params) \
	n++; \
	if (list->name == NULL_PTR) \
		fail(#name " is NULL", 0); \
	else if ((void *)list->name != dlsym(handle, #name)) \
		fail(#name " is not the exported " #name, 0);
	TEP_CK_FUNCTIONS(CHECK_ENTRY)
#undef CHECK_ENTRY
	printf("%d entries\n", n);
	if (n != 68)
		fail("the list does not have 68 entries", 0);

	rv = list->C_GetFunctionList(NULL_PTR);
	printf("C_GetFunctionList(NULL) = 0x%lx\n", rv);
	if (rv != CKR_ARGUMENTS_BAD)
		fail("C_GetFunctionList(NULL) is not CKR_ARGUMENTS_BAD", rv);
	rv = list->C_GetFunctionList(&again);
	if (rv != CKR_OK || again != list)
		fail("C_GetFunctionList through the list gives another list", rv);
}

#define CALL(name, args) \
	printf("%s = 0x%lx\n", #name, list->name args)

/* Empty arguments everywhere; a correct module answers with an error. */
static void call_everything(CK_FUNCTION_LIST_PTR list)
{
	CALL(C_Finalize, (NULL_PTR));
	CALL(C_GetInfo, (NULL_PTR));
	CALL(C_GetSlotList, (CK_FALSE, NULL_PTR, NULL_PTR));
	CALL(C_GetSlotInfo, (0, NULL_PTR));
	CALL(C_GetTokenInfo, (0, NULL_PTR));
	CALL(C_GetMechanismList, (0, NULL_PTR, NULL_PTR));
	CALL(C_GetMechanismInfo, (0, 0, NULL_PTR));
	CALL(C_InitToken, (0, NULL_PTR, 0, NULL_PTR));
	CALL(C_InitPIN, (0, NULL_PTR, 0));
	CALL(C_SetPIN, (0, NULL_PTR, 0, NULL_PTR, 0));
	CALL(C_OpenSession, (0, 0, NULL_PTR, NULL_PTR, NULL_PTR));
	CALL(C_CloseSession, (0));
	CALL(C_CloseAllSessions, (0));
	CALL(C_GetSessionInfo, (0, NULL_PTR));
	CALL(C_GetOperationState, (0, NULL_PTR, NULL_PTR));
	CALL(C_SetOperationState, (0, NULL_PTR, 0, 0, 0));
	CALL(C_Login, (0, CKU_USER, NULL_PTR, 0));
	CALL(C_Logout, (0));
	CALL(C_CreateObject, (0, NULL_PTR, 0, NULL_PTR));
	CALL(C_CopyObject, (0, 0, NULL_PTR, 0, NULL_PTR));
	CALL(C_DestroyObject, (0, 0));
	CALL(C_GetObjectSize, (0, 0, NULL_PTR));
	CALL(C_GetAttributeValue, (0, 0, NULL_PTR, 0));
	CALL(C_SetAttributeValue, (0, 0, NULL_PTR, 0));
	CALL(C_FindObjectsInit, (0, NULL_PTR, 0));
	CALL(C_FindObjects, (0, NULL_PTR, 0, NULL_PTR));
	CALL(C_FindObjectsFinal, (0));
	CALL(C_EncryptInit, (0, NULL_PTR, 0));
	CALL(C_Encrypt, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_EncryptUpdate, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_EncryptFinal, (0, NULL_PTR, NULL_PTR));
	CALL(C_DecryptInit, (0, NULL_PTR, 0));
	CALL(C_Decrypt, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_DecryptUpdate, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_DecryptFinal, (0, NULL_PTR, NULL_PTR));
	CALL(C_DigestInit, (0, NULL_PTR));
	CALL(C_Digest, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_DigestUpdate, (0, NULL_PTR, 0));
	CALL(C_DigestKey, (0, 0));
	CALL(C_DigestFinal, (0, NULL_PTR, NULL_PTR));
	CALL(C_SignInit, (0, NULL_PTR, 0));
	CALL(C_Sign, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_SignUpdate, (0, NULL_PTR, 0));
	CALL(C_SignFinal, (0, NULL_PTR, NULL_PTR));
	CALL(C_SignRecoverInit, (0, NULL_PTR, 0));
	CALL(C_SignRecover, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_VerifyInit, (0, NULL_PTR, 0));
	CALL(C_Verify, (0, NULL_PTR, 0, NULL_PTR, 0));
	CALL(C_VerifyUpdate, (0, NULL_PTR, 0));
	CALL(C_VerifyFinal, (0, NULL_PTR, 0));
	CALL(C_VerifyRecoverInit, (0, NULL_PTR, 0));
	CALL(C_VerifyRecover, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_DigestEncryptUpdate, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_DecryptDigestUpdate, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_SignEncryptUpdate, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_DecryptVerifyUpdate, (0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_GenerateKey, (0, NULL_PTR, NULL_PTR, 0, NULL_PTR));
	CALL(C_GenerateKeyPair,
	    (0, NULL_PTR, NULL_PTR, 0, NULL_PTR, 0, NULL_PTR, NULL_PTR));
	CALL(C_WrapKey, (0, NULL_PTR, 0, 0, NULL_PTR, NULL_PTR));
	CALL(C_UnwrapKey, (0, NULL_PTR, 0, NULL_PTR, 0, NULL_PTR, 0, NULL_PTR));
	CALL(C_DeriveKey, (0, NULL_PTR, 0, NULL_PTR, 0, NULL_PTR));
	CALL(C_SeedRandom, (0, NULL_PTR, 0));
	CALL(C_GenerateRandom, (0, NULL_PTR, 0));
	CALL(C_GetFunctionStatus, (0));
	CALL(C_CancelFunction, (0));
	/* Blocking would hang the test once slot events are implemented. */
	CALL(C_WaitForSlotEvent, (CKF_DONT_BLOCK, NULL_PTR, NULL_PTR));
}

static void check_calls(CK_FUNCTION_LIST_PTR list)
{
	CK_INFO info;
	CK_RV rv;

	call_everything(list);

	/* Without a server C_Initialize may fail; it must not crash. */
	rv = list->C_Initialize(NULL_PTR);
	printf("C_Initialize(NULL) = 0x%lx\n", rv);
	memset(&info, 0, sizeof info);
	rv = list->C_GetInfo(&info);
	printf("C_GetInfo = 0x%lx\n", rv);
	switch (rv) {
	case CKR_OK:
		if (info.cryptokiVersion.major != 2)
			fail("C_GetInfo gives a Cryptoki version other than 2.x", rv);
		break;
	case CKR_FUNCTION_NOT_SUPPORTED:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		break;
	default:
		fail("C_GetInfo returns an unexpected code", rv);
	}
	rv = list->C_Finalize(NULL_PTR);
	printf("C_Finalize = 0x%lx\n", rv);
}

/* What the child checks; its exit status is its number of failures. That
 * the child does not inherit the port is checked end to end, with a real
 * port, by tests/fork_test.go. */
static int in_child(CK_FUNCTION_LIST_PTR list)
{
	CK_INFO info;
	CK_RV rv;

	alarm(2); /* a hang becomes SIGALRM, should the parent miss it */
	rv = list->C_Initialize(NULL_PTR);
	printf("child: C_Initialize = 0x%lx\n", rv);
	if (rv != CKR_GENERAL_ERROR)
		fail("child: C_Initialize is not CKR_GENERAL_ERROR", rv);
	rv = list->C_GetInfo(&info);
	printf("child: C_GetInfo = 0x%lx\n", rv);
	if (rv != CKR_CRYPTOKI_NOT_INITIALIZED)
		fail("child: C_GetInfo is not CKR_CRYPTOKI_NOT_INITIALIZED", rv);
	fflush(stdout);
	return failures;
}

static void check_fork(CK_FUNCTION_LIST_PTR list)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	CK_INFO info;
	CK_RV before, after;
	int status, i;
	pid_t pid, done = 0;

	/* Enter Go before forking, as an application would. */
	before = list->C_GetInfo(&info);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		failures++;
		return;
	}
	if (pid == 0)
		_exit(in_child(list));

	for (i = 0; i < 100 && done == 0; i++) {
		done = waitpid(pid, &status, WNOHANG);
		if (done == 0)
			nanosleep(&tick, NULL);
	}
	if (done == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail("the child did not finish within a second", 0);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail("the child's checks failed or it crashed", (CK_RV)status);
	}

	/* The parent is unaffected: same answer as before. */
	after = list->C_GetInfo(&info);
	if (after != before)
		fail("parent: C_GetInfo changed after fork", after);
}

int main(int argc, char **argv)
{
	CK_FUNCTION_LIST_PTR list;
	void *handle;

	if (argc != 3) {
		fprintf(stderr, "usage: %s LIBRARY list|calls|fork\n", argv[0]);
		return 2;
	}
	list = load(argv[1], &handle);
	if (list == NULL_PTR)
		return 1;
	if (strcmp(argv[2], "list") == 0)
		check_list(handle, list);
	else if (strcmp(argv[2], "calls") == 0)
		check_calls(list);
	else if (strcmp(argv[2], "fork") == 0)
		check_fork(list);
	else {
		fprintf(stderr, "unknown check %s\n", argv[2]);
		return 2;
	}
	printf("%s\n", failures == 0 ? "PASS" : "FAIL");
	return failures == 0 ? 0 : 1;
}
