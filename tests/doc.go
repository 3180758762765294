// Package tests holds TEP's end-to-end tests: they build tepd and
// libtep_interface.so, start tepd on pseudo-terminals over the embedded
// TPM simulator or swtpm, and drive the module with real applications —
// pkcs11-tool, p11-kit, and a C program that loads it with dlopen.
package tests
