package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSigns signs a digest with s and verifies it with s's public key.
func checkSigns(t *testing.T, s crypto.Signer, opts crypto.SignerOpts) {
	t.Helper()
	var digest []byte
	switch opts.HashFunc() {
	case crypto.SHA384:
		d := sha512.Sum384([]byte("tep"))
		digest = d[:]
	default:
		d := sha256.Sum256([]byte("tep"))
		digest = d[:]
	}
	sig, err := s.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Error("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		var err error
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			err = rsa.VerifyPSS(pub, opts.HashFunc(), digest, sig, pss)
		} else {
			err = rsa.VerifyPKCS1v15(pub, opts.HashFunc(), digest, sig)
		}
		if err != nil {
			t.Errorf("RSA signature does not verify: %v", err)
		}
	default:
		t.Fatalf("public key %T", pub)
	}
}

func TestLoadPEM(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	for name, path := range map[string]string{
		"pkcs8": writePEM(t, "PRIVATE KEY", pkcs8),
		"sec1":  writePEM(t, "EC PRIVATE KEY", sec1),
		"pkcs1": writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)),
	} {
		t.Run(name, func(t *testing.T) {
			s, c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			checkSigns(t, s, crypto.SHA384)
		})
	}
}

func TestLoadPEMRefuses(t *testing.T) {
	pub, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(&pub.PublicKey)
	for name, c := range map[string]struct{ path, want string }{
		"missing":   {filepath.Join(t.TempDir(), "nope.pem"), "no such file"},
		"public":    {writePEM(t, "PUBLIC KEY", spki), "no PEM private key"},
		"encrypted": {writePEM(t, "ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		"garbage":   {writePEM(t, "PRIVATE KEY", []byte("garbage")), "parsing PRIVATE KEY"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Load(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load: %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestParseURI(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte("12 34\nignored\n"), 0o600)
	u, err := ParseURI("pkcs11:token=My%20Token;object=sign;id=%01%02;type=private?module-path=/lib/m.so&pin-source=file:" + pinFile + "&vendor-x=1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "My Token" || u.Object != "sign" || string(u.ID) != "\x01\x02" || u.ModulePath != "/lib/m.so" || u.PIN != "12 34" || !u.HasPIN {
		t.Errorf("parsed %+v", u)
	}
	for _, bad := range []string{
		"pkcs12:token=a",
		"pkcs11:token=a;object=k",                       // no module
		"pkcs11:token=a?module-path=/m.so",              // no key
		"pkcs11:objet=k?module-path=/m.so",              // misspelled
		"pkcs11:object=k;type=public?module-path=/m.so", // not a private key
		"pkcs11:object=%zz?module-path=/m.so",           // bad escape
		"pkcs11:object=k;slot-id=x?module-path=/m.so",   // bad slot
		"pkcs11:object=k?module-path=/m.so&pin-source=/nonexistent/pin",
	} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) accepted", bad)
		}
	}
}

// softHSM makes a SoftHSM token in a directory of the test's with keys
// made by pkcs11-tool, and returns the module path.
func softHSM(t *testing.T) string {
	t.Helper()
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	if module == "" {
		t.Fatal("libsofthsm2.so not found: scripts/deps.sh installs softhsm2")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+dir+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("softhsm2-util", "--init-token", "--free", "--label", "admin", "--so-pin", "5678", "--pin", "1234")
	for _, k := range [][2]string{{"EC:secp384r1", "p384"}, {"EC:prime256v1", "p256"}, {"rsa:2048", "rsa"}} {
		run("pkcs11-tool", "--module", module, "--token-label", "admin", "--login", "--pin", "1234",
			"--keypairgen", "--key-type", k[0], "--label", k[1])
	}
	return module
}

func TestLoadPKCS11(t *testing.T) {
	module := softHSM(t)
	uri := func(object, extra string) string {
		return "pkcs11:token=admin;object=" + object + "?module-path=" + module + extra
	}
	for _, c := range []struct {
		object string
		opts   crypto.SignerOpts
	}{
		{"p384", crypto.SHA384},
		{"p256", crypto.SHA256},
		{"rsa", crypto.SHA256},
		{"rsa", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
	} {
		s, closer, err := Load(uri(c.object, "&pin-value=1234"))
		if err != nil {
			t.Fatalf("%s: %v", c.object, err)
		}
		checkSigns(t, s, c.opts)
		closer.Close()
		if _, err := s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); err == nil {
			t.Errorf("%s: a closed signer signed", c.object)
		}
	}

	for name, c := range map[string]struct{ ref, want string }{
		"wrong PIN":     {uri("p384", "&pin-value=0000"), "C_Login"},
		"no PIN":        {uri("p384", ""), "after login"},
		"no such key":   {uri("nope", "&pin-value=1234"), "no private key"},
		"no such token": {"pkcs11:token=other;object=p384?module-path=" + module, "no token matches"},
		"no module":     {"pkcs11:object=p384?module-path=/nonexistent.so", "cannot load module"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Load(c.ref)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load: %v, want an error with %q", err, c.want)
			}
		})
	}
}

// TestTwoSignersOneModule: closing one signer leaves another of the same
// module working (C_Finalize is per process).
func TestTwoSignersOneModule(t *testing.T) {
	module := softHSM(t)
	ref := func(object string) string {
		return "pkcs11:token=admin;object=" + object + "?module-path=" + module + "&pin-value=1234"
	}
	a, ca, err := Load(ref("p384"))
	if err != nil {
		t.Fatal(err)
	}
	b, cb, err := Load(ref("p256"))
	if err != nil {
		t.Fatal(err)
	}
	ca.Close()
	checkSigns(t, b, crypto.SHA256)
	cb.Close()
	if _, err := a.Sign(rand.Reader, make([]byte, 48), crypto.SHA384); err == nil {
		t.Error("a closed signer signed")
	}
	// The module was unloaded with the last signer: it loads again.
	c, cc, err := Load(ref("p384"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	checkSigns(t, c, crypto.SHA384)
}
