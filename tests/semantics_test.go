package tests

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// semanticsHost builds testdata/semantics.c once.
var semanticsHost = sync.OnceValues(func() (string, error) {
	path := filepath.Join(bin.dir, "semantics")
	out, err := exec.Command("gcc", "-Wall", "-Werror", "-I../c_headers", "-o", path, "testdata/semantics.c", "-ldl").CombinedOutput()
	if err != nil {
		return "", &buildError{err, out}
	}
	return path, nil
})

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

// runSemantics runs the semantics host in a mode against d.
func runSemantics(t *testing.T, d *tepd, env []string, args ...string) map[string]string {
	t.Helper()
	host, err := semanticsHost()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(host, append([]string{bin.module}, args...)...)
	cmd.Env = d.env(env...)
	out, err := withTimeout(cmd, 2*time.Minute)
	if err != nil {
		t.Fatalf("semantics %v: %v\n%s", args, err, out)
	}
	return results(out)
}

// TestOperationSemantics: the rules PKCS#11 v2.40 sets for operations in
// progress, through the module. Any error but CKR_BUFFER_TOO_SMALL ends
// the operation, the module's own argument errors included (C_Encrypt,
// C_Digest, ...); the single-part call may not follow an update nor an
// update or final part a length query of the single-part call (C_Digest,
// 5.2), and such a refusal (CKR_OPERATION_ACTIVE) leaves the operation;
// C_DigestKey of a key the TPM holds is CKR_KEY_INDIGESTIBLE; a bad
// session is reported before the mechanism.
func TestOperationSemantics(t *testing.T) {
	d := startTepd(t, "sim")
	got := runSemantics(t, d, nil, "semantics")
	for _, tc := range []struct{ call, want string }{
		{"Digest NULL length", "0x7"},
		{"DigestInit after a NULL length", "0x0"},
		{"Digest", "0x0"},
		{"DigestUpdate", "0x0"},
		{"Digest after DigestUpdate", "0x90"},
		{"DigestFinal after the refused Digest", "0x0"},
		{"Digest length query", "0x0"},
		{"DigestFinal after a Digest length query", "0x90"},
		{"DigestUpdate after a Digest length query", "0x90"},
		{"Digest after the refused DigestFinal", "0x0"},
		{"DigestKey", "0x67"},
		{"DigestInit after DigestKey", "0x0"},
		{"DigestFinal", "0x0"},
		{"GenerateKey bad session", "0xb3"},
		{"UnwrapKey bad session", "0xb3"},
		{"Encrypt NULL length", "0x7"},
		{"EncryptInit after a NULL length", "0x0"},
		{"EncryptUpdate", "0x0"},
		{"Encrypt after EncryptUpdate", "0x90"},
		{"EncryptFinal after the refused Encrypt", "0x0"},
		{"Encrypt length query", "0x0"},
		{"EncryptFinal after an Encrypt length query", "0x90"},
		{"Encrypt after the refused EncryptFinal", "0x0"},
		{"Encrypt partial block", "0x21"},
		{"EncryptInit after a server error", "0x0"},
		{"Encrypt", "0x0"},
		{"Sign NULL length", "0x7"},
		{"SignInit after a NULL length", "0x0"},
		{"SignUpdate", "0x0"},
		{"Sign after SignUpdate", "0x90"},
		{"SignFinal after the refused Sign", "0x0"},
		{"Sign length query", "0x0"},
		{"SignUpdate after a Sign length query", "0x90"},
		{"Sign after the refused SignUpdate", "0x0"},
		{"Verify NULL signature", "0x7"},
		{"VerifyInit after a NULL signature", "0x0"},
		{"VerifyUpdate", "0x0"},
		{"Verify after VerifyUpdate", "0x90"},
		{"VerifyFinal after the refused Verify", "0x0"},
	} {
		t.Run(tc.call, func(t *testing.T) {
			if got[tc.call] != tc.want {
				t.Errorf("%s = %s, want %s", tc.call, got[tc.call], tc.want)
			}
		})
	}
}

// TestEncryptBrokenByNoise: a long C_Encrypt whose frames another writer
// on the same tty garbles fails (the server never sees the whole message,
// the module waits out its call timeout), and the failure ends the
// operation on the server too: the next C_EncryptInit works.
func TestEncryptBrokenByNoise(t *testing.T) {
	d := startTepd(t, "sim")
	got := runSemantics(t, d, []string{"TEP_CALL_TIMEOUT=5s"}, "linkbreak", d.port)
	for _, tc := range []struct{ call, want string }{
		{"Encrypt under noise", "0x30"}, // CKR_DEVICE_ERROR: the link broke
		{"EncryptInit after the noise", "0x0"},
		{"Encrypt after the noise", "0x0"},
	} {
		if got[tc.call] != tc.want {
			t.Errorf("%s = %s, want %s", tc.call, got[tc.call], tc.want)
		}
	}
}

// TestPublicKeysWithoutLogin: a key whose template says CKA_PRIVATE=FALSE
// is made and used in a session without a login, a session object or a
// token object, and the token object still works after tepd restarts; a
// key with the default template needs the login.
func TestPublicKeysWithoutLogin(t *testing.T) {
	d := startTepd(t, "sim")
	got := runSemantics(t, d, nil, "public")
	for _, tc := range []struct{ call, want string }{
		{"GenerateKey private without login", "0x101"},
		{"GenerateKey public without login", "0x0"},
		{"EncryptInit public key", "0x0"},
		{"Encrypt public key", "0x0"},
		{"GenerateKeyPair public token key without login", "0x0"},
		{"GenerateKeyPair private without login", "0x101"},
	} {
		if got[tc.call] != tc.want {
			t.Errorf("%s = %s, want %s", tc.call, got[tc.call], tc.want)
		}
	}
	d.stop()
	d.start()
	got = runSemantics(t, d, nil, "publicuse")
	for _, tc := range []struct{ call, want string }{
		{"found", "1"},
		{"SignInit public key without login", "0x0"},
		{"Sign public key without login", "0x0"},
		{"signature length", "64"},
	} {
		if got[tc.call] != tc.want {
			t.Errorf("%s = %s, want %s", tc.call, got[tc.call], tc.want)
		}
	}
}
