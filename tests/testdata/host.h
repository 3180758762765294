/* host.h: what every C host of the end-to-end tests shares. A host loads
 * the module with dlopen, like any PKCS#11 application, and prints
 * "what=0xCKR" lines that the Go tests read. Included by exactly one
 * source file of each host, so its definitions are static. */
#ifndef TEP_TEST_HOST_H
#define TEP_TEST_HOST_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "pkcs11.h"

/* p is the module's function list, set by load. */
static CK_FUNCTION_LIST_PTR p;

/* load opens the module at path and takes its function list, or exits 2. */
static void load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
	if (!get || get(&p) != CKR_OK) {
		fprintf(stderr, "loading %s: %s\n", path, h ? "no C_GetFunctionList" : dlerror());
		exit(2);
	}
}

/* say prints one result line and flushes it, so that a crash after it
 * still leaves it for the test to read. */
static void say(const char *what, CK_RV rv)
{
	printf("%s=0x%lx\n", what, (unsigned long)rv);
	fflush(stdout);
}

#endif
