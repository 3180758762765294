/* edgehost: a PKCS#11 application that loads a module with dlopen and
 * runs one case at the edge of the C ABI, for edge_test.go: arguments
 * that must not be touched, counts and lengths past every limit, lengths
 * of 2^32 and more, capacities that do not fit a signed integer. The test
 * runs each case in its own process, so that a crash is a failed case.
 *
 * Usage: edgehost MODULE CASE. It prints "what=value" lines (return
 * values in hex) and exits 0 when the case ran to its end, 2 when it
 * could not set itself up. */
#define _DEFAULT_SOURCE

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host.h"

static void sayn(const char *what, unsigned long n)
{
	printf("%s=%lu\n", what, n);
	fflush(stdout);
}

static void must(const char *what, CK_RV rv)
{
	if (rv != CKR_OK) {
		say(what, rv);
		exit(2);
	}
}

/* noaccess returns a page that faults when read or written: an argument
 * the module must not touch. */
static void *noaccess(void)
{
	void *m = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return m;
}

/* huge maps n bytes that are never touched past the first page, which
 * holds "abcd": a buffer whose length does not fit 32 bits. */
static CK_BYTE_PTR huge(size_t n)
{
	CK_BYTE_PTR m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	memcpy(m, "abcd", 4);
	return m;
}

static CK_SESSION_HANDLE session(void)
{
	CK_SESSION_HANDLE s;
	must("C_Initialize", p->C_Initialize(NULL));
	must("C_OpenSession", p->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	return s;
}

static CK_BBOOL yes = CK_TRUE;

/* ecKey logs in and makes a P-256 key pair for ECDSA. */
static void ec_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pubT[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_VERIFY, &yes, 1}};
	CK_ATTRIBUTE privT[] = {{CKA_SIGN, &yes, 1}};
	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	must("C_GenerateKeyPair", p->C_GenerateKeyPair(s, &gen, pubT, 2, privT, 1, pub, priv));
}

/* before-init: with the module not initialised, every implemented
 * function answers CKR_CRYPTOKI_NOT_INITIALIZED without touching its
 * arguments, which all point at memory that faults. */
static void before_init(void)
{
	void *bad = noaccess();
	CK_ULONG big = (CK_ULONG)1 << 40;
	CK_BYTE_PTR b = bad;
	CK_ULONG_PTR n = bad;
	CK_MECHANISM_PTR m = bad;
	CK_ATTRIBUTE_PTR t = bad;
	CK_OBJECT_HANDLE_PTR h = bad;

	say("C_EncryptInit", p->C_EncryptInit(1, m, 1));
	say("C_DecryptInit", p->C_DecryptInit(1, m, 1));
	say("C_GetInfo", p->C_GetInfo(bad));
	say("C_Finalize", p->C_Finalize(bad));
	say("C_GetSlotList", p->C_GetSlotList(CK_TRUE, bad, n));
	say("C_GetSlotInfo", p->C_GetSlotInfo(1, bad));
	say("C_GetTokenInfo", p->C_GetTokenInfo(1, bad));
	say("C_GetMechanismList", p->C_GetMechanismList(1, bad, n));
	say("C_GetMechanismInfo", p->C_GetMechanismInfo(1, CKM_SHA256, bad));
	say("C_InitToken", p->C_InitToken(1, b, big, b));
	say("C_InitPIN", p->C_InitPIN(1, b, big));
	say("C_SetPIN", p->C_SetPIN(1, b, big, b, big));
	say("C_OpenSession", p->C_OpenSession(1, CKF_SERIAL_SESSION, bad, NULL, h));
	say("C_GetSessionInfo", p->C_GetSessionInfo(1, bad));
	say("C_Login", p->C_Login(1, CKU_USER, b, big));
	say("C_CreateObject", p->C_CreateObject(1, t, big, h));
	say("C_CopyObject", p->C_CopyObject(1, 1, t, big, h));
	say("C_GetObjectSize", p->C_GetObjectSize(1, 1, n));
	say("C_GetAttributeValue", p->C_GetAttributeValue(1, 1, t, big));
	say("C_SetAttributeValue", p->C_SetAttributeValue(1, 1, t, big));
	say("C_FindObjectsInit", p->C_FindObjectsInit(1, t, big));
	say("C_FindObjects", p->C_FindObjects(1, h, big, n));
	say("C_Encrypt", p->C_Encrypt(1, b, big, b, n));
	say("C_EncryptUpdate", p->C_EncryptUpdate(1, b, big, b, n));
	say("C_EncryptFinal", p->C_EncryptFinal(1, b, n));
	say("C_Decrypt", p->C_Decrypt(1, b, big, b, n));
	say("C_DigestInit", p->C_DigestInit(1, m));
	say("C_Digest", p->C_Digest(1, b, big, b, n));
	say("C_DigestUpdate", p->C_DigestUpdate(1, b, big));
	say("C_DigestFinal", p->C_DigestFinal(1, b, n));
	say("C_SignInit", p->C_SignInit(1, m, 1));
	say("C_Sign", p->C_Sign(1, b, big, b, n));
	say("C_SignUpdate", p->C_SignUpdate(1, b, big));
	say("C_SignFinal", p->C_SignFinal(1, b, n));
	say("C_VerifyInit", p->C_VerifyInit(1, m, 1));
	say("C_Verify", p->C_Verify(1, b, big, b, big));
	say("C_VerifyUpdate", p->C_VerifyUpdate(1, b, big));
	say("C_VerifyFinal", p->C_VerifyFinal(1, b, big));
	say("C_GenerateKey", p->C_GenerateKey(1, m, t, big, h));
	say("C_GenerateKeyPair", p->C_GenerateKeyPair(1, m, t, big, t, big, h, h));
	say("C_WrapKey", p->C_WrapKey(1, m, 1, 1, b, n));
	say("C_UnwrapKey", p->C_UnwrapKey(1, m, 1, b, big, t, big, h));
	say("C_SeedRandom", p->C_SeedRandom(1, b, big));
	say("C_GenerateRandom", p->C_GenerateRandom(1, b, big));
	say("C_WaitForSlotEvent", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, bad, bad));
}

/* counts: a 2-entry template passed with a count of 2^40. */
static void counts(const char *which)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, 1}};
	CK_ULONG big = (CK_ULONG)1 << 40;
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s = session();

	if (strcmp(which, "find") == 0)
		say("C_FindObjectsInit", p->C_FindObjectsInit(s, t, big));
	else if (strcmp(which, "create") == 0)
		say("C_CreateObject", p->C_CreateObject(s, t, big, &h));
	else
		say("C_GetAttributeValue", p->C_GetAttributeValue(s, 1, t, big));
}

/* digest LEN: C_Digest over LEN bytes that start with "abcd" and go on
 * with zeros; it prints the digest in hex. */
static void digest(unsigned long len)
{
	CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
	CK_BYTE out[32];
	CK_ULONG n = sizeof out;
	CK_BYTE_PTR data = huge(len);
	CK_SESSION_HANDLE s = session();

	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("C_Digest", p->C_Digest(s, data, len, out, &n));
	printf("digest=");
	for (CK_ULONG i = 0; i < n && i < sizeof out; i++)
		printf("%02x", out[i]);
	printf("\n");
}

/* verify4g: a signature of "abcd" checked against 2^32+4 bytes that
 * start with "abcd". */
static void verify4g(void)
{
	CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE sig[64];
	CK_ULONG n = sizeof sig;
	CK_BYTE_PTR big = huge(((size_t)1 << 32) + 4);
	CK_SESSION_HANDLE s = session();

	ec_key(s, &pub, &priv);
	must("C_SignInit", p->C_SignInit(s, &ecdsa, priv));
	must("C_Sign", p->C_Sign(s, (CK_BYTE_PTR) "abcd", 4, sig, &n));
	must("C_VerifyInit", p->C_VerifyInit(s, &ecdsa, pub));
	say("C_Verify abcd", p->C_Verify(s, (CK_BYTE_PTR) "abcd", 4, sig, n));
	must("C_VerifyInit", p->C_VerifyInit(s, &ecdsa, pub));
	say("C_Verify", p->C_Verify(s, big, ((CK_ULONG)1 << 32) + 4, sig, n));
}

/* slotlist: *pulCount = ULONG_MAX, a capacity beyond any list. */
static void slotlist(void)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = ULONG_MAX;

	must("C_Initialize", p->C_Initialize(NULL));
	say("C_GetSlotList", p->C_GetSlotList(CK_TRUE, slots, &n));
	sayn("count", n);
}

/* find: ulMaxObjectCount = ULONG_MAX finds the one object there is, and
 * a second search finds it again. */
static void find(void)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_UTF8CHAR label[] = "edgehost";
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, label, sizeof label - 1}};
	CK_OBJECT_HANDLE made, found[8];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s = session();

	must("C_CreateObject", p->C_CreateObject(s, t, 2, &made));
	must("C_FindObjectsInit", p->C_FindObjectsInit(s, t, 2));
	say("C_FindObjects", p->C_FindObjects(s, found, ULONG_MAX, &n));
	sayn("found", n);
	sayn("same", n == 1 && found[0] == made);
	must("C_FindObjectsFinal", p->C_FindObjectsFinal(s));
}

/* capacity: *pulDigestLen = 2^63, a capacity that is negative as a
 * signed 64-bit integer, gets the digest written, not a length. */
static void capacity(void)
{
	static const CK_BYTE want[32] = {
		0x88, 0xd4, 0x26, 0x6f, 0xd4, 0xe6, 0x33, 0x8d, 0x13, 0xb8, 0x45, 0xfc, 0xf2, 0x89, 0x57, 0x9d,
		0x20, 0x9c, 0x89, 0x78, 0x23, 0xb9, 0x21, 0x7d, 0xa3, 0xe1, 0x61, 0x93, 0x6f, 0x03, 0x15, 0x89,
	}; /* SHA-256("abcd") */
	CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
	CK_BYTE out[32] = {0};
	CK_ULONG n = (CK_ULONG)1 << 63;
	CK_SESSION_HANDLE s = session();

	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("C_Digest", p->C_Digest(s, (CK_BYTE_PTR) "abcd", 4, out, &n));
	sayn("length", n);
	sayn("digest", memcmp(out, want, sizeof want) == 0);
}

/* random: a length past every limit. */
static void random_len(void)
{
	CK_BYTE buf[16];
	CK_SESSION_HANDLE s = session();

	say("C_GenerateRandom", p->C_GenerateRandom(s, buf, (CK_ULONG)1 << 63));
}

/* update LEN: C_DigestUpdate and C_SignUpdate of LEN bytes, and a C_Verify
 * of LEN-64 bytes and a 64-byte signature: LEN bytes of arguments. */
static void update(unsigned long len)
{
	CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
	CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE_PTR data = huge(len);
	CK_SESSION_HANDLE s = session();

	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("C_DigestUpdate", p->C_DigestUpdate(s, data, len));
	ec_key(s, &pub, &priv);
	must("C_SignInit", p->C_SignInit(s, &ecdsa, priv));
	say("C_SignUpdate", p->C_SignUpdate(s, data, len));
	must("C_VerifyInit", p->C_VerifyInit(s, &ecdsa, pub));
	say("C_Verify", p->C_Verify(s, data, len - 64, data, 64));
}

/* crypt LEN: C_Encrypt and C_Decrypt of LEN bytes with an AES key. */
static void crypt_len(unsigned long len)
{
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_ULONG keyLen = 32;
	CK_ATTRIBUTE t[] = {{CKA_VALUE_LEN, &keyLen, sizeof keyLen}, {CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1}};
	CK_OBJECT_HANDLE key;
	CK_BYTE_PTR data = huge(len);
	CK_ULONG n = len;
	CK_SESSION_HANDLE s = session();

	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	must("C_GenerateKey", p->C_GenerateKey(s, &gen, t, 3, &key));
	must("C_EncryptInit", p->C_EncryptInit(s, &ecb, key));
	say("C_Encrypt", p->C_Encrypt(s, data, len, data, &n));
	must("C_DecryptInit", p->C_DecryptInit(s, &ecb, key));
	n = len;
	say("C_Decrypt", p->C_Decrypt(s, data, len, data, &n));
}

/* session-first: a bad argument on an invalid session reports the
 * session (PKCS#11 checks it first). */
static void session_first(void)
{
	CK_ULONG n;
	CK_SESSION_HANDLE s = session();

	say("C_DigestInit", p->C_DigestInit(s + 1000, NULL));
	say("C_EncryptInit", p->C_EncryptInit(s + 1000, NULL, 1));
	say("C_Digest", p->C_Digest(s + 1000, NULL, 4, NULL, &n));
	say("C_DigestInit valid", p->C_DigestInit(s, NULL));
}

/* arguments: one argument of 2^32+4 bytes of each kind, and a template
 * whose values are each within the limit and together past it. */
static void arguments(void)
{
	CK_ULONG big = ((CK_ULONG)1 << 32) + 4;
	CK_BYTE_PTR b = huge(big);
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE one[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_VALUE, b, big}};
	CK_ULONG half = 20 << 20;
	CK_ATTRIBUTE two[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_VALUE, b, half}, {CKA_LABEL, b, half}};
	CK_MECHANISM mech = {CKM_SHA256, b, big};
	CK_OBJECT_HANDLE h;
	CK_SESSION_INFO info;
	CK_SESSION_HANDLE s = session();

	say("C_CreateObject value", p->C_CreateObject(s, one, 2, &h));
	say("C_CreateObject values", p->C_CreateObject(s, two, 3, &h));
	say("C_DigestInit", p->C_DigestInit(s, &mech));
	say("C_SeedRandom", p->C_SeedRandom(s, b, big));
	say("C_SetPIN", p->C_SetPIN(s, b, big, b, 4));
	say("C_InitPIN", p->C_InitPIN(s, b, big));
	say("C_InitToken", p->C_InitToken(2, b, big, b));
	say("C_Login", p->C_Login(s, CKU_USER, b, big));
	say("C_GetSessionInfo", p->C_GetSessionInfo(s + 1000, NULL));
	say("C_GetSessionInfo valid", p->C_GetSessionInfo(s, &info));
}

/* output: C_Sign of "abcd" into a buffer of CAP bytes followed by a
 * canary, against a server that may misbehave. */
static void output(unsigned long cap)
{
	CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
	CK_BYTE buf[256];
	CK_ULONG n = cap;
	CK_SESSION_HANDLE s = session();

	memset(buf, 0xa5, sizeof buf);
	must("C_SignInit", p->C_SignInit(s, &ecdsa, 1));
	say("C_Sign", p->C_Sign(s, (CK_BYTE_PTR) "abcd", 4, buf, &n));
	sayn("length", n);
	size_t i;
	for (i = cap; i < sizeof buf && buf[i] == 0xa5; i++)
		;
	sayn("canary", i == sizeof buf);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: edgehost MODULE CASE [ARG]\n");
		return 2;
	}
	load(argv[1]);
	const char *c = argv[2];
	unsigned long arg = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	if (strcmp(c, "before-init") == 0)
		before_init();
	else if (strncmp(c, "count-", 6) == 0)
		counts(c + 6);
	else if (strcmp(c, "digest") == 0)
		digest(arg);
	else if (strcmp(c, "verify-4g") == 0)
		verify4g();
	else if (strcmp(c, "slotlist-max") == 0)
		slotlist();
	else if (strcmp(c, "find-max") == 0)
		find();
	else if (strcmp(c, "capacity") == 0)
		capacity();
	else if (strcmp(c, "random-huge") == 0)
		random_len();
	else if (strcmp(c, "update") == 0)
		update(arg);
	else if (strcmp(c, "crypt") == 0)
		crypt_len(arg);
	else if (strcmp(c, "session-first") == 0)
		session_first();
	else if (strcmp(c, "arguments") == 0)
		arguments();
	else if (strcmp(c, "output") == 0)
		output(arg);
	else {
		fprintf(stderr, "edgehost: no case %s\n", c);
		return 2;
	}
	printf("end=1\n");
	return 0;
}
