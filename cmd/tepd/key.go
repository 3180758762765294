package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tep.dev/tep/channel"
	"tep.dev/tep/internal/cli"
	"tep.dev/tep/tpm"
)

// keyFile holds the channel's static key in the state directory, sealed
// by the TPM: a copy of the directory alone does not yield it.
const keyFile = "channel-key.json"

// sealedKey is keyFile's contents. Public is there for people and for
// the check that the unsealed key is the one the file claims.
type sealedKey struct {
	Public        string `json:"public"`
	SealedPublic  []byte `json:"sealed_public"`
	SealedPrivate []byte `json:"sealed_private"`
}

// channelKey loads the state directory's static key, making and storing
// one if there is none (a state directory from before the channel has
// none). created says which.
func channelKey(t *tpm.TPM, state string) (key *channel.StaticKey, created bool, err error) {
	path := filepath.Join(state, keyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err = createChannelKey(t, path)
		return key, err == nil, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the channel key: %w", err)
	}
	var f sealedKey
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, false, fmt.Errorf("reading the channel key %s: %w", path, err)
	}
	priv, err := t.Unseal(tpm.Sealed{Public: f.SealedPublic, Private: f.SealedPrivate}, nil)
	if err != nil {
		return nil, false, fmt.Errorf("unsealing the channel key %s (was the state directory made with another TPM?): %w", path, err)
	}
	defer clear(priv)
	key = new(channel.StaticKey)
	if err := key.UnmarshalBinary(priv); err != nil {
		return nil, false, fmt.Errorf("channel key %s: %w", path, err)
	}
	if key.Public().String() != f.Public {
		return nil, false, fmt.Errorf("channel key %s: the sealed key is %s, the file says %s", path, key.Public(), f.Public)
	}
	return key, false, nil
}

// createChannelKey makes a static key, seals it without dictionary-attack
// protection (it has no PIN to guess, and tepd must start during a
// lockout) and writes it to path, mode 0600, refusing to replace a file.
func createChannelKey(t *tpm.TPM, path string) (*channel.StaticKey, error) {
	key, err := channel.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	priv, _ := key.MarshalBinary()
	defer clear(priv)
	s, err := t.SealNoDA(priv)
	if err != nil {
		return nil, fmt.Errorf("sealing the channel key: %w", err)
	}
	b, err := json.MarshalIndent(sealedKey{Public: key.Public().String(), SealedPublic: s.Public, SealedPrivate: s.Private}, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing the channel key: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// A hard link, unlike a rename, fails if path appeared meanwhile.
		err = os.Link(tmp, path)
	}
	os.Remove(tmp)
	if err != nil {
		return nil, fmt.Errorf("writing the channel key: %w", err)
	}
	return key, nil
}

// pinHint tells a person how to pin key on a guest.
func pinHint(w io.Writer, key channel.PublicKey) {
	fmt.Fprintf(w, "channel key: %s (fingerprint %s)\npin it on each guest: TEP_SERVER_KEY=%s\n", key, key.Fingerprint(), key)
}

// runKey is `tepd key`: it prints the state directory's channel key.
func runKey(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	fs := flag.NewFlagSet("key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory")
	tpmSpec := fs.String("tpm", "", "TPM: sim, swtpm:HOST:PORT, swtpm:unix:PATH or a device path")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" || *tpmSpec == "" {
		return errors.New("key needs --state and --tpm")
	}
	if _, err := os.Stat(filepath.Join(*state, keyFile)); err != nil {
		return fmt.Errorf("no channel key in %s (tepd init or tepd serve makes one): %w", *state, err)
	}
	pub, err := checkedKey(*state, *tpmSpec)
	var inUse *stateInUseError
	if errors.As(err, &inUse) {
		// tepd serve holds the state and the TPM's objects of it: print
		// the key the file names, which serve checked when it started.
		if pub, err = fileKey(*state); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "tepd key: tepd is running on this state; the key is the one its file names, which tepd serve unsealed and checked at its start")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{
			"public_key": pub.String(), "fingerprint": pub.Fingerprint(),
			"public_key_hex": fmt.Sprintf("%x", pub[:]), "env": "TEP_SERVER_KEY=" + pub.String(),
		})
	}
	pinHint(stdout, pub)
	return nil
}

// checkedKey unseals the state directory's channel key, which also proves
// that the file and the TPM belong together, and returns its public half.
func checkedKey(state, tpmSpec string) (channel.PublicKey, error) {
	lock, err := lockState(state)
	if err != nil {
		return channel.PublicKey{}, err
	}
	defer lock.Release()
	t, err := tpm.Open(tpmSpec, state)
	if err != nil {
		return channel.PublicKey{}, fmt.Errorf("opening TPM %s: %w", tpmSpec, err)
	}
	defer t.Close()
	key, _, err := channelKey(t, state)
	if err != nil {
		return channel.PublicKey{}, err
	}
	return key.Public(), nil
}

// fileKey reads the public key that the state directory's key file names.
func fileKey(state string) (channel.PublicKey, error) {
	path := filepath.Join(state, keyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return channel.PublicKey{}, fmt.Errorf("reading the channel key: %w", err)
	}
	var f sealedKey
	if err := json.Unmarshal(b, &f); err != nil {
		return channel.PublicKey{}, fmt.Errorf("reading the channel key %s: %w", path, err)
	}
	pub, err := channel.ParsePublicKey(f.Public)
	if err != nil {
		return channel.PublicKey{}, fmt.Errorf("channel key %s: %w", path, err)
	}
	return pub, nil
}
