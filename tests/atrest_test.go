package tests

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNothingPrivateAtRest writes, through the module and pkcs11-tool, a
// private data object, a private key (imported, with its own label and
// id) and a second private data object that it deletes, each holding a
// random marker; then it copies the state directory while tepd runs, and
// again after it stopped, and finds no marker in any file. A public data
// object's marker is found: the scan sees what is there.
func TestNothingPrivateAtRest(t *testing.T) {
	d := startTepd(t, "sim")
	dir := t.TempDir()
	must := func(args ...string) {
		t.Helper()
		if out, err := d.tool(append([]string{"--login", "--pin", userPIN}, args...)...); err != nil {
			t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	mark := func(what string) string {
		b := make([]byte, 12)
		rand.Read(b)
		return "tep-marker-" + what + "-" + hex.EncodeToString(b)
	}
	value, label, deleted, public := mark("value"), mark("label"), mark("deleted"), mark("public")
	id := make([]byte, 16)
	rand.Read(id)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	must("--write-object", write("v", value), "--type", "data", "--label", "private-data", "--private")
	must("--write-object", write("p", public), "--type", "data", "--label", "public-data")
	must("--write-object", write("d", deleted), "--type", "data", "--label", "deleted-data", "--private")
	must("--delete-object", "--type", "data", "--label", "deleted-data")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	must("--write-object", write("k", string(der)), "--type", "privkey", "--label", label, "--id", hex.EncodeToString(id))

	scan := func(when, state string) {
		t.Helper()
		files := readFiles(t, state)
		for _, m := range [][]byte{[]byte(value), []byte(label), id, []byte(deleted)} {
			for name, b := range files {
				if bytes.Contains(b, m) {
					t.Errorf("%s: %q is readable in %s", when, m, name)
				}
			}
		}
		found := false
		for _, b := range files {
			found = found || bytes.Contains(b, []byte(public))
		}
		if !found {
			t.Errorf("%s: the public object's marker is in no file: the scan sees nothing", when)
		}
	}
	scan("tepd running", d.state)
	d.stop()
	scan("tepd stopped", d.state)
	for _, name := range []string{"tep.db", "tep.db-wal", "tep.db-shm"} {
		if fi, err := os.Stat(filepath.Join(d.state, name)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	d.start()
	if out, err := d.tool("--login", "--pin", userPIN, "--list-objects"); err != nil || !strings.Contains(out, label) {
		t.Errorf("after a restart the private key is not listed: %v\n%s", err, out)
	}
}

// readFiles reads every regular file under dir, at once (a copy of the
// state as it is).
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestPrivateStaysPrivate: through the module, a private data object
// cannot be copied public (C_CopyObject agrees with C_SetAttributeValue),
// and a key pair generated with CKA_PRIVATE=TRUE in its public half's
// template is private in both halves: a public session finds neither, and
// the pair's label and id, like the data object's value, are in no file
// of the state directory.
func TestPrivateStaysPrivate(t *testing.T) {
	d := startTepd(t, "sim")
	b := make([]byte, 12)
	rand.Read(b)
	marker := "tep-marker-" + hex.EncodeToString(b)
	out, err := withTimeout(d.clientCmd("private", userPIN, marker), time.Minute)
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	got := results(out)
	want := map[string]string{
		"C_CopyObject public": "0x10", "C_CopyObject private": "0x0", "C_SetAttributeValue public": "0x10",
		"C_GetAttributeValue": "0x0", "public key private": "1", "found public": "0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	d.stop()
	for name, b := range readFiles(t, d.state) {
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("the marker is readable in %s", name)
		}
	}
}
