/* A PKCS#11 application for the end-to-end tests: it loads a module with
 * dlopen, like any application, and runs one scenario given on the command
 * line, printing "what=CKR" lines that the Go test reads. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"

static CK_RV must(const char *what, CK_RV rv) {
	if (rv != CKR_OK) {
		say(what, rv);
		exit(1);
	}
	return rv;
}

static CK_SESSION_HANDLE open_session(CK_SLOT_ID slot) {
	CK_SESSION_HANDLE s;
	must("C_OpenSession", p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	return s;
}

/* loop N: N random draws and session queries in one session. */
static int loop(long n) {
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	CK_BYTE buf[32];
	CK_SESSION_INFO info;
	for (long i = 0; i < n; i++) {
		must("C_GenerateRandom", p->C_GenerateRandom(s, buf, sizeof buf));
		must("C_GetSessionInfo", p->C_GetSessionInfo(s, &info));
	}
	must("C_Finalize", p->C_Finalize(NULL));
	say("loop", CKR_OK);
	return 0;
}

/* edge: bad arguments of every kind to every implemented function. */
static int edge(void) {
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO ssi;
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0;
	CK_SLOT_ID slots[8];
	CK_BYTE buf[64];
	CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
	CK_UTF8CHAR label[32];
	memset(label, ' ', sizeof label);

	say("GetInfo before init", p->C_GetInfo(&info));
	say("GetSlotList before init", p->C_GetSlotList(CK_TRUE, NULL, &n));
	say("Finalize before init", p->C_Finalize(NULL));
	CK_C_INITIALIZE_ARGS bad = {0};
	bad.pReserved = &n;
	say("Initialize reserved", p->C_Initialize(&bad));
	CK_C_INITIALIZE_ARGS cant = {0};
	cant.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	say("Initialize no threads", p->C_Initialize(&cant));
	say("Finalize after no threads", p->C_Finalize(NULL));
	CK_C_INITIALIZE_ARGS os = {0};
	os.flags = CKF_OS_LOCKING_OK;
	say("Initialize", p->C_Initialize(&os));
	say("Initialize again", p->C_Initialize(NULL));
	say("Finalize reserved", p->C_Finalize(&n));

	say("GetInfo NULL", p->C_GetInfo(NULL));
	say("GetSlotList NULL count", p->C_GetSlotList(CK_TRUE, slots, NULL));
	say("GetSlotList count", p->C_GetSlotList(CK_TRUE, NULL, &n));
	printf("slots=%lu\n", (unsigned long)n);
	n = 1;
	say("GetSlotList short", p->C_GetSlotList(CK_TRUE, slots, &n));
	printf("slots needed=%lu\n", (unsigned long)n);
	say("GetSlotInfo NULL", p->C_GetSlotInfo(1, NULL));
	say("GetSlotInfo bad slot", p->C_GetSlotInfo(99, &si));
	say("GetTokenInfo NULL", p->C_GetTokenInfo(1, NULL));
	say("GetTokenInfo bad slot", p->C_GetTokenInfo(99, &ti));
	say("GetMechanismList NULL count", p->C_GetMechanismList(1, NULL, NULL));
	n = 0;
	say("GetMechanismList short", p->C_GetMechanismList(1, (CK_MECHANISM_TYPE_PTR)slots, &n));
	say("GetMechanismInfo NULL", p->C_GetMechanismInfo(1, CKM_SHA256, NULL));
	say("GetMechanismInfo bad mechanism", p->C_GetMechanismInfo(1, 0x7fffff, &mi));
	say("InitToken NULL label", p->C_InitToken(2, (CK_UTF8CHAR_PTR) "12345678", 8, NULL));
	say("InitToken NULL PIN", p->C_InitToken(2, NULL, 8, label));
	say("OpenSession NULL", p->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, NULL));
	say("OpenSession bad slot", p->C_OpenSession(99, CKF_SERIAL_SESSION, NULL, NULL, (CK_SESSION_HANDLE_PTR)&n));
	CK_SESSION_HANDLE s = open_session(1);
	CK_SESSION_HANDLE bogus = s + 1000;
	say("GetSessionInfo NULL", p->C_GetSessionInfo(s, NULL));
	say("GetSessionInfo bad handle", p->C_GetSessionInfo(bogus, &ssi));
	say("CloseSession bad handle", p->C_CloseSession(bogus));
	say("CloseAllSessions bad slot", p->C_CloseAllSessions(99));
	say("Login NULL PIN", p->C_Login(s, CKU_USER, NULL, 4));
	say("Login bad handle", p->C_Login(bogus, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	say("Login bad user type", p->C_Login(s, 7, (CK_UTF8CHAR_PTR) "1234", 4));
	say("Login wrong PIN", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "9999", 4));
	say("Logout not logged in", p->C_Logout(s));
	say("InitPIN NULL", p->C_InitPIN(s, NULL, 4));
	say("InitPIN not SO", p->C_InitPIN(s, (CK_UTF8CHAR_PTR) "1234", 4));
	say("SetPIN NULL", p->C_SetPIN(s, NULL, 4, (CK_UTF8CHAR_PTR) "1234", 4));
	say("SetPIN bad handle", p->C_SetPIN(bogus, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR) "5678", 4));
	say("GenerateRandom NULL", p->C_GenerateRandom(s, NULL, 16));
	say("GenerateRandom bad handle", p->C_GenerateRandom(bogus, buf, 16));
	say("SeedRandom NULL", p->C_SeedRandom(s, NULL, 16));
	say("DigestInit NULL", p->C_DigestInit(s, NULL));
	say("Digest not initialised", p->C_Digest(s, buf, 4, buf, &n));
	say("DigestInit", p->C_DigestInit(s, &sha));
	say("DigestInit again", p->C_DigestInit(s, &sha));
	say("Digest NULL length", p->C_Digest(s, buf, 4, buf, NULL));
	say("DigestInit after NULL length", p->C_DigestInit(s, &sha)); /* the error ended the digest */
	n = 0;
	say("Digest length query", p->C_Digest(s, buf, 4, NULL, &n));
	printf("digest length=%lu\n", (unsigned long)n);
	n = 8;
	say("Digest short", p->C_Digest(s, buf, 4, buf, &n));
	printf("digest needed=%lu\n", (unsigned long)n);
	n = sizeof buf;
	say("Digest", p->C_Digest(s, buf, 4, buf, &n));
	say("DigestUpdate not initialised", p->C_DigestUpdate(s, buf, 4));
	say("DigestFinal not initialised", p->C_DigestFinal(s, buf, &n));
	say("WaitForSlotEvent NULL", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL));
	CK_SLOT_ID ev;
	say("WaitForSlotEvent", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
	say("SignInit", p->C_SignInit(s, &sha, 1));
	say("GetFunctionStatus", p->C_GetFunctionStatus(s));
	say("CancelFunction", p->C_CancelFunction(s));
	say("Finalize", p->C_Finalize(NULL));
	say("GetSessionInfo after finalize", p->C_GetSessionInfo(s, &ssi));
	return 0;
}

/* hold: open a session, print its handle, wait for a line on stdin, then
 * report whether the session still works. */
static int hold(void) {
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	printf("session=%lu\n", (unsigned long)s);
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	CK_SESSION_INFO info;
	say("GetSessionInfo", p->C_GetSessionInfo(s, &info));
	return 0;
}

/* use H: try another process's session handle. */
static int use(unsigned long h) {
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_INFO info;
	say("GetSessionInfo foreign", p->C_GetSessionInfo(h, &info));
	CK_BYTE buf[8];
	say("GenerateRandom foreign", p->C_GenerateRandom(h, buf, sizeof buf));
	say("CloseSession foreign", p->C_CloseSession(h));
	return 0;
}

/* restart: a call, then (after a line on stdin, once tepd restarted) the
 * same call, a C_Finalize/C_Initialize, and the call again. */
static int restart(void) {
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	CK_SESSION_INFO info;
	say("before", p->C_GetSessionInfo(s, &info));
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	say("after restart", p->C_GetSessionInfo(s, &info));
	say("Finalize", p->C_Finalize(NULL));
	say("Initialize", p->C_Initialize(NULL));
	say("GetSlotList", p->C_GetSlotList(CK_TRUE, slots, &n));
	s = open_session(1);
	say("again", p->C_GetSessionInfo(s, &info));
	return 0;
}

static void hex(const char *what, const CK_BYTE *b, CK_ULONG n) {
	printf("%s=", what);
	for (CK_ULONG i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

/* sign_p256: make a P-256 key pair in session s, sign 32 bytes of 0x5a
 * with CKM_ECDSA, and print the public point and the signature for the
 * test to verify. */
static void sign_p256(CK_SESSION_HANDLE s) {
	static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_VERIFY, &yes, sizeof yes}};
	CK_ATTRIBUTE priv[] = {{CKA_SIGN, &yes, sizeof yes}, {CKA_PRIVATE, &yes, sizeof yes}};
	CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0}, ecdsa = {CKM_ECDSA, NULL, 0};
	CK_OBJECT_HANDLE hpub, hpriv;
	must("GenerateKeyPair", p->C_GenerateKeyPair(s, &gen, pub, 2, priv, 2, &hpub, &hpriv));
	CK_BYTE point[128], digest[32], sig[128];
	CK_ATTRIBUTE get = {CKA_EC_POINT, point, sizeof point};
	must("GetAttributeValue", p->C_GetAttributeValue(s, hpub, &get, 1));
	memset(digest, 0x5a, sizeof digest);
	CK_ULONG n = sizeof sig;
	must("SignInit", p->C_SignInit(s, &ecdsa, hpriv));
	must("Sign", p->C_Sign(s, digest, sizeof digest, sig, &n));
	hex("ecpoint", point, get.ulValueLen);
	hex("signature", sig, n);
}

/* victim: log in and say so; after a line on stdin, log out and in again;
 * after another, draw random bytes under fire and check none is the
 * marker a forger would plant (32 bytes of 'A'), then report the session's
 * state: CKS_RW_USER_FUNCTIONS (3) unless someone logged the victim out. */
static int victim(void) {
	char line[16];
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	printf("session=%lu\n", (unsigned long)s);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	say("Logout", p->C_Logout(s));
	say("Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	if (!fgets(line, sizeof line, stdin))
		return 1;
	CK_BYTE buf[32], marker[32];
	memset(marker, 'A', sizeof marker);
	for (int i = 0; i < 100; i++) {
		must("GenerateRandom", p->C_GenerateRandom(s, buf, sizeof buf));
		if (!memcmp(buf, marker, sizeof buf))
			say("forged random accepted", CKR_GENERAL_ERROR);
	}
	sign_p256(s);
	CK_SESSION_INFO info;
	say("GetSessionInfo", p->C_GetSessionInfo(s, &info));
	printf("state=%lu\n", (unsigned long)info.state);
	say("Finalize", p->C_Finalize(NULL));
	return 0;
}

/* once: one call, for timing a call that has to wait for the port. */
static int once(void) {
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	say("Initialize", p->C_Initialize(NULL));
	say("GetSlotList", p->C_GetSlotList(CK_TRUE, slots, &n));
	return 0;
}

/* port_fds counts this process's descriptors open on the file at path. */
static int port_fds(const char *path) {
	char real[PATH_MAX], link[300], target[PATH_MAX];
	int n = 0;
	if (!realpath(path, real))
		return -1;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(link, target, sizeof target - 1);
		if (len > 0) {
			target[len] = 0;
			if (!strcmp(target, real))
				n++;
		}
	}
	closedir(d);
	return n;
}

/* fork: a child made by fork() without exec gets clean errors and does not
 * hold the port the parent opened; the parent keeps working. */
static int forked(void) {
	const char *port = getenv("TEC_COMM_PORT");
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	printf("parent_port_fds=%d\n", port_fds(port));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		CK_INFO info;
		alarm(5); /* a hang becomes SIGALRM */
		printf("child_port_fds=%d\n", port_fds(port));
		say("child_C_Initialize", p->C_Initialize(NULL));
		say("child_C_GetInfo", p->C_GetInfo(&info));
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("child_exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	CK_SESSION_INFO info;
	say("parent_C_GetSessionInfo", p->C_GetSessionInfo(s, &info));
	say("parent_C_Finalize", p->C_Finalize(NULL));
	return 0;
}

/* sign PIN: log in, make a P-256 session key pair, say "ready", then sign
 * until a line (or EOF) on stdin, and report how many signatures were
 * made and how many failed, with the first failure's code. */
static int sign(const char *pin) {
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
	CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pubT[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_TOKEN, &no, sizeof no}, {CKA_VERIFY, &yes, sizeof yes}};
	CK_ATTRIBUTE privT[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_SIGN, &yes, sizeof yes}, {CKA_PRIVATE, &yes, sizeof yes}};
	CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0}, ecdsa = {CKM_ECDSA, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	must("C_GenerateKeyPair", p->C_GenerateKeyPair(s, &gen, pubT, 3, privT, 3, &pub, &priv));
	CK_BYTE digest[32] = {1, 2, 3}, sig[128];
	long signs = 0, fails = 0;
	CK_RV first = CKR_OK;
	struct pollfd in = {0, POLLIN, 0};
	for (int ready = 0; poll(&in, 1, 0) == 0; ready = 1) {
		CK_ULONG n = sizeof sig;
		CK_RV rv = p->C_SignInit(s, &ecdsa, priv);
		if (rv == CKR_OK)
			rv = p->C_Sign(s, digest, sizeof digest, sig, &n);
		signs++;
		if (rv != CKR_OK && fails++ == 0)
			first = rv;
		if (!ready)
			say("ready", rv);
	}
	printf("signs=%ld\nfailures=%ld\n", signs, fails);
	say("first failure", first);
	return 0;
}

/* des3 PIN: finds the DES3 key labelled "secret-key" and, in each of
 * CKM_DES3_CBC_PAD, CKM_DES3_CBC and CKM_DES3_ECB, encrypts 1000 bytes
 * single-part and in parts, and decrypts them back; single DES is refused. */
static int des3(const char *pin) {
	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_DES3;
	CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}, {CKA_LABEL, "secret-key", 10}};
	CK_OBJECT_HANDLE key;
	CK_ULONG found = 0;
	must("C_FindObjectsInit", p->C_FindObjectsInit(s, find, 3));
	must("C_FindObjects", p->C_FindObjects(s, &key, 1, &found));
	must("C_FindObjectsFinal", p->C_FindObjectsFinal(s));
	if (found != 1) {
		say("found", CKR_GENERAL_ERROR);
		return 1;
	}
	CK_BYTE iv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[1000], ct[1100], parts[1100], pt[1100];
	for (int i = 0; i < (int)sizeof in; i++)
		in[i] = (CK_BYTE)(i * 7);
	CK_MECHANISM mechs[] = {{CKM_DES3_CBC_PAD, iv, sizeof iv}, {CKM_DES3_CBC, iv, sizeof iv}, {CKM_DES3_ECB, NULL, 0}};
	for (int m = 0; m < 3; m++) {
		CK_ULONG n = sizeof ct, a = sizeof parts, b, c = sizeof pt;
		must("C_EncryptInit", p->C_EncryptInit(s, &mechs[m], key));
		must("C_Encrypt", p->C_Encrypt(s, in, sizeof in, ct, &n));
		must("C_EncryptInit", p->C_EncryptInit(s, &mechs[m], key));
		must("C_EncryptUpdate", p->C_EncryptUpdate(s, in, 13, parts, &a));
		b = sizeof parts - a;
		must("C_EncryptUpdate", p->C_EncryptUpdate(s, in + 13, sizeof in - 13, parts + a, &b));
		a += b, b = sizeof parts - a;
		must("C_EncryptFinal", p->C_EncryptFinal(s, parts + a, &b));
		must("C_DecryptInit", p->C_DecryptInit(s, &mechs[m], key));
		must("C_Decrypt", p->C_Decrypt(s, ct, n, pt, &c));
		char what[32];
		printf("mech%d_len=%lu\n", m, (unsigned long)n);
		snprintf(what, sizeof what, "mech%d_parts", m);
		say(what, a + b == n && !memcmp(parts, ct, n) ? CKR_OK : CKR_GENERAL_ERROR);
		snprintf(what, sizeof what, "mech%d_round_trip", m);
		say(what, c == sizeof in && !memcmp(pt, in, c) && memcmp(ct, in, 16) ? CKR_OK : CKR_GENERAL_ERROR);
	}
	CK_MECHANISM des = {CKM_DES_CBC, iv, sizeof iv};
	say("single_des", p->C_EncryptInit(s, &des, key));
	return 0;
}

/* private PIN MARKER: as the user, a private token data object holding
 * MARKER, copied public (refused) and private; C_SetAttributeValue to
 * public (refused); an EC key pair whose public half's template says
 * CKA_PRIVATE, its label and id MARKER; then, in a public session, how
 * many objects labelled MARKER are found. */
static int private_copies(const char *pin, const char *marker) {
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ULONG n = strlen(marker);
	CK_ATTRIBUTE obj[] = {{CKA_CLASS, &data, sizeof data}, {CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1},
		{CKA_LABEL, (void *)marker, n}, {CKA_VALUE, (void *)marker, n}};
	CK_ATTRIBUTE public[] = {{CKA_PRIVATE, &no, 1}};
	CK_ATTRIBUTE private[] = {{CKA_PRIVATE, &yes, 1}};
	CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_VERIFY, &yes, 1},
		{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_LABEL, (void *)marker, n}, {CKA_ID, (void *)marker, n}};
	CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_SIGN, &yes, 1},
		{CKA_LABEL, (void *)marker, n}, {CKA_ID, (void *)marker, n}};
	CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_HANDLE h, c, pubh, privh, found[8];
	CK_BBOOL isPrivate = CK_FALSE;
	CK_ATTRIBUTE get[] = {{CKA_PRIVATE, &isPrivate, 1}};
	CK_ATTRIBUTE byLabel[] = {{CKA_LABEL, (void *)marker, n}};

	must("C_Initialize", p->C_Initialize(NULL));
	CK_SESSION_HANDLE s = open_session(1);
	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
	must("C_CreateObject", p->C_CreateObject(s, obj, 5, &h));
	say("C_CopyObject public", p->C_CopyObject(s, h, public, 1, &c));
	say("C_CopyObject private", p->C_CopyObject(s, h, private, 1, &c));
	say("C_SetAttributeValue public", p->C_SetAttributeValue(s, h, public, 1));
	must("C_GenerateKeyPair", p->C_GenerateKeyPair(s, &gen, pub, 6, priv, 5, &pubh, &privh));
	say("C_GetAttributeValue", p->C_GetAttributeValue(s, pubh, get, 1));
	printf("public key private=%d\n", isPrivate);
	must("C_Logout", p->C_Logout(s));
	must("C_FindObjectsInit", p->C_FindObjectsInit(s, byLabel, 1));
	must("C_FindObjects", p->C_FindObjects(s, found, 8, &n));
	must("C_FindObjectsFinal", p->C_FindObjectsFinal(s));
	printf("found public=%lu\n", (unsigned long)n);
	must("C_Finalize", p->C_Finalize(NULL));
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: p11client MODULE loop N|edge|hold|use H|restart|victim|once|fork|sign PIN|des3 PIN|private PIN MARKER\n");
		return 2;
	}
	load(argv[1]);
	const char *mode = argv[2];
	if (!strcmp(mode, "loop") && argc > 3)
		return loop(atol(argv[3]));
	if (!strcmp(mode, "edge"))
		return edge();
	if (!strcmp(mode, "hold"))
		return hold();
	if (!strcmp(mode, "use") && argc > 3)
		return use(strtoul(argv[3], NULL, 10));
	if (!strcmp(mode, "restart"))
		return restart();
	if (!strcmp(mode, "victim"))
		return victim();
	if (!strcmp(mode, "once"))
		return once();
	if (!strcmp(mode, "fork"))
		return forked();
	if (!strcmp(mode, "sign") && argc > 3)
		return sign(argv[3]);
	if (!strcmp(mode, "des3") && argc > 3)
		return des3(argv[3]);
	if (!strcmp(mode, "private") && argc > 4)
		return private_copies(argv[3], argv[4]);
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
