package device

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// maxPEM bounds a policy key file: a P-384 public key in PEM is under
// 250 bytes.
const maxPEM = 16 << 10

// ReadPolicyKeyFile reads a PEM "PUBLIC KEY" (SubjectPublicKeyInfo, as
// `openssl ec -pubout` writes it) holding an ECDSA P-256 or P-384 key.
func ReadPolicyKeyFile(path string) (*ecdsa.PublicKey, error) {
	b, err := readBounded(path, maxPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the policy key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("reading the policy key %s: no PEM PUBLIC KEY block (make one with `openssl ec -in priv.pem -pubout`)", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the policy key %s: %w", path, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || checkPolicyCurve(pub) != nil {
		return nil, fmt.Errorf("reading the policy key %s: a %T, not an ECDSA P-256 or P-384 key", path, k)
	}
	return pub, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// ReadAESKey reads a raw AES key, 16 or 32 bytes (as `tpm2_getrandom -o
// key.bin 32` or `head -c 32 /dev/urandom` makes it), from the file path,
// or from stdin when path is "-". The caller zeroes the key after use.
// warning is not empty when the file is readable by its group or others:
// the key is the device's configuration secret.
func ReadAESKey(path string, stdin io.Reader) (key []byte, warning string, err error) {
	r := stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("reading the AES key: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o044 != 0 {
			warning = fmt.Sprintf("the AES key file %s is readable by others (mode %04o): keep it 0600, and off the device after provisioning (--shred)", path, fi.Mode().Perm())
		}
		r, name = f, path
	}
	// One byte more than the largest key, to tell a longer file.
	buf := make([]byte, 33)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		clear(buf)
		return nil, "", fmt.Errorf("reading the AES key from %s: %w", name, err)
	}
	if n != 16 && n != 32 {
		clear(buf)
		what := fmt.Sprintf("%d bytes", n)
		if n == len(buf) {
			what = "more than 32 bytes"
		}
		return nil, "", fmt.Errorf("the AES key in %s has %s: want 16 (AES-128) or 32 (AES-256) raw bytes", name, what)
	}
	return buf[:n], warning, nil
}

// Shred overwrites the regular file at path with random bytes, syncs it
// and removes it. It refuses a symbolic link or anything but a regular
// file. Overwriting reaches the blocks the file has now, not copies that
// a journaling or copy-on-write file system, a snapshot or an SSD's wear
// levelling kept: keep key files on a tmpfs, or never on the device.
func Shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("shredding %s: %w", path, err)
	}
	err = overwrite(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		return fmt.Errorf("shredding %s: %w", path, err)
	}
	return nil
}

func overwrite(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	buf := make([]byte, 4096)
	for left := fi.Size(); left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := rand.Read(buf[:n]); err != nil {
			return err
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return f.Sync()
}
