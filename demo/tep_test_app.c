/*
 * tep_test_app: the TEP demo. It walks through the calls a guest
 * application makes — slots, token, login, an RSA key pair made in the
 * TPM, signing and verifying, randomness, the data object, digests and
 * AES — and prints each call with its return value. It exits non-zero at
 * the first failure.
 *
 * Usage: tep_test_app [USER_PIN]   (the port comes from TEC_COMM_PORT)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11.h"

static const char *data_label = "TEP data object";
static const char *data_value = "This is my data object";

static CK_RV check(const char *fn, CK_RV rv) {
	printf("Return value of %s: %#lx\n", fn, (unsigned long)rv);
	if (rv != CKR_OK) {
		fprintf(stderr, "%s failed with %#lx\n", fn, (unsigned long)rv);
		exit(1);
	}
	return rv;
}

#define CALL(fn, ...) (printf("Calling %s\n", #fn), check(#fn, fn(__VA_ARGS__)))

static void hex(const char *what, const CK_BYTE *p, CK_ULONG n) {
	printf("%s:", what);
	for (CK_ULONG i = 0; i < n; i++)
		printf(" %02x", p[i]);
	printf("\n");
}

static CK_SLOT_ID select_slot(void) {
	CK_ULONG n = 0;
	CALL(C_GetSlotList, CK_TRUE, NULL, &n);
	printf("SlotCount = %lu\n", (unsigned long)n);
	CK_SLOT_ID *slots = calloc(n, sizeof *slots);
	CALL(C_GetSlotList, CK_TRUE, slots, &n);
	CK_MECHANISM_INFO mi;
	CALL(C_GetMechanismInfo, slots[0], CKM_RSA_PKCS_KEY_PAIR_GEN, &mi);
	printf("RSA key sizes: %lu to %lu bits\n", (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
	CALL(C_GetMechanismInfo, slots[0], CKM_AES_CBC_PAD, &mi);
	CK_SLOT_ID slot = slots[0];
	printf("selected slot: %lu\n", (unsigned long)slot);
	free(slots);
	CK_TOKEN_INFO ti;
	CALL(C_GetTokenInfo, slot, &ti);
	if (ti.flags & CKF_TOKEN_INITIALIZED)
		printf("Token already initialized: %.32s\n", (const char *)ti.label);
	return slot;
}

static CK_SESSION_HANDLE open_and_login(CK_SLOT_ID slot, const char *pin) {
	CK_SESSION_HANDLE s;
	CALL(C_OpenSession, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	CALL(C_Login, s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	return s;
}

static void rsa_part(CK_SESSION_HANDLE s) {
	CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ULONG bits = 2048;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_VERIFY, &yes, sizeof yes}, {CKA_TOKEN, &no, sizeof no}};
	CK_ATTRIBUTE priv_tmpl[] = {{CKA_SIGN, &yes, sizeof yes}, {CKA_TOKEN, &no, sizeof no}};
	CK_OBJECT_HANDLE pub, priv;
	printf("Generating keypair....\n");
	CALL(C_GenerateKeyPair, s, &gen, pub_tmpl, 3, priv_tmpl, 2, &pub, &priv);

	CK_ATTRIBUTE attrs[] = {{CKA_MODULUS, NULL, 0}, {CKA_PUBLIC_EXPONENT, NULL, 0}};
	CALL(C_GetAttributeValue, s, pub, attrs, 2);
	attrs[0].pValue = malloc(attrs[0].ulValueLen);
	attrs[1].pValue = malloc(attrs[1].ulValueLen);
	CALL(C_GetAttributeValue, s, pub, attrs, 2);
	printf("Public Key data: Modulus bits: %lu\n", (unsigned long)attrs[0].ulValueLen * 8);
	hex("Modulus", attrs[0].pValue, attrs[0].ulValueLen);
	hex("Public Exponent", attrs[1].pValue, attrs[1].ulValueLen);
	free(attrs[0].pValue);
	free(attrs[1].pValue);

	CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_BYTE msg[] = "A message for the TPM to sign";
	CK_BYTE sig[512];
	CK_ULONG sig_len = 0;
	CALL(C_SignInit, s, &mech, priv);
	CALL(C_Sign, s, msg, sizeof msg - 1, NULL, &sig_len);
	CALL(C_Sign, s, msg, sizeof msg - 1, sig, &sig_len);
	printf("Message was successfully signed with private key!\n");
	CALL(C_VerifyInit, s, &mech, pub);
	CALL(C_Verify, s, msg, sizeof msg - 1, sig, sig_len);
	printf("Message was successfully verified with public key!\n");

	CK_BYTE seed[] = "some entropy from the guest";
	CK_BYTE rnd[32];
	CALL(C_SeedRandom, s, seed, sizeof seed - 1);
	CALL(C_GenerateRandom, s, rnd, sizeof rnd);
	hex("Random number generated successfully", rnd, sizeof rnd);
}

static CK_ULONG find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *found) {
	CK_ULONG count = 0;
	CALL(C_FindObjectsInit, s, tmpl, n);
	CALL(C_FindObjects, s, found, 1, &count);
	CALL(C_FindObjectsFinal, s);
	return count;
}

static void data_part(CK_SESSION_HANDLE s) {
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)data_label, strlen(data_label)}};
	CK_OBJECT_HANDLE obj;
	CK_ULONG count = find(s, tmpl, 2, &obj);
	printf("data objects count %lu found\n", (unsigned long)count);
	if (count == 0) {
		CK_ATTRIBUTE create[] = {{CKA_CLASS, &cls, sizeof cls},
		                         {CKA_TOKEN, &yes, sizeof yes},
		                         {CKA_LABEL, (void *)data_label, strlen(data_label)},
		                         {CKA_VALUE, (void *)data_value, strlen(data_value)}};
		printf("creating it, so that the demo can run again\n");
		CALL(C_CreateObject, s, create, 4, &obj);
	}
	char value[256] = {0};
	CK_ATTRIBUTE get = {CKA_VALUE, value, sizeof value - 1};
	CALL(C_GetAttributeValue, s, obj, &get, 1);
	printf("%.*s\n", (int)get.ulValueLen, value);
	CALL(C_DestroyObject, s, obj);

	CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
	CK_BYTE digest[32];
	CK_ULONG dlen = sizeof digest;
	CALL(C_DigestInit, s, &sha);
	CALL(C_Digest, s, (CK_BYTE_PTR)value, get.ulValueLen, digest, &dlen);
	hex("digest", digest, dlen);
}

static void aes_part(CK_SESSION_HANDLE s) {
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}};
	CK_OBJECT_HANDLE key;
	printf("Get AES Key object....\n");
	CK_ULONG count = find(s, tmpl, 2, &key);
	printf("AES object count %lu found\n", (unsigned long)count);
	if (count == 0) {
		fprintf(stderr, "no AES key on the token: was it made with tepd init?\n");
		exit(1);
	}
	CK_BYTE iv[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	CK_MECHANISM mech = {CKM_AES_CBC_PAD, iv, sizeof iv};
	CK_BYTE plain[100], enc[128], dec[128];
	for (size_t i = 0; i < sizeof plain; i++)
		plain[i] = (CK_BYTE)(i * 3);
	CK_ULONG elen = sizeof enc, dlen = sizeof dec;

	printf("AES Encrypt ....\n");
	CALL(C_EncryptInit, s, &mech, key);
	CALL(C_Encrypt, s, plain, sizeof plain, enc, &elen);
	printf("AES Decrypt ....\n");
	CALL(C_DecryptInit, s, &mech, key);
	CALL(C_Decrypt, s, enc, elen, dec, &dlen);
	if (dlen != sizeof plain || memcmp(dec, plain, dlen) != 0) {
		fprintf(stderr, "decrypted data differs\n");
		exit(1);
	}
	printf("Message was successfully decrypted!\n");

	printf("AES Encrypt using Update & Final....\n");
	CK_ULONG n1 = sizeof enc, n2, n3;
	CALL(C_EncryptInit, s, &mech, key);
	CALL(C_EncryptUpdate, s, plain, 40, enc, &n1);
	n2 = sizeof enc - n1;
	CALL(C_EncryptUpdate, s, plain + 40, 60, enc + n1, &n2);
	n3 = sizeof enc - n1 - n2;
	CALL(C_EncryptFinal, s, enc + n1 + n2, &n3);
	elen = n1 + n2 + n3;
	n1 = sizeof dec;
	CALL(C_DecryptInit, s, &mech, key);
	CALL(C_DecryptUpdate, s, enc, 48, dec, &n1);
	n2 = sizeof dec - n1;
	CALL(C_DecryptUpdate, s, enc + 48, elen - 48, dec + n1, &n2);
	n3 = sizeof dec - n1 - n2;
	CALL(C_DecryptFinal, s, dec + n1 + n2, &n3);
	if (n1 + n2 + n3 != sizeof plain || memcmp(dec, plain, sizeof plain) != 0) {
		fprintf(stderr, "decrypted data differs\n");
		exit(1);
	}
	printf("Message was successfully decrypted using Update & Final calls!\n");
}

int main(int argc, char **argv) {
	const char *pin = argc > 1 ? argv[1] : "1234";
	const char *port = getenv("TEC_COMM_PORT");
	printf("Selected port is %s\n", port ? port : "/dev/ttyS4 (default)");
	CALL(C_Initialize, NULL);
	CK_SLOT_ID slot = select_slot();
	CK_SESSION_HANDLE s = open_and_login(slot, pin);
	rsa_part(s);
	CALL(C_CloseSession, s);

	printf("Starting the data object, digest and AES part\n");
	s = open_and_login(slot, pin);
	data_part(s);
	aes_part(s);
	CALL(C_CloseSession, s);
	CALL(C_Finalize, NULL);
	printf("tep_test_app: all calls succeeded\n");
	return 0;
}
