// Package credential makes and reads the credential blobs of TEP's
// enrolment (atelic): TPM2_MakeCredential done in software by the
// verifier, which holds no TPM, for an EK it knows by its public area and
// an AK it knows by its name (TPM 2.0 Part 1, 24 "Credential Protection";
// Part 3, 12.6).
//
// Blobs are in tpm2-tools' file format, so that tpm2_activatecredential
// reads what Make writes and Parse reads what tpm2_makecredential writes:
//
//	magic   uint32  0xBADCC0DE
//	version uint32  1
//	TPM2B_ID_OBJECT        (uint16 size, integrity HMAC and encrypted identity)
//	TPM2B_ENCRYPTED_SECRET (uint16 size, seed encrypted to the EK: RSA-OAEP or ECDH)
//
// All integers are big-endian. The package is stateless and safe for
// concurrent use.
package credential
