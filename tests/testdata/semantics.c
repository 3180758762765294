/* PKCS#11 operation semantics through the module, for semantics_test.go:
 * "semantics" runs the table of cases on one session and prints
 * "case=0xRV" lines; "linkbreak" breaks a long C_Encrypt with noise from
 * another writer on the same tty, then starts a new encryption. */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"

static void must(const char *what, CK_RV rv) {
	if (rv != CKR_OK) {
		say(what, rv);
		exit(1);
	}
}

static CK_BBOOL yes = CK_TRUE;
static CK_OBJECT_HANDLE h_unused;

/* setup initialises, logs in on a R/W session of slot 1 and makes a
 * session AES-128 key. */
static CK_SESSION_HANDLE setup(CK_OBJECT_HANDLE *aes) {
	CK_SESSION_HANDLE s;
	must("C_Initialize", p->C_Initialize(NULL));
	must("C_OpenSession", p->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	must("C_Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	CK_ULONG len = 16;
	CK_ATTRIBUTE t[] = {{CKA_VALUE_LEN, &len, sizeof len}, {CKA_ENCRYPT, &yes, sizeof yes}};
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
	must("C_GenerateKey", p->C_GenerateKey(s, &gen, t, 2, aes));
	return s;
}

static int semantics(void) {
	CK_OBJECT_HANDLE aes, h;
	CK_SESSION_HANDLE s = setup(&aes);
	CK_MECHANISM sha = {CKM_SHA256, NULL, 0}, ecb = {CKM_AES_ECB, NULL, 0}, bogus = {0x7fffffff, NULL, 0};
	CK_BYTE data[32] = "0123456789abcdef0123456789abcdef", out[64];
	CK_ULONG n;

	/* An error the module finds itself ends the operation too. */
	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("Digest NULL length", p->C_Digest(s, data, 4, out, NULL));
	say("DigestInit after a NULL length", p->C_DigestInit(s, &sha));
	n = sizeof out;
	say("Digest", p->C_Digest(s, data, 4, out, &n));

	/* After an update, only updates and the final part. */
	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("DigestUpdate", p->C_DigestUpdate(s, data, 4));
	n = sizeof out;
	say("Digest after DigestUpdate", p->C_Digest(s, data, 4, out, &n));
	n = sizeof out;
	say("DigestFinal after the refused Digest", p->C_DigestFinal(s, out, &n));

	/* A length query of C_Digest leaves the operation to C_Digest. */
	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("Digest length query", p->C_Digest(s, data, 4, NULL, &n));
	n = sizeof out;
	say("DigestFinal after a Digest length query", p->C_DigestFinal(s, out, &n));
	say("DigestUpdate after a Digest length query", p->C_DigestUpdate(s, data, 4));
	n = sizeof out;
	say("Digest after the refused DigestFinal", p->C_Digest(s, data, 4, out, &n));

	/* A TPM key cannot be digested; the error ends the digest. */
	must("C_DigestInit", p->C_DigestInit(s, &sha));
	say("DigestKey", p->C_DigestKey(s, aes));
	say("DigestInit after DigestKey", p->C_DigestInit(s, &sha));
	n = sizeof out;
	say("DigestFinal", p->C_DigestFinal(s, out, &n));

	/* The session before the mechanism. */
	CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, sizeof yes}};
	say("GenerateKey bad session", p->C_GenerateKey(s + 1000, &bogus, t, 1, &h));
	say("UnwrapKey bad session", p->C_UnwrapKey(s + 1000, &bogus, aes, data, 16, t, 1, &h));

	/* The same rules for an encryption. */
	must("C_EncryptInit", p->C_EncryptInit(s, &ecb, aes));
	say("Encrypt NULL length", p->C_Encrypt(s, data, 16, out, NULL));
	say("EncryptInit after a NULL length", p->C_EncryptInit(s, &ecb, aes));
	n = sizeof out;
	say("EncryptUpdate", p->C_EncryptUpdate(s, data, 16, out, &n));
	n = sizeof out;
	say("Encrypt after EncryptUpdate", p->C_Encrypt(s, data, 16, out, &n));
	n = sizeof out;
	say("EncryptFinal after the refused Encrypt", p->C_EncryptFinal(s, out, &n));
	must("C_EncryptInit", p->C_EncryptInit(s, &ecb, aes));
	say("Encrypt length query", p->C_Encrypt(s, data, 16, NULL, &n));
	n = sizeof out;
	say("EncryptFinal after an Encrypt length query", p->C_EncryptFinal(s, out, &n));
	n = sizeof out;
	say("Encrypt after the refused EncryptFinal", p->C_Encrypt(s, data, 16, out, &n));
	must("C_EncryptInit", p->C_EncryptInit(s, &ecb, aes));
	n = sizeof out;
	say("Encrypt partial block", p->C_Encrypt(s, data, 5, out, &n));
	say("EncryptInit after a server error", p->C_EncryptInit(s, &ecb, aes));
	n = sizeof out;
	say("Encrypt", p->C_Encrypt(s, data, 16, out, &n));

	/* And for signatures and their verification, on a session EC key. */
	CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM ecgen = {CKM_EC_KEY_PAIR_GEN, NULL, 0}, ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
	CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_VERIFY, &yes, sizeof yes}};
	CK_ATTRIBUTE kt[] = {{CKA_SIGN, &yes, sizeof yes}};
	CK_OBJECT_HANDLE pub, priv;
	must("C_GenerateKeyPair", p->C_GenerateKeyPair(s, &ecgen, pt, 2, kt, 1, &pub, &priv));
	must("C_SignInit", p->C_SignInit(s, &ecdsa, priv));
	say("Sign NULL length", p->C_Sign(s, data, 4, out, NULL));
	say("SignInit after a NULL length", p->C_SignInit(s, &ecdsa, priv));
	say("SignUpdate", p->C_SignUpdate(s, data, 4));
	n = sizeof out;
	say("Sign after SignUpdate", p->C_Sign(s, data, 4, out, &n));
	n = sizeof out;
	say("SignFinal after the refused Sign", p->C_SignFinal(s, out, &n));
	must("C_SignInit", p->C_SignInit(s, &ecdsa, priv));
	say("Sign length query", p->C_Sign(s, data, 4, NULL, &n));
	say("SignUpdate after a Sign length query", p->C_SignUpdate(s, data, 4));
	n = sizeof out;
	say("Sign after the refused SignUpdate", p->C_Sign(s, data, 4, out, &n));
	CK_ULONG siglen = n;
	must("C_VerifyInit", p->C_VerifyInit(s, &ecdsa, pub));
	say("Verify NULL signature", p->C_Verify(s, data, 4, NULL, siglen));
	say("VerifyInit after a NULL signature", p->C_VerifyInit(s, &ecdsa, pub));
	say("VerifyUpdate", p->C_VerifyUpdate(s, data, 4));
	say("Verify after VerifyUpdate", p->C_Verify(s, data, 4, out, siglen));
	say("VerifyFinal after the refused Verify", p->C_VerifyFinal(s, out, siglen));
	must("C_Finalize", p->C_Finalize(NULL));
	return 0;
}

/* noise writes random bytes to the port until killed. */
static void noise(const char *port) {
	int fd = open(port, O_WRONLY | O_NOCTTY);
	if (fd < 0)
		_exit(3);
	unsigned char buf[4096];
	srand(getpid());
	for (;;) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = rand();
		if (write(fd, buf, 1 + rand() % sizeof buf) < 0)
			_exit(4);
	}
}

static int linkbreak(const char *port) {
	CK_OBJECT_HANDLE aes;
	CK_SESSION_HANDLE s = setup(&aes);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_ULONG size = 8 << 20, n = size;
	CK_BYTE *data = calloc(1, size), *out = malloc(size), small[16] = {0};
	must("C_EncryptInit", p->C_EncryptInit(s, &ecb, aes));
	pid_t writer = fork();
	if (writer == 0)
		noise(port);
	say("Encrypt under noise", p->C_Encrypt(s, data, size, out, &n));
	kill(writer, SIGKILL);
	waitpid(writer, NULL, 0);
	say("EncryptInit after the noise", p->C_EncryptInit(s, &ecb, aes));
	n = sizeof small;
	say("Encrypt after the noise", p->C_Encrypt(s, small, 16, out, &n));
	must("C_Finalize", p->C_Finalize(NULL));
	return 0;
}

/* public: in a session without a login, keys whose template says
 * CKA_PRIVATE=FALSE are made and used; a default (private) one is not. */
static int public(void) {
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE aes, pub, priv;
	CK_BBOOL no = CK_FALSE;
	CK_ULONG len = 16, n;
	CK_BYTE data[32] = {0}, out[128];
	CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0}, ecb = {CKM_AES_ECB, NULL, 0};
	CK_MECHANISM ecgen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	must("C_Initialize", p->C_Initialize(NULL));
	must("C_OpenSession", p->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CK_ATTRIBUTE priv_aes[] = {{CKA_VALUE_LEN, &len, sizeof len}};
	say("GenerateKey private without login", p->C_GenerateKey(s, &gen, priv_aes, 1, &aes));
	CK_ATTRIBUTE pub_aes[] = {{CKA_VALUE_LEN, &len, sizeof len}, {CKA_PRIVATE, &no, sizeof no}};
	say("GenerateKey public without login", p->C_GenerateKey(s, &gen, pub_aes, 2, &aes));
	say("EncryptInit public key", p->C_EncryptInit(s, &ecb, aes));
	n = sizeof out;
	say("Encrypt public key", p->C_Encrypt(s, data, 16, out, &n));
	CK_UTF8CHAR label[] = "pub-ec";
	CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, sizeof yes}, {CKA_EC_PARAMS, p256, sizeof p256}, {CKA_LABEL, label, sizeof label - 1}};
	CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, sizeof yes}, {CKA_PRIVATE, &no, sizeof no}, {CKA_SIGN, &yes, sizeof yes},
			     {CKA_LABEL, label, sizeof label - 1}};
	say("GenerateKeyPair public token key without login", p->C_GenerateKeyPair(s, &ecgen, pt, 3, kt, 4, &pub, &priv));
	CK_ATTRIBUTE dt[] = {{CKA_TOKEN, &yes, sizeof yes}, {CKA_EC_PARAMS, p256, sizeof p256}};
	CK_ATTRIBUTE dk[] = {{CKA_TOKEN, &yes, sizeof yes}, {CKA_SIGN, &yes, sizeof yes}};
	say("GenerateKeyPair private without login", p->C_GenerateKeyPair(s, &ecgen, dt, 2, dk, 2, &pub, &h_unused));
	must("C_Finalize", p->C_Finalize(NULL));
	return 0;
}

/* publicuse: another process, after a restart of tepd, finds the public
 * EC key and signs with it without a login. */
static int publicuse(void) {
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	CK_ULONG found = 0, n;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_UTF8CHAR label[] = "pub-ec";
	CK_BYTE digest[32] = {1}, sig[132];
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	must("C_Initialize", p->C_Initialize(NULL));
	must("C_OpenSession", p->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &s));
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, label, sizeof label - 1}};
	must("C_FindObjectsInit", p->C_FindObjectsInit(s, t, 2));
	must("C_FindObjects", p->C_FindObjects(s, &k, 1, &found));
	must("C_FindObjectsFinal", p->C_FindObjectsFinal(s));
	printf("found=%lu\n", (unsigned long)found);
	if (found != 1)
		return 1;
	say("SignInit public key without login", p->C_SignInit(s, &ecdsa, k));
	n = sizeof sig;
	say("Sign public key without login", p->C_Sign(s, digest, sizeof digest, sig, &n));
	printf("signature length=%lu\n", (unsigned long)n);
	must("C_Finalize", p->C_Finalize(NULL));
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: semantics MODULE semantics|public|publicuse|linkbreak PORT\n");
		return 2;
	}
	load(argv[1]);
	if (!strcmp(argv[2], "semantics"))
		return semantics();
	if (!strcmp(argv[2], "public"))
		return public();
	if (!strcmp(argv[2], "publicuse"))
		return publicuse();
	if (!strcmp(argv[2], "linkbreak") && argc > 3)
		return linkbreak(argv[3]);
	fprintf(stderr, "unknown mode %s\n", argv[2]);
	return 2;
}
