// Package provisioning names what TEP keeps in a device's TPM beside
// tepd's keys: the handles and NV indices that tep-provision, tep-config
// and tep-luks own (DESIGN.md, "TPM handles and NV indices this project
// owns"). Its subpackages do the work:
//
//   - device: tep-provision, and the device-side reads and uses of what it
//     wrote (the policy key in NV, the configuration AES key, the device
//     ECDH key, rollback counters);
//   - signer: the admin's signing key, from a PEM file or a PKCS#11 URI;
//   - the configuration blob, its extraction and its application
//     (tep-config), and LUKS sealing and unlock (tep-luks).
//
// The admin side of every format needs no TPM; the device side verifies
// before it decrypts and changes nothing until every check has passed.
package provisioning
