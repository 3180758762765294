package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tep.dev/tep/provisioning/luks"
	"tep.dev/tep/provisioning/pcrpolicy"
	"tep.dev/tep/provisioning/signer"
)

// runSign is the admin side: it needs no TPM.
func runSign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pcrFile := fs.String("pcr-values", "", "PCR values: what tpm2_pcrread -o FILE BANK:PCRS writes, or its YAML output")
	bank := fs.String("bank", "sha256", "PCR bank: sha256 or sha384")
	pcrList := fs.String("pcrs", "0,7,10", "PCRs to seal to")
	keyRef := fs.String("key", "", "the policy-signing private key: a PEM file or a pkcs11: URI")
	device := fs.String("device", "", "the LUKS partition on the device, such as /dev/sda3")
	epoch := fs.Uint64("epoch", 1, "revocation epoch: the policy holds while the device's revocation counter is at most this")
	format := fs.String("format", "tep", "output: tep (the device's YAML) or systemd (tpm2-pcr-signature.json for systemd-cryptenroll; RSA keys, sha256 bank)")
	outPath := fs.String("o", "", "output file")
	mapping := fs.String("mapping", "", "device-mapper name (default "+luks.DefaultMapping+")")
	mount := fs.String("mount", "", "mount point (default "+luks.DefaultMount+")")
	filesystem := fs.String("filesystem", "", "filesystem made on a new volume: ext4 (default) or none")
	pbkdf := fs.String("pbkdf", "", "cryptsetup --pbkdf (default: cryptsetup's)")
	pbkdfIter := fs.Int("pbkdf-force-iterations", 0, "cryptsetup --pbkdf-force-iterations (default: cryptsetup's benchmark)")
	pbkdfMem := fs.Int("pbkdf-memory", 0, "cryptsetup --pbkdf-memory in KiB (default: cryptsetup's)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *pcrFile == "" || *keyRef == "" || *outPath == "" || (*device == "" && *format == "tep") {
		return fmt.Errorf("%w: sign needs --pcr-values, --key, -o and (for --format tep) --device", errUsage)
	}
	pcrs, err := pcrpolicy.ParsePCRList(*pcrList)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	data, err := os.ReadFile(*pcrFile)
	if err != nil {
		return err
	}
	v, err := pcrpolicy.ParsePCRFile(data, pcrpolicy.Bank(*bank), pcrs)
	if err != nil {
		return fmt.Errorf("%s: %w", *pcrFile, err)
	}
	s, closer, err := signer.Load(*keyRef)
	if err != nil {
		return err
	}
	defer closer.Close()
	var out []byte
	switch *format {
	case "systemd":
		out, err = luks.SystemdSignature(v, s, nil)
	case "tep":
		var c *luks.Config
		c, err = luks.Sign(luks.SignOptions{Values: v, Signer: s, Device: *device, Epoch: *epoch,
			Mapping: *mapping, Mount: *mount, Filesystem: *filesystem,
			Cryptsetup: luks.FormatOptions{PBKDF: *pbkdf, PBKDFForceIterations: *pbkdfIter, PBKDFMemoryKiB: *pbkdfMem}})
		if err == nil {
			out, err = c.Encode()
		}
	default:
		return fmt.Errorf("%w: --format %q: want tep or systemd", errUsage, *format)
	}
	if err != nil {
		return err
	}
	if err := writeFile(*outPath, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *outPath)
	return nil
}

// writeFile writes b to path through a temporary file renamed into place.
func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tep-luks*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err = errors.Join(err, f.Chmod(0o644), f.Close()); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
