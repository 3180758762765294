// Package tpm is TEP's one way to a TPM 2.0, shared by the server (tepd),
// attestation and provisioning.
//
// [Open] takes a spec naming the TPM:
//
//   - "sim": the go-tpm-tools simulator (Microsoft's reference TPM) built
//     into this binary. It is insecure and for development only: its
//     hierarchy seeds come from a 64-bit value stored in clear in the state
//     directory, and anyone who reads that file can recreate every key. Its
//     other state (NV, dictionary-attack settings, lockout auth) is not
//     kept: each Open starts from a freshly manufactured TPM.
//   - "swtpm:HOST:PORT": swtpm's TCP data port; its control port is PORT+1
//     and is used only to send TPM_Init when swtpm waits for one.
//   - "swtpm:unix:PATH": swtpm's data socket at PATH (swtpm socket
//     --server type=unixio,path=PATH), with its control socket at
//     PATH.ctrl. A Unix socket spares every command the loopback TCP
//     stack, which under load costs more than the command's transfer.
//   - a device path such as "/dev/tpmrm0" (the kernel's resource manager,
//     the production choice) or "/dev/tpm0".
//
// # Concurrency
//
// A *TPM is safe for concurrent use. It has one mutex, held for every
// command ([TPM.Send], including its retries) and for every operation made
// of several commands (Seal, Unseal, Sign, ...), so the package's operations
// are atomic and never hold more than two sessions and, besides the storage
// primary key and the loaded-key cache, one object: a TPM may have as few as
// three slots of each. Code
// outside this package may send its own commands by passing the *TPM as the
// transport.TPM of go-tpm's tpm2 commands, and should run sequences that
// load objects or start sessions inside [TPM.Do].
//
// The simulator is one global TPM per process: while a "sim" TPM is open, a
// second Open("sim", ...) in the same process fails instead of waiting.
//
// # Lifetime and handle hygiene
//
// Open starts the TPM if it needs TPM2_Startup, and, unless it talks
// through a resource manager (/dev/tpmrm*, where other processes' handles are
// not ours), flushes every transient object and every loaded or saved session
// left by an earlier user. It then creates the storage primary key (the
// TCG ECC P-256 SRK template under the owner hierarchy, whose auth must be
// empty) and keeps it loaded until [TPM.Close]. Keys used through
// [TPM.Sign], [TPM.SymCrypt] and the like stay loaded in a small cache, the
// least recently used flushed to make room (see [TPM.CacheSize]), and so
// does the session that authorizes the most recently used of them (as many
// as the TPM's TPM_PT_HR_LOADED_MIN less two); Close flushes them. Every
// other transient object and session the package creates is flushed before
// the call that created it returns. Callers that load objects through Send
// must flush them too; a cached key or session flushed behind the package's
// back is loaded or started again.
//
// # Errors
//
// TPM response codes are kept intact: errors.Is(err, tpm2.TPMRCLockout) and
// similar checks against go-tpm's TPMRC values work, whatever session or
// handle index the TPM set in the code. Wrong authorization values are
// reported as [ErrAuthFail] and dictionary-attack lockout as [ErrLockout];
// a key used against its attributes as [ErrUsage], a request the TPM or the
// package cannot serve as [ErrUnsupported], a ciphertext that does not
// decrypt as [ErrDecrypt].
//
// # Keys
//
// [TPM.CreateKey] and [TPM.ImportKey] return keys as [KeyBlob]s wrapped by
// the storage primary key; callers store them and pass them back with the
// key's authorization value to [TPM.Sign], [TPM.RSADecrypt],
// [TPM.SymCrypt] and [TPM.HMAC]. Every such call authorizes the key through
// a salted session bound to it, kept open for the key's next call with the
// same authorization value: starting one costs the TPM an ECDH with the
// storage key. TPM2_Sign and TPM2_EncryptDecrypt2 are marshalled by hand,
// go-tpm's reflection being slower than swtpm for 1 KiB of AES. [TPM.Algorithms] says which key
// types, sizes and modes the TPM offers.
//
// TDES keys ([KindTDES], where the TPM has TDES: swtpm does, the embedded
// simulator does not) are created only. go-tpm has no TDES members in its
// unions, so their template, their TPM2_TestParms and the reading of their
// public area are marshalled by hand (tdes.go); [TPM.SymCrypt] runs them
// with TDES's 8-byte block.
//
// Keys are noDA: their authorization values must be random and full size,
// since wrong ones are not counted. Sealed objects ([TPM.Seal]) are under
// dictionary-attack protection; [TPM.DictionaryAttackState] reads how many
// more failures the TPM takes before it locks out.
package tpm
